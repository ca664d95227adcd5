#include "clients/cli/bot.hpp"

#include <simdjson.h>
#include <toml++/toml.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_set>

#include "clients/cli/ca_file_option.hpp"
#include "clients/lib/http_client.hpp"
#include "protocol/codec.hpp"

namespace muster::cli {

namespace dom = simdjson::dom;
using protocol::append_json_string;

namespace {

// The post's key as an Idempotency-Key: itself when short, else a stable 64-bit FNV-1a digest.
std::string idempotency_key_of(const std::string& post_key) {
  if (post_key.size() <= 120) return "bot:" + post_key;
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : post_key) h = (h ^ c) * 1099511628211ull;
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "bot#";
  for (int i = 0; i < 16; ++i, h >>= 4) out.push_back(hex[h & 15]);
  return out;
}

std::atomic<bool> stop_requested{false};
extern "C" void on_stop_signal(int) {
  stop_requested = true;
}

// The element at a dotted path ("user.handle"), if any.
std::optional<dom::element> at_path(dom::element root, std::string_view path) {
  if (path.empty()) return root;
  std::string pointer;
  for (char c : path) pointer += c == '.' ? '/' : c;
  dom::element e;
  if (root.at_pointer("/" + pointer).get(e) || e.is_null()) return std::nullopt;
  return e;
}

// A field's value as text: strings as they are, numbers and booleans printed.
std::optional<std::string> text_of(dom::element e) {
  std::string_view s;
  if (!e.get_string().get(s)) return std::string(s);
  if (e.is_int64() || e.is_uint64() || e.is_double() || e.is_bool()) return simdjson::minify(e);
  return std::nullopt;
}

std::string xml_decode(std::string_view s) {
  if (s.starts_with("<![CDATA[") && s.ends_with("]]>"))
    return std::string(s.substr(9, s.size() - 12));
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    auto semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out += s[i];
      continue;
    }
    auto ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp")
      out += '&';
    else if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else if (ent.starts_with('#')) {
      bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
      auto digits = ent.substr(hex ? 2 : 1);
      unsigned long cp = 0;
      auto [ptr, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc{} || ptr != digits.data() + digits.size() || cp == 0 || cp > 0x10FFFF ||
          (cp >= 0xD800 && cp <= 0xDFFF)) {
        out.append(s.substr(i, semi - i + 1));  // not a character: kept as written
        i = semi;
        continue;
      }
      // UTF-8 encode the code point.
      if (cp < 0x80)
        out += static_cast<char>(cp);
      else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

// The text of the first <tag ...>text</tag> inside `xml`, decoded; "" when absent.
std::string xml_text(std::string_view xml, std::string_view tag) {
  auto open = xml.find("<" + std::string(tag));
  while (open != std::string_view::npos) {
    auto end = open + 1 + tag.size();
    if (end >= xml.size()) return {};  // the document ends inside the tag name
    auto after = xml[end];
    if (after == '>' || after == ' ' || after == '/') break;
    open = xml.find("<" + std::string(tag), open + 1);
  }
  if (open == std::string_view::npos) return {};
  auto gt = xml.find('>', open);
  if (gt == std::string_view::npos || xml[gt - 1] == '/') return {};
  auto close = xml.find("</" + std::string(tag) + ">", gt);
  if (close == std::string_view::npos) return {};
  auto inner = xml.substr(gt + 1, close - gt - 1);
  while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.front())))
    inner.remove_prefix(1);
  while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.back())))
    inner.remove_suffix(1);
  return xml_decode(inner);
}

// href of the entry's alternate link (or of its first link).
std::string atom_link(std::string_view entry) {
  std::string first;
  for (auto at = entry.find("<link"); at != std::string_view::npos;
       at = entry.find("<link", at + 1)) {
    auto end = entry.find('>', at);
    if (end == std::string_view::npos) break;
    auto tag = entry.substr(at, end - at);
    auto h = tag.find("href=\"");
    if (h == std::string_view::npos) continue;
    auto href = xml_decode(tag.substr(h + 6, tag.find('"', h + 6) - h - 6));
    if (tag.find("rel=\"alternate\"") != std::string_view::npos) return href;
    if (tag.find("rel=") == std::string_view::npos && first.empty()) first = href;
  }
  return first;
}

}  // namespace

field_map field_map::defaults() {
  field_map m;
  m.fields = {{"id", "id"},
              {"source", "source"},
              {"url", "url"},
              {"author", "author"},
              {"text", "text"},
              {"severity", "severity"},
              {"dedup_key", "dedup_key"},
              {"tags", "tags"},
              {"reach", "metrics.reach"},
              {"engagement", "metrics.engagement"},
              {"occurred_at", "occurred_at"}};
  return m;
}

void field_map::load(const std::string& file) {
  toml::table t;
  try {
    t = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    throw std::runtime_error(file + ":" + std::to_string(e.source().begin.line) + ": " +
                             std::string(e.description()));
  }
  for (auto&& [k, v] : t) {
    std::string section(k.str());
    auto* table = v.as_table();
    if (!table || (section != "map" && section != "feed"))
      throw std::runtime_error(file + ": unknown section [" + section + "] (use [map] and [feed])");
    for (auto&& [key, value] : *table) {
      std::string name(key.str());
      auto s = value.value<std::string>();
      if (!s) throw std::runtime_error(file + ": " + section + "." + name + " must be a string");
      if (section == "feed") {
        if (name != "items") throw std::runtime_error(file + ": unknown key feed." + name);
        items = *s;
      } else {
        if (!fields.count(name))
          throw std::runtime_error(file + ": unknown key map." + name +
                                   " (id source url author text severity dedup_key tags reach "
                                   "engagement occurred_at)");
        fields[name] = *s;
      }
    }
  }
}

std::optional<std::uint64_t> parse_count(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  std::uint64_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        scale = 1000;
        break;
      case 'm':
      case 'M':
        scale = 1000000;
        break;
      case 'b':
      case 'B':
        scale = 1000000000;
        break;
      default:
        break;
    }
    if (scale > 1) text.remove_suffix(1);
  }
  auto point = text.find('.');
  auto whole_part = text.substr(0, point);
  auto fraction = point == std::string_view::npos ? std::string_view() : text.substr(point + 1);
  if (whole_part.empty() || (point != std::string_view::npos && fraction.empty())) return {};
  std::uint64_t whole = 0;
  auto r = std::from_chars(whole_part.data(), whole_part.data() + whole_part.size(), whole);
  if (r.ec != std::errc{} || r.ptr != whole_part.data() + whole_part.size()) return {};
  if (whole > UINT64_MAX / scale) return {};
  std::uint64_t n = whole * scale, digit_scale = scale;
  for (char c : fraction) {
    if (c < '0' || c > '9') return {};
    digit_scale /= 10;  // digits below one unit are dropped: 2.45k is 2450, 1.2345k 1234
    n += static_cast<std::uint64_t>(c - '0') * digit_scale;
  }
  return n;
}

namespace {

// Whether a text that failed to parse is the start of a JSON object or array cut short: it
// ends inside a string, or with brackets still open.
bool truncated_json(std::string_view text) {
  auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || (text[start] != '{' && text[start] != '[')) return false;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (auto c : text.substr(start)) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth <= 0) return false;  // closed (or over-closed): not a truncation
    }
  }
  return in_string || depth > 0;
}

const char* kind_of(dom::element e) {
  switch (e.type()) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::NULL_VALUE:
      return "null";
    case dom::element_type::BOOL:
      return "a boolean";
    default:
      return "a number";
  }
}

}  // namespace

mapped_post map_post(std::string_view post_json, const field_map& m) {
  mapped_post out;
  dom::parser parser;
  dom::element post;
  if (auto err = parser.parse(post_json.data(), post_json.size()).get(post)) {
    out.error = truncated_json(post_json)
                    ? "truncated JSON (the post ends before its object is closed)"
                    : std::string("not valid JSON (") + simdjson::error_message(err) + ")";
    return out;
  }
  if (!post.is_object()) {
    out.error = std::string("not a JSON object (") + kind_of(post) + ")";
    return out;
  }
  auto value = [&](const std::string& field) -> std::optional<dom::element> {
    auto it = m.fields.find(field);
    if (it == m.fields.end() || it->second.empty() || it->second[0] == '=') return std::nullopt;
    return at_path(post, it->second);
  };
  auto text = [&](const std::string& field) -> std::optional<std::string> {
    auto it = m.fields.find(field);
    if (it != m.fields.end() && !it->second.empty() && it->second[0] == '=')
      return it->second.substr(1);  // a literal
    if (auto e = value(field)) return text_of(*e);
    return std::nullopt;
  };
  std::string body = "{";
  bool first = true;
  auto add = [&](std::string_view key, const std::string& v) {
    if (!first) body += ',';
    first = false;
    append_json_string(body, key);
    body += ':';
    append_json_string(body, v);
  };
  auto url = text("url");
  if (!url || url->empty()) {
    out.error = "no url (map.url = \"" + m.fields.at("url") + "\")";
    return out;
  }
  add("source", text("source").value_or("social"));
  add("url", *url);
  for (const char* f : {"author", "text", "severity", "dedup_key", "occurred_at"})
    if (auto v = text(f); v && !v->empty()) add(f, *v);
  if (auto tags = value("tags")) {
    dom::array arr;
    if (!tags->get_array().get(arr)) {
      body += first ? "" : ",";
      first = false;
      body += "\"tags\":[";
      bool f2 = true;
      for (auto t : arr) {
        std::string_view s;
        if (t.get_string().get(s) || s.empty()) continue;
        if (!f2) body += ',';
        f2 = false;
        append_json_string(body, s);
      }
      body += ']';
    }
  }
  std::string metrics;
  for (const char* f : {"reach", "engagement"}) {
    auto e = value(f);
    if (!e) continue;
    std::optional<std::uint64_t> n;
    std::uint64_t u = 0;
    double d = 0;
    std::string_view s;
    if (!e->get_uint64().get(u))
      n = u;
    else if (!e->get_double().get(d) && d >= 0 && d < 1.8e19)
      n = static_cast<std::uint64_t>(d + 0.5);
    else if (!e->get_string().get(s))
      n = parse_count(s);
    if (!n) {  // never sent as 0: a reach that cannot be read is the post's problem
      out.error = std::string(f) + " " + simdjson::minify(*e) +
                  " is not a count (use 12000, \"12k\" or \"2.4M\")";
      return out;
    }
    metrics += metrics.empty() ? "" : ",";
    metrics += "\"" + std::string(f) + "\":" + std::to_string(*n);
  }
  if (!metrics.empty()) body += ",\"metrics\":{" + metrics + "}";
  body += '}';
  out.body = std::move(body);
  // What the bot remembers: the post's own id, else its dedup key, else its URL.
  out.key = text("id").value_or("");
  if (out.key.empty()) out.key = text("dedup_key").value_or("");
  if (out.key.empty()) out.key = *url;
  return out;
}

std::vector<std::string> feed_posts(std::string_view doc, const std::string& items) {
  std::vector<std::string> out;
  auto start = doc.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && doc[start] == '<') {
    if (doc.find("<feed") == std::string_view::npos)
      throw std::runtime_error("not an Atom feed (no <feed> element)");
    for (auto at = doc.find("<entry"); at != std::string_view::npos;
         at = doc.find("<entry", at + 1)) {
      auto end = doc.find("</entry>", at);
      if (end == std::string_view::npos) break;
      auto entry = doc.substr(at, end - at);
      std::string text = xml_text(entry, "summary");
      if (text.empty()) text = xml_text(entry, "content");
      if (text.empty()) text = xml_text(entry, "title");
      std::string j = "{\"source\":\"news\"";
      auto add = [&](const char* k, const std::string& v) {
        if (v.empty()) return;
        j += ",\"";
        j += k;
        j += "\":";
        append_json_string(j, v);
      };
      add("id", xml_text(entry, "id"));
      add("url", atom_link(entry));
      add("title", xml_text(entry, "title"));
      add("text", text);
      add("author", xml_text(entry, "name"));  // <author><name>
      auto when = xml_text(entry, "published");
      add("occurred_at", when.empty() ? xml_text(entry, "updated") : when);
      out.push_back(j + "}");
    }
    return out;
  }
  dom::parser parser;
  dom::element root;
  if (parser.parse(doc.data(), doc.size()).get(root))
    throw std::runtime_error("feed is neither JSON nor Atom");
  auto list = at_path(root, items);
  dom::array arr;
  if (!list || list->get_array().get(arr))
    throw std::runtime_error(items.empty() ? "feed is not a JSON array (set [feed] items)"
                                           : "feed has no array at \"" + items + "\"");
  for (auto post : arr) out.push_back(simdjson::minify(post));
  return out;
}

void add_bot_options(CLI::App& app, bot_options& o) {
  app.add_option("--token", o.token, "A bot token (env MUSTER_TOKEN)");
  add_ca_file_option(app, o.tls);
  auto* in = app.add_option("--input", o.input, "JSON Lines of posts: a file, or - for stdin");
  auto* feed =
      app.add_option("--feed", o.feed, "Poll this http:// or https:// feed (JSON or Atom)");
  in->excludes(feed);
  app.add_option("--interval", o.interval_s, "Feed: seconds between polls")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  app.add_flag("--once", o.once, "Feed: poll once and exit");
  app.add_option("--map", o.map_file,
                 "TOML file: [map] field = \"path.in.post\" or \"=literal\"; "
                 "[feed] items = \"path.to.array\"");
  app.add_option("--state", o.state_file,
                 "File remembering the posts already sent (kept across restarts)");
  app.add_option("--max-attempts", o.max_attempts, "Attempts per post on 429/5xx/unreachable")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
}

int run_bot(const bot_options& o) {
  if (o.input.empty() && o.feed.empty()) {
    std::cerr << "muster bot: give --input FILE|- or --feed URL\n";
    return 2;
  }
  field_map map = field_map::defaults();
  try {
    if (!o.map_file.empty()) map.load(o.map_file);
  } catch (const std::exception& e) {
    std::cerr << "muster bot: " << e.what() << "\n";
    return 2;
  }
  std::unordered_set<std::string> sent;
  std::ofstream state;
  if (!o.state_file.empty()) {
    std::ifstream in(o.state_file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) sent.insert(line);
    state.open(o.state_file, std::ios::app);
    if (!state) {
      std::cerr << "muster bot: cannot write state file " << o.state_file << "\n";
      return 2;
    }
  }
  try {
    client::parse_http_url(o.server);  // a URL it cannot use is not worth retrying
  } catch (const client::client_error& e) {
    std::cerr << "muster bot: " << e.what() << "\n";
    return 2;
  }
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);

  std::optional<client::http_client> http_holder;
  try {
    http_holder.emplace(std::chrono::seconds(10), o.tls);
  } catch (const client::client_error& e) {
    std::cerr << "muster bot: " << e.what() << "\n";
    return 2;
  }
  auto& http = *http_holder;
  client::retry_policy policy;
  policy.max_attempts = o.max_attempts;
  std::string api = o.server;
  while (!api.empty() && api.back() == '/') api.pop_back();
  api += "/api/v1/alerts";
  struct {
    std::size_t read = 0, sent_new = 0, deduplicated = 0, skipped = 0, failed = 0, invalid = 0;
  } count;

  std::string refused_certificate;  // set when a server's TLS certificate was refused
  // `where`: "line 7" of the input, "3 of the feed".
  auto handle = [&](std::string_view post, const std::string& where) {
    ++count.read;
    auto m = map_post(post, map);
    if (!m.error.empty()) {
      ++count.invalid;
      std::cout << "invalid post " << where << ": " << m.error << "\n";
      return;
    }
    if (sent.count(m.key)) {
      ++count.skipped;
      std::cout << "skipped " << m.key << " (already sent)\n";
      return;
    }
    try {
      // The post's key, so that a retry the server already acted on is not acted on twice.
      auto r = client::post_with_retry(
          http, api, m.body, o.token, policy,
          [&](const std::string& s) { std::cout << "retry " << m.key << ": " << s << "\n"; },
          idempotency_key_of(m.key));
      if (r.status / 100 != 2) {
        ++count.failed;
        std::cout << "failed " << m.key << ": HTTP " << r.status << " " << r.body;
        if (r.body.empty() || r.body.back() != '\n') std::cout << "\n";
        return;
      }
      std::string id = "?";
      bool dup = false;
      dom::parser rp;
      dom::element reply;
      if (!rp.parse(r.body).get(reply)) {
        std::string_view v;
        if (!reply.at_pointer("/alert/id").get_string().get(v)) id = std::string(v);
        if (reply["deduplicated"].get_bool().get(dup)) dup = false;
      }
      (dup ? count.deduplicated : count.sent_new) += 1;
      std::cout << "sent " << m.key << " -> alert " << id << (dup ? " (deduplicated)" : " (new)")
                << "\n";
      sent.insert(m.key);
      if (state.is_open()) state << m.key << "\n" << std::flush;
    } catch (const client::certificate_refused& e) {
      ++count.failed;
      std::cout << "failed " << m.key << ": " << e.what() << "\n";
      refused_certificate = e.what();  // every further post would be refused alike
      stop_requested = true;
    } catch (const std::exception& e) {
      ++count.failed;
      std::cout << "failed " << m.key << ": " << e.what() << "\n";
    }
  };

  if (!o.input.empty()) {
    std::ifstream file;
    if (o.input != "-") {
      file.open(o.input);
      if (!file) {
        std::cerr << "muster bot: cannot read " << o.input << "\n";
        return 2;
      }
    }
    std::istream& in = o.input == "-" ? std::cin : file;
    std::size_t line_no = 0;
    for (std::string line; !stop_requested && std::getline(in, line);)
      if (++line_no, line.find_first_not_of(" \t\r") != std::string::npos)
        handle(line, "at line " + std::to_string(line_no));
  } else {
    while (!stop_requested) {
      try {
        auto r = http.request("GET", o.feed);
        if (r.status != 200) throw std::runtime_error("HTTP " + std::to_string(r.status));
        auto posts = feed_posts(r.body, map.items);
        for (std::size_t i = 0; i < posts.size(); ++i)
          handle(posts[i], std::to_string(i + 1) + " of the feed");
      } catch (const client::certificate_refused& e) {
        ++count.failed;
        std::cout << "feed " << o.feed << ": " << e.what() << "\n";
        refused_certificate = e.what();
        break;
      } catch (const std::exception& e) {
        std::cout << "feed " << o.feed << ": " << e.what() << "\n";
        if (o.once) {
          ++count.failed;
          break;
        }
      }
      if (o.once) break;
      for (auto end =
               std::chrono::steady_clock::now() + std::chrono::duration<double>(o.interval_s);
           !stop_requested && std::chrono::steady_clock::now() < end;)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::cout << "posts " << count.read << ": sent " << count.sent_new + count.deduplicated << " ("
            << count.sent_new << " new, " << count.deduplicated << " deduplicated), skipped "
            << count.skipped << ", failed " << count.failed << ", invalid " << count.invalid
            << "\n";
  if (!refused_certificate.empty())
    std::cerr << "muster bot: stopped: " << refused_certificate
              << " (trust a private CA with --ca-file or MUSTER_CA_FILE)\n";
  return count.failed || count.invalid ? 1 : 0;
}

}  // namespace muster::cli
