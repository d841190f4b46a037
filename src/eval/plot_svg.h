// Dependency-free SVG charts for reports: x/y charts (lines, scatter points, or both;
// linear or log axes; legend) and heatmaps (rows × columns with a colour bar).
//
//   plot::XyChart c;
//   c.title = "LongBench score vs KV budget";
//   c.x = plot::Axis("KV budget (tokens)", plot::Scale::kLog);
//   c.y = plot::Axis("score");
//   c.series.push_back(plot::line_series("vatp", budgets, scores));
//   VATP_RETURN_IF_ERROR(plot::write_svg(out_dir + "/score.svg", c));
//
// A scatter plot is an XyChart whose series use Mark::kPoints; `highlight` draws a
// series' points larger, outlined and on top (e.g. the first tokens of a prompt).
// Non-finite values, empty charts, mismatched lengths and values <= 0 on a log axis are
// errors (kInvalidArgument naming the series and index), never silently dropped.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace vatp::eval::plot {

enum class Scale { kLinear, kLog };  // kLog is base 10

struct Axis {
  Axis() = default;
  explicit Axis(std::string label_, Scale scale_ = Scale::kLinear)
      : label(std::move(label_)), scale(scale_) {}

  std::string label;
  Scale scale = Scale::kLinear;
  // Fixed range; by default the data's range (padded to tick values).
  std::optional<double> min;
  std::optional<double> max;
};

enum class Mark { kLine, kPoints, kLineAndPoints };

struct Series {
  std::string name;  // shown in the legend
  std::vector<double> x;
  std::vector<double> y;
  Mark mark = Mark::kLine;
  bool highlight = false;  // larger outlined points, drawn after the others
  std::string color;       // "#rrggbb"; empty picks the next palette colour
  // Optional per-point labels drawn next to the points (same length as x when set);
  // meant for a few highlighted points, not for thousands.
  std::vector<std::string> point_labels;
};

inline Series line_series(std::string name, std::vector<double> x, std::vector<double> y) {
  Series s;
  s.name = std::move(name);
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}
inline Series points_series(std::string name, std::vector<double> x, std::vector<double> y) {
  Series s = line_series(std::move(name), std::move(x), std::move(y));
  s.mark = Mark::kPoints;
  return s;
}

struct XyChart {
  std::string title;
  Axis x;
  Axis y;
  std::vector<Series> series;
  bool legend = true;
  int width = 760;
  int height = 460;
};

// A rows × cols grid of values (row-major), e.g. layers × KV heads.
struct Heatmap {
  std::string title;
  std::string x_label;      // along the columns
  std::string y_label;      // along the rows
  std::string value_label;  // beside the colour bar
  size_t rows = 0;
  size_t cols = 0;
  std::vector<double> values;          // rows * cols
  std::vector<std::string> row_names;  // optional; default "0", "1", ...
  std::vector<std::string> col_names;  // optional; default "0", "1", ...
  std::optional<double> vmin;          // colour scale range; default the data's
  std::optional<double> vmax;
  bool annotate = false;  // print each cell's value (for small grids)
  int cell_width = 0;     // 0 chooses from the grid size
  int cell_height = 0;
};

Result<std::string> render_svg(const XyChart& chart);
Result<std::string> render_svg(const Heatmap& chart);

Status write_svg(const std::string& path, const XyChart& chart);
Status write_svg(const std::string& path, const Heatmap& chart);

// Text made safe for SVG/XML character data and attribute values: & < > " ' escaped,
// control characters other than tab/newline and invalid UTF-8 replaced by U+FFFD.
std::string xml_escape(const std::string& text);

// The tick values the renderer uses for an axis spanning [lo, hi] (exposed for tests):
// "nice" 1/2/5 × 10^k steps on a linear axis, powers of ten on a log axis that spans
// at least one decade.
std::vector<double> axis_ticks(double lo, double hi, Scale scale);

}  // namespace vatp::eval::plot
