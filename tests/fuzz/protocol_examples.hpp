#pragma once
// The JSON examples of protocol/PROTOCOL.md, read from the document itself so that the fuzz
// targets' seeds follow the protocol as it is written (no copies that go stale).
#include <string>
#include <string_view>
#include <vector>

namespace muster::fuzz {

/// Every JSON document of a Markdown text: each document of a ```json block (one that starts
/// at the beginning of a line with `{` or `[`, up to the next one or the block's end, so both
/// one-per-line and indented documents count), and each `-d '<body>'` of a ```sh block (the
/// HTTP bodies of the curl examples). Elided examples (`…`) are included as written.
std::vector<std::string> json_examples(std::string_view markdown);

/// json_examples() of the file at `path`; empty if it cannot be read.
std::vector<std::string> json_examples_of_file(const std::string& path);

}  // namespace muster::fuzz
