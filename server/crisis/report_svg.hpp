#pragma once
// Inline SVG charts for the HTML report, drawn server-side so the page needs no script and makes
// no request: stacked bars over time, plain bars, and a cumulative step line. Pure functions;
// thread-safe. Every text given is escaped.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace muster::server::crisis::svg {

/// `s` escaped for HTML/XML text and attribute values (& < > " ').
std::string escape(std::string_view s);

/// One stacked layer: a name (for the legend), a fill colour, a value per bar.
struct layer {
  std::string name;
  std::string color;
  std::vector<std::uint64_t> values;
};
/// A marker above one bar, with its tooltip.
struct marker {
  std::size_t bar = 0;
  std::string label;
};

/// Stacked bars, one per label (labels under the first, middle and last bar only).
std::string stacked_bars(std::string_view title, const std::vector<std::string>& labels,
                         const std::vector<layer>& layers, const std::vector<marker>& markers);
/// One bar per label, with its value written above it.
std::string bars(std::string_view title, const std::vector<std::string>& labels,
                 const std::vector<std::uint64_t>& values, std::string_view color);
/// A rising step line through (x, y) points sorted by x, from (0, 0); x in ms, labelled in minutes.
std::string step_line(std::string_view title,
                      const std::vector<std::pair<std::int64_t, std::uint64_t>>& points);

}  // namespace muster::server::crisis::svg
