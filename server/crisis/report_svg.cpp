#include "server/crisis/report_svg.hpp"

#include <algorithm>
#include <cstdio>

namespace muster::server::crisis::svg {

namespace {

constexpr int width = 720, height = 220;
constexpr int left = 44, right = 12, top = 16, bottom = 30;
constexpr int plot_w = width - left - right, plot_h = height - top - bottom;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// The opening tag, the accessible name, and the frame with the y axis' two ticks.
std::string open(std::string_view title, std::uint64_t y_max) {
  std::string s = "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 " + std::to_string(width) + " " +
                  std::to_string(height) + "\" aria-label=\"" + escape(title) +
                  "\" xmlns=\"http://www.w3.org/2000/svg\"><title>" + escape(title) + "</title>";
  auto y0 = std::to_string(top + plot_h), x0 = std::to_string(left);
  s += "<line x1=\"" + x0 + "\" y1=\"" + y0 + "\" x2=\"" + std::to_string(left + plot_w) +
       "\" y2=\"" + y0 + "\" class=\"axis\"/>";
  s += "<line x1=\"" + x0 + "\" y1=\"" + std::to_string(top) + "\" x2=\"" + x0 + "\" y2=\"" + y0 +
       "\" class=\"axis\"/>";
  s += "<text x=\"" + std::to_string(left - 6) + "\" y=\"" + y0 + "\" class=\"tick end\">0</text>";
  s += "<text x=\"" + std::to_string(left - 6) + "\" y=\"" + std::to_string(top + 8) +
       "\" class=\"tick end\">" + std::to_string(y_max) + "</text>";
  return s;
}

std::string label_at(double x, std::string_view text) {
  return "<text x=\"" + num(x) + "\" y=\"" + std::to_string(height - 10) +
         "\" class=\"tick mid\">" + escape(text) + "</text>";
}

std::string rect(double x, double y, double w, double h, std::string_view fill,
                 std::string_view tip) {
  return "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" +
         num(h) + "\" fill=\"" + escape(fill) + "\"><title>" + escape(tip) + "</title></rect>";
}

}  // namespace

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string stacked_bars(std::string_view title, const std::vector<std::string>& labels,
                         const std::vector<layer>& layers, const std::vector<marker>& markers) {
  auto n = labels.size();
  std::vector<std::uint64_t> totals(n);
  for (const auto& l : layers)
    for (std::size_t i = 0; i < n && i < l.values.size(); ++i) totals[i] += l.values[i];
  auto y_max = std::max<std::uint64_t>(1, n ? *std::max_element(totals.begin(), totals.end()) : 1);
  auto s = open(title, y_max);
  double slot = n ? static_cast<double>(plot_w) / static_cast<double>(n) : plot_w;
  double scale = static_cast<double>(plot_h) / static_cast<double>(y_max);
  for (std::size_t i = 0; i < n; ++i) {
    // Bars at most 48 wide, centred in their slot (one bucket must not fill the chart).
    double bar = std::min(slot * 0.8, 48.0);
    double x = left + slot * static_cast<double>(i) + (slot - bar) / 2, y = top + plot_h;
    for (const auto& l : layers) {
      auto v = i < l.values.size() ? l.values[i] : 0;
      if (!v) continue;
      double h = static_cast<double>(v) * scale;
      y -= h;
      s += rect(x, y, bar, h, l.color, labels[i] + ": " + std::to_string(v) + " " + l.name);
    }
    if (i == 0 || i == n / 2 || i + 1 == n) s += label_at(x + bar / 2, labels[i]);
  }
  for (const auto& m : markers) {
    double x = left + slot * (static_cast<double>(std::min(m.bar, n ? n - 1 : 0)) + 0.5);
    s += "<path class=\"spike\" d=\"M" + num(x - 6) + " " + std::to_string(top - 2) + " L" +
         num(x + 6) + " " + std::to_string(top - 2) + " L" + num(x) + " " +
         std::to_string(top + 8) + " Z\"><title>" + escape(m.label) + "</title></path>";
  }
  return s + "</svg>";
}

std::string bars(std::string_view title, const std::vector<std::string>& labels,
                 const std::vector<std::uint64_t>& values, std::string_view color) {
  auto y_max = std::max<std::uint64_t>(
      1, values.empty() ? 1 : *std::max_element(values.begin(), values.end()));
  auto s = open(title, y_max);
  auto n = labels.size();
  double slot = n ? static_cast<double>(plot_w) / static_cast<double>(n) : plot_w;
  double scale = static_cast<double>(plot_h) / static_cast<double>(y_max);
  for (std::size_t i = 0; i < n; ++i) {
    auto v = i < values.size() ? values[i] : 0;
    double h = static_cast<double>(v) * scale, x = left + slot * static_cast<double>(i);
    s += rect(x + slot * 0.15, top + plot_h - h, slot * 0.7, h, color,
              labels[i] + ": " + std::to_string(v));
    s += "<text x=\"" + num(x + slot / 2) + "\" y=\"" + num(top + plot_h - h - 4) +
         "\" class=\"tick mid\">" + std::to_string(v) + "</text>";
    s += label_at(x + slot / 2, labels[i]);
  }
  return s + "</svg>";
}

std::string step_line(std::string_view title,
                      const std::vector<std::pair<std::int64_t, std::uint64_t>>& points) {
  std::int64_t x_max = 60'000;
  std::uint64_t y_max = 1;
  for (const auto& p : points) {
    x_max = std::max(x_max, p.first);
    y_max = std::max(y_max, p.second);
  }
  auto s = open(title, y_max);
  auto px = [&](std::int64_t x) {
    return left + static_cast<double>(plot_w) * static_cast<double>(x) / static_cast<double>(x_max);
  };
  auto py = [&](std::uint64_t y) {
    return top + plot_h -
           static_cast<double>(plot_h) * static_cast<double>(y) / static_cast<double>(y_max);
  };
  std::string d = "M" + num(px(0)) + " " + num(py(0));
  std::uint64_t last = 0;
  for (auto& [x, y] : points) {
    d += " L" + num(px(x)) + " " + num(py(last)) + " L" + num(px(x)) + " " + num(py(y));
    last = y;
  }
  d += " L" + num(px(x_max)) + " " + num(py(last));
  s += "<path class=\"curve\" d=\"" + d + "\"/>";
  s += label_at(left + 8, "0 min");
  s += label_at(left + plot_w - 20, num(static_cast<double>(x_max) / 60'000.0) + " min");
  return s + "</svg>";
}

}  // namespace muster::server::crisis::svg
