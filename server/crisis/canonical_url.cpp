#include "server/crisis/canonical_url.hpp"

#include <algorithm>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <vector>

namespace muster::server::crisis {
namespace {

/// One way a platform writes a post's path. `from` is matched segment by segment (empty segments
/// skipped): a literal (alternatives split by `|`, any case), `*` any one segment, `<class>` one
/// segment of that capture class (after an optional literal prefix such as `@`), `**` anything
/// after; a final `?name=<class>` also requires that query parameter. `to` is the canonical path
/// with the captures filled in, in order; when it has its own query the link's is dropped.
struct path_form {
  std::string_view from;
  std::string_view to;
};

/// One platform: the hosts its links use, the host of its keys ("": the link's own), the query
/// parameters that name a post (every other one is dropped) and its path forms, tried in order.
/// A path no form matches is kept as it is. The row with hosts {"*"} is for every other host,
/// and only when one of its forms matches; it must come last.
struct platform {
  std::string_view name;
  std::initializer_list<std::string_view> hosts;
  std::string_view host;
  std::initializer_list<std::string_view> kept;
  std::initializer_list<path_form> forms;
};

// PROTOCOL.md 15.4 lists this table; change both together.
const platform platforms[] = {
    // X ignores the user's case. /i/web/status/<id> names no user, so it cannot be matched to
    // the user's form offline and keys apart. Anything after the id is a view of the post.
    {"X",
     {"x.com", "www.x.com", "mobile.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com"},
     "x.com",
     {},
     {{"i/web/status/<n>/**", "/i/status/<n>"},
      {"<user>/status|statuses/<n>/**", "/<user>/status/<n>"}}},
    // /p/ opens reels and IGTV too; a comment (/p/<code>/c/<id>) stays apart.
    {"Instagram",
     {"instagram.com", "www.instagram.com", "instagr.am"},
     "www.instagram.com",
     {},
     {{"p|reel|reels|tv/<code>", "/p/<code>"}, {"*/p|reel/<code>", "/p/<code>"}}},
    {"Facebook",
     {"facebook.com", "www.facebook.com", "m.facebook.com", "mbasic.facebook.com",
      "web.facebook.com", "fb.com", "www.fb.com"},
     "www.facebook.com",
     {"fbid", "id", "story_fbid", "v"},
     {{"story.php", "/permalink.php"},
      {"photo", "/photo.php"},
      {"groups/<seg>/permalink/<n>", "/groups/<seg>/posts/<n>"}}},
    // vm.tiktok.com/<code> only redirects (not resolvable offline): generic rules.
    {"TikTok",
     {"tiktok.com", "www.tiktok.com", "m.tiktok.com"},
     "www.tiktok.com",
     {},
     {{"@<user>/video/<n>/**", "/@<user>/video/<n>"}}},
    // One video, whatever the player, playlist or start time.
    {"YouTube",
     {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com",
      "youtube-nocookie.com", "www.youtube-nocookie.com"},
     "www.youtube.com",
     {"list", "v"},
     {{"watch?v=<yt>", "/watch?v=<yt>"}, {"shorts|embed|live|v/<yt>/**", "/watch?v=<yt>"}}},
    {"YouTube short links",
     {"youtu.be"},
     "www.youtube.com",
     {"list", "v"},
     {{"<yt>", "/watch?v=<yt>"}}},
    // Post ids are global and redd.it/<id> names no subreddit, so posts are keyed by id; a
    // comment (old .../<slug>/<comment> or new .../comment/<comment>) is keyed apart.
    {"Reddit",
     {"reddit.com", "www.reddit.com", "old.reddit.com", "new.reddit.com", "np.reddit.com",
      "m.reddit.com", "i.reddit.com", "amp.reddit.com"},
     "www.reddit.com",
     {},
     {{"r|u|user/*/comments/<b36>/*/<b36>", "/comments/<b36>/_/<b36>"},
      {"r|u|user/*/comments/<b36>/**", "/comments/<b36>"},
      {"comments/<b36>/*/<b36>", "/comments/<b36>/_/<b36>"},
      {"comments/<b36>/**", "/comments/<b36>"},
      {"gallery/<b36>", "/comments/<b36>"}}},
    {"Reddit short links", {"redd.it"}, "www.reddit.com", {}, {{"<b36>", "/comments/<b36>"}}},
    {"LinkedIn",
     {"linkedin.com", "www.linkedin.com", "m.linkedin.com"},
     "www.linkedin.com",
     {},
     {}},
    {"Threads",
     {"threads.net", "www.threads.net", "threads.com", "www.threads.com"},
     "www.threads.net",
     {},
     {{"@<user>/post/<code>/**", "/@<user>/post/<code>"}}},
    // A handle and the DID behind it cannot be matched offline.
    {"Bluesky",
     {"bsky.app", "staging.bsky.app"},
     "bsky.app",
     {},
     {{"profile/<user>/post/<code>/**", "/profile/<user>/post/<code>"}}},
    // Mastodon and its kin: status ids are local to an instance, so each host keys its own.
    {"Fediverse",
     {"*"},
     "",
     {},
     {{"@<acct>/<n>", "/@<acct>/<n>"}, {"users/<acct>/statuses/<n>", "/@<acct>/<n>"}}},
};

/// What a `<class>` in a path form accepts: digits, letters if `letters`, and `extra`, between
/// `min` and `max` bytes; lower-cased where the platform ignores case.
struct capture_class {
  std::string_view name;
  bool letters;
  std::string_view extra;
  std::size_t min, max;
  bool any_case;
};

constexpr capture_class capture_classes[] = {
    {"n", false, "", 1, 30, false},                      // a numeric id
    {"yt", true, "_-", 11, 11, false},                   // a YouTube video id
    {"code", true, "_-", 1, 64, false},                  // a short code (case counts)
    {"b36", true, "", 1, 13, true},                      // a Reddit id
    {"user", true, "_.-:", 1, 128, true},                // a handle or DID, any case
    {"acct", true, "_.-@", 1, 128, false},               // user or user@domain
    {"seg", true, "_.-~%!$&'()*+,;=:@", 1, 256, false},  // any path segment
};

/// Parameters that only ever track a click, dropped from every link.
constexpr std::string_view tracking_params[] = {
    "fbclid", "gclid",    "gclsrc",  "dclid", "msclkid", "twclid", "ttclid", "yclid", "igshid",
    "igsh",   "mibextid", "ref_src", "si",    "mc_cid",  "mc_eid", "_ga",    "_gl"};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}
bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return lower(x) == lower(y); });
}
template <class List, class T>
bool listed(const List& list, const T& item) {
  return std::find(std::begin(list), std::end(list), item) != std::end(list);
}

/// Takes the next `sep`-separated piece off the front of `s`.
std::string_view pop(std::string_view& s, char sep) {
  auto end = s.find(sep);
  auto piece = s.substr(0, end);
  s = end == std::string_view::npos ? std::string_view{} : s.substr(end + 1);
  return piece;
}

bool tracking_param(std::string_view key) {
  auto k = lower(key);
  return k.starts_with("utm_") || listed(tracking_params, k);
}

/// A link cut into its parts; the fragment is gone.
struct url_parts {
  bool has_scheme = false;
  std::string scheme;      // lower-cased
  std::string host;        // lower-cased, everything between "://" and the first '/' or '?'
  std::string_view path;   // from the first '/', or empty
  std::string_view query;  // after the first '?', or empty
};

void split_path(url_parts& u, std::string_view rest) {
  auto q = rest.find('?');
  u.path = rest.substr(0, q);
  u.query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
}

url_parts split(std::string_view url) {
  auto hash = url.find('#');
  auto fragment = hash == std::string_view::npos ? std::string_view{} : url.substr(hash + 1);
  url = url.substr(0, hash);
  url_parts u;
  if (auto end = url.find("://"); end != std::string_view::npos) {
    u.has_scheme = true;
    u.scheme = lower(url.substr(0, end));
    url.remove_prefix(end + 3);
  }
  auto path_start = url.find_first_of("/?");
  u.host = lower(url.substr(0, path_start));
  split_path(u, path_start == std::string_view::npos ? std::string_view{} : url.substr(path_start));
  // A hash-bang route (twitter.com/#!/user/status/1) is the page, not a place on it.
  if (u.has_scheme && fragment.starts_with("!/") && u.path.size() <= 1 && u.query.empty())
    split_path(u, fragment.substr(1, fragment.find('#') - 1));
  return u;
}

std::string_view trimmed(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return path;
}

/// `?` and the parameters `keep` accepts (by name), sorted (their order does not make another
/// post); empty parameters are dropped; "" when none is left.
template <class Keep>
std::string query(std::string_view q, Keep keep) {
  std::vector<std::string_view> kept;
  while (!q.empty()) {
    auto kv = pop(q, '&');
    if (!kv.empty() && keep(kv.substr(0, kv.find('=')))) kept.push_back(kv);
  }
  std::sort(kept.begin(), kept.end());
  std::string out;
  for (auto kv : kept) (out += out.empty() ? '?' : '&') += kv;
  return out;
}

std::string generic(const url_parts& u) {
  std::string out = u.has_scheme ? u.scheme + "://" + u.host : u.host;
  out += trimmed(u.path);
  return out + query(u.query, [](std::string_view key) { return !tracking_param(key); });
}

std::optional<std::string> capture(std::string_view name, std::string_view text) {
  auto cls = std::find_if(std::begin(capture_classes), std::end(capture_classes),
                          [&](const capture_class& c) { return c.name == name; });
  if (cls == std::end(capture_classes) || text.size() < cls->min || text.size() > cls->max)
    return std::nullopt;
  for (char c : text) {
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool ok = (c >= '0' && c <= '9') || (letter && cls->letters) || listed(cls->extra, c);
    if (!ok) return std::nullopt;
  }
  return cls->any_case ? lower(text) : std::string(text);
}

/// Whether one path segment (or parameter value) fits one token of a form; adds its capture.
bool match_token(std::string_view token, std::string_view text, std::vector<std::string>& caps) {
  if (token == "*") return true;
  auto open = token.find('<');
  if (open == std::string_view::npos) {
    while (!token.empty())
      if (iequals(pop(token, '|'), text)) return true;
    return false;
  }
  auto prefix = token.substr(0, open);
  if (!text.starts_with(prefix)) return false;
  auto name = token.substr(open + 1, token.find('>', open) - open - 1);
  auto got = capture(name, text.substr(prefix.size()));
  if (got) caps.push_back(std::move(*got));
  return got.has_value();
}

/// `token` is `name=<class>`: the first parameter of that name must fit it.
bool match_param(std::string_view token, std::string_view q, std::vector<std::string>& caps) {
  auto name = pop(token, '=');
  while (!q.empty()) {
    auto value = pop(q, '&');
    if (pop(value, '=') == name) return match_token(token, value, caps);
  }
  return false;
}

bool match_path(std::string_view from, std::string_view path, std::vector<std::string>& caps) {
  while (!from.empty()) {
    auto token = pop(from, '/');
    if (token == "**") return true;
    std::string_view segment;
    while (segment.empty() && !path.empty()) segment = pop(path, '/');
    if (segment.empty() || !match_token(token, segment, caps)) return false;
  }
  return path.find_first_not_of('/') == std::string_view::npos;
}

std::string fill(std::string_view to, const std::vector<std::string>& caps) {
  std::string out;
  std::size_t next = 0;
  for (auto open = to.find('<'); open != std::string_view::npos; open = to.find('<')) {
    out += to.substr(0, open);
    if (next < caps.size()) out += caps[next++];
    auto close = to.find('>', open);
    to = close == std::string_view::npos ? std::string_view{} : to.substr(close + 1);
  }
  return out += to;
}

/// The canonical path (and query, if the form has one) of the first form that matches.
std::optional<std::string> unify(const platform& p, const url_parts& u) {
  for (const auto& form : p.forms) {
    std::vector<std::string> caps;
    auto path_part = form.from.substr(0, form.from.find('?'));
    auto param = form.from.substr(std::min(form.from.size(), path_part.size() + 1));
    if (match_path(path_part, u.path, caps) && (param.empty() || match_param(param, u.query, caps)))
      return fill(form.to, caps);
  }
  return std::nullopt;
}

const platform* find_platform(const std::string& host) {
  for (const auto& p : platforms)
    if (listed(p.hosts, host) || listed(p.hosts, "*")) return &p;
  return nullptr;
}

std::optional<std::string> on_platform(const url_parts& u) {
  if (u.host.empty() || (u.scheme != "http" && u.scheme != "https")) return std::nullopt;
  const platform* p = find_platform(u.host);
  if (!p) return std::nullopt;
  auto path = unify(*p, u);
  if (!path && listed(p->hosts, "*")) return std::nullopt;
  std::string out = "https://" + (p->host.empty() ? u.host : std::string(p->host));
  out += path ? *path : std::string(trimmed(u.path));
  if (path && path->find('?') != std::string::npos) return out;
  return out + query(u.query, [p](std::string_view key) { return listed(p->kept, key); });
}

}  // namespace

std::string canonical_url(std::string_view url) {
  auto u = split(url);
  if (auto on = on_platform(u)) return *on;
  return generic(u);
}

}  // namespace muster::server::crisis
