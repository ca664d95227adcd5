#include "tests/fuzz/protocol_examples.hpp"

#include <fstream>
#include <sstream>

namespace muster::fuzz {

namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The bodies of `-d '...'` / `--data '...'` in one shell block.
void curl_bodies(std::string_view block, std::vector<std::string>& out) {
  for (std::string_view flag : {"-d '", "--data '"}) {
    for (auto at = block.find(flag); at != std::string_view::npos; at = block.find(flag, at)) {
      at += flag.size();
      auto end = block.find('\'', at);
      if (end == std::string_view::npos) break;
      out.emplace_back(block.substr(at, end - at));
      at = end + 1;
    }
  }
}

}  // namespace

std::vector<std::string> json_examples(std::string_view markdown) {
  std::vector<std::string> out;
  enum { outside, json, sh, other } in = outside;
  std::string doc, shell;
  auto end_doc = [&] {
    if (!doc.empty()) out.push_back(std::move(doc));
    doc.clear();
  };
  for (std::size_t start = 0; start < markdown.size();) {
    auto nl = markdown.find('\n', start);
    if (nl == std::string_view::npos) nl = markdown.size();
    auto line = trimmed(markdown.substr(start, nl - start));
    start = nl + 1;
    if (line.starts_with("```")) {
      if (in == outside) {
        auto lang = line.substr(3);
        in = lang == "json" ? json : lang == "sh" || lang == "bash" ? sh : other;
        continue;
      }
      if (in == json) end_doc();
      if (in == sh) curl_bodies(shell, out);
      shell.clear();
      in = outside;
      continue;
    }
    if (in == json) {
      if (line.starts_with('{') || line.starts_with('[')) end_doc();
      if (!doc.empty()) doc += '\n';
      if (!doc.empty() || line.starts_with('{') || line.starts_with('[')) doc += line;
    } else if (in == sh) {
      shell += line;
      shell += '\n';
    }
  }
  end_doc();  // a block the document does not close
  return out;
}

std::vector<std::string> json_examples_of_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::ostringstream s;
  s << f.rdbuf();
  return json_examples(s.str());
}

}  // namespace muster::fuzz
