#include "eval/plot_svg.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>

#include "core/output_file.h"

namespace vatp::eval::plot {
namespace {

// Tableau 10, a palette whose neighbours stay distinguishable.
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

// Viridis sampled at 9 evenly spaced points (perceptually uniform, colour-blind safe).
constexpr unsigned char kViridis[9][3] = {{68, 1, 84},    {72, 40, 120},  {62, 73, 137},
                                          {49, 104, 142}, {38, 130, 142}, {31, 158, 137},
                                          {53, 183, 121}, {110, 206, 88}, {253, 231, 37}};

// Coordinates to one decimal: enough at screen resolution, keeps files small.
std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Tick and value labels: up to 4 significant digits, exponent form only when needed.
std::string number_label(double v) {
  if (v == 0) return "0";
  char buf[32];
  const double a = std::fabs(v);
  if (a >= 1e5 || a < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
    // "1e+06" -> "1e6", "1e-05" -> "1e-5".
    std::string s = buf;
    const size_t e = s.find('e');
    if (e != std::string::npos) {
      std::string mant = s.substr(0, e);
      std::string ex = s.substr(e + 1);
      bool neg = !ex.empty() && ex[0] == '-';
      if (!ex.empty() && (ex[0] == '+' || ex[0] == '-')) ex.erase(0, 1);
      while (ex.size() > 1 && ex[0] == '0') ex.erase(0, 1);
      s = mant + "e" + (neg ? "-" : "") + ex;
    }
    return s;
  }
  // %.4g writes 10000 as "1e+04"; whole numbers below 1e5 read better in full.
  if (a >= 1e4 && v == std::round(v)) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  }
  return buf;
}

bool valid_color(const std::string& c) {
  if (c.size() != 7 || c[0] != '#') return false;
  for (size_t i = 1; i < 7; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(c[i]))) return false;
  }
  return true;
}

std::string viridis(double t) {
  t = std::clamp(t, 0.0, 1.0) * 8.0;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  char buf[8];
  int rgb[3];
  for (int k = 0; k < 3; ++k) {
    rgb[k] = static_cast<int>(std::lround(kViridis[i][k] + f * (kViridis[i + 1][k] - kViridis[i][k])));
  }
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

// One axis after ranging: data value -> pixel.
struct Mapper {
  double lo = 0, hi = 1;  // in data units
  Scale scale = Scale::kLinear;
  double p0 = 0, p1 = 1;  // pixels for lo and hi
  double t(double v) const { return scale == Scale::kLog ? std::log10(v) : v; }
  double operator()(double v) const { return p0 + (t(v) - t(lo)) / (t(hi) - t(lo)) * (p1 - p0); }
};

double nice_step(double span, int target) {
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double m = r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10;
  return m * mag;
}

// The nearest of 1, 2, 5 x 10^k at or below (up = false) or at or above v > 0.
double snap_125(double v, bool up) {
  const double e = std::floor(std::log10(v));
  double best = up ? std::pow(10.0, e + 1) : std::pow(10.0, e);
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    const double c = m * std::pow(10.0, e);
    if (up && c >= v * (1 - 1e-9)) best = std::min(best, c);
    if (!up && c <= v * (1 + 1e-9)) best = std::max(best, c);
  }
  return best;
}

// The axis range: the fixed bounds if given, otherwise the data range widened to ticks.
Result<std::pair<double, double>> axis_range(const Axis& axis, double dlo, double dhi, const char* which) {
  double lo = axis.min.value_or(dlo);
  double hi = axis.max.value_or(dhi);
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    return invalid_argument(std::string(which) + " axis: range is not finite");
  }
  if (axis.scale == Scale::kLog && (lo <= 0 || hi <= 0)) {
    return invalid_argument(std::string(which) + " axis: log scale needs a positive range");
  }
  if (lo > hi)
    return invalid_argument(std::string(which) + " axis: min " + number_label(lo) + " > max " +
                            number_label(hi));
  if (axis.scale == Scale::kLog) {
    double llo = std::log10(lo), lhi = std::log10(hi);
    if (lhi - llo < 1e-12) {
      llo -= 0.5;
      lhi += 0.5;
    }
    // Whole decades, or 1/2/5 steps when the data spans less than two decades
    // (64..1024 becomes 50..2000, not 10..10000).
    const bool fine = lhi - llo < 2;
    if (!axis.min) llo = fine ? std::log10(snap_125(std::pow(10.0, llo), false)) : std::floor(llo + 1e-9);
    if (!axis.max) lhi = fine ? std::log10(snap_125(std::pow(10.0, lhi), true)) : std::ceil(lhi - 1e-9);
    if (lhi <= llo) lhi = llo + 1;
    return std::make_pair(std::pow(10.0, llo), std::pow(10.0, lhi));
  }
  if (hi - lo < 1e-300 + 1e-12 * std::max(std::fabs(lo), std::fabs(hi))) {
    const double pad = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = nice_step(hi - lo, 5);
  if (!axis.min) lo = std::floor(lo / step + 1e-9) * step;
  if (!axis.max) hi = std::ceil(hi / step - 1e-9) * step;
  return std::make_pair(lo, hi);
}

void append_text(std::string& out, double x, double y, const std::string& text, const char* anchor,
                 const std::string& extra = "") {
  out += "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"" + anchor + "\"" + extra + ">" +
         xml_escape(text) + "</text>\n";
}

std::string svg_open(int w, int h) {
  const std::string ws = std::to_string(w), hs = std::to_string(h);
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
         ws + "\" height=\"" + hs + "\" viewBox=\"0 0 " + ws + " " + hs +
         "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n<rect width=\"" + ws +
         "\" height=\"" + hs + "\" fill=\"white\"/>\n";
}

Status check_size(int w, int h) {
  if (w < 200 || h < 150 || w > 20000 || h > 20000) {
    return invalid_argument("chart size " + std::to_string(w) + "x" + std::to_string(h) +
                            " is outside 200x150 .. 20000x20000");
  }
  return Status::ok();
}

Status validate(const XyChart& c) {
  VATP_RETURN_IF_ERROR(check_size(c.width, c.height));
  if (c.series.empty()) return invalid_argument("chart '" + c.title + "' has no series");
  for (size_t s = 0; s < c.series.size(); ++s) {
    const Series& se = c.series[s];
    const std::string where = "chart '" + c.title + "', series '" + se.name + "'";
    if (se.x.size() != se.y.size()) {
      return invalid_argument(where + ": " + std::to_string(se.x.size()) + " x values but " +
                              std::to_string(se.y.size()) + " y values");
    }
    if (se.x.empty()) return invalid_argument(where + " has no points");
    if (!se.point_labels.empty() && se.point_labels.size() != se.x.size()) {
      return invalid_argument(where + ": " + std::to_string(se.point_labels.size()) + " point labels for " +
                              std::to_string(se.x.size()) + " points");
    }
    if (!se.color.empty() && !valid_color(se.color)) {
      return invalid_argument(where + ": colour '" + se.color + "' is not #rrggbb");
    }
    for (size_t i = 0; i < se.x.size(); ++i) {
      for (int a = 0; a < 2; ++a) {
        const double v = a == 0 ? se.x[i] : se.y[i];
        const char* an = a == 0 ? "x" : "y";
        if (!std::isfinite(v))
          return invalid_argument(where + ": " + an + "[" + std::to_string(i) + "] is not finite");
        const Axis& ax = a == 0 ? c.x : c.y;
        if (ax.scale == Scale::kLog && v <= 0) {
          return invalid_argument(where + ": " + an + "[" + std::to_string(i) + "] = " + number_label(v) +
                                  " on a log axis");
        }
      }
    }
  }
  return Status::ok();
}

void append_axis_ticks(std::string& out, const Mapper& mx, const Mapper& my, double top, double bottom,
                       double left, double right) {
  for (double t : axis_ticks(mx.lo, mx.hi, mx.scale)) {
    const double x = mx(t);
    out += "<line x1=\"" + px(x) + "\" y1=\"" + px(top) + "\" x2=\"" + px(x) + "\" y2=\"" + px(bottom) +
           "\" stroke=\"#e6e6e6\"/>\n";
    out += "<line x1=\"" + px(x) + "\" y1=\"" + px(bottom) + "\" x2=\"" + px(x) + "\" y2=\"" +
           px(bottom + 5) + "\" stroke=\"black\"/>\n";
    append_text(out, x, bottom + 18, number_label(t), "middle");
  }
  for (double t : axis_ticks(my.lo, my.hi, my.scale)) {
    const double y = my(t);
    out += "<line x1=\"" + px(left) + "\" y1=\"" + px(y) + "\" x2=\"" + px(right) + "\" y2=\"" + px(y) +
           "\" stroke=\"#e6e6e6\"/>\n";
    out += "<line x1=\"" + px(left - 5) + "\" y1=\"" + px(y) + "\" x2=\"" + px(left) + "\" y2=\"" + px(y) +
           "\" stroke=\"black\"/>\n";
    append_text(out, left - 8, y + 4, number_label(t), "end");
  }
}

}  // namespace

std::string xml_escape(const std::string& text) {
  static const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
          if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            out += kReplacement;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: lead byte, continuation count, and the smallest code point
    // allowed for that length (rejects overlong forms); surrogates are invalid too.
    size_t len = 0;
    uint32_t cp = 0, min_cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min_cp = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min_cp = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min_cp = 0x10000;
    }
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        ok = false;
      } else {
        cp = (cp << 6) | (s[i + k] & 0x3F);
      }
    }
    ok = ok && cp >= min_cp && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE &&
         cp != 0xFFFF;
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

std::vector<double> axis_ticks(double lo, double hi, Scale scale) {
  std::vector<double> ticks;
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi <= lo) return ticks;
  if (scale == Scale::kLog) {
    if (lo <= 0) return ticks;
    const double llo = std::log10(lo), lhi = std::log10(hi);
    const int first = static_cast<int>(std::ceil(llo - 1e-9));
    const int last = static_cast<int>(std::floor(lhi + 1e-9));
    if (last - first >= 1) {
      // At most ~8 decade labels.
      const int every = std::max(1, (last - first + 7) / 8);
      for (int e = first; e <= last; e += every) ticks.push_back(std::pow(10.0, e));
      if (last - first <= 2) {
        // Few decades: 2 and 5 between them help reading values.
        std::vector<double> more;
        for (int e = first - 1; e <= last; ++e) {
          for (double m : {2.0, 5.0}) {
            const double v = m * std::pow(10.0, e);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) more.push_back(v);
          }
        }
        ticks.insert(ticks.end(), more.begin(), more.end());
        std::sort(ticks.begin(), ticks.end());
      }
      return ticks;
    }
    // Less than a decade between powers of ten: linear steps are more useful.
  }
  const double step = nice_step(hi - lo, 5);
  const double start = std::ceil(lo / step - 1e-9) * step;
  for (int k = 0; k < 100; ++k) {
    double v = start + k * step;
    if (v > hi + step * 1e-9) break;
    if (std::fabs(v) < step * 1e-9) v = 0;  // no "-0" or "1e-17"
    // 3 * 0.2 is 0.6000000000000001: round to 12 digits so ticks equal their labels.
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.12g", v);
    ticks.push_back(std::strtod(buf, nullptr));
  }
  return ticks;
}

Result<std::string> render_svg(const XyChart& c) {
  VATP_RETURN_IF_ERROR(validate(c));

  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const Series& s : c.series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      xlo = std::min(xlo, s.x[i]), xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
    }
  }
  VATP_ASSIGN_OR_RETURN(auto xr, axis_range(c.x, xlo, xhi, "x"));
  VATP_ASSIGN_OR_RETURN(auto yr, axis_range(c.y, ylo, yhi, "y"));

  bool any_named = false;
  size_t longest_name = 0;
  for (const Series& s : c.series) {
    any_named = any_named || !s.name.empty();
    longest_name = std::max(longest_name, s.name.size());
  }
  const bool legend = c.legend && any_named;
  const double left = 72, top = c.title.empty() ? 20 : 40, bottom = c.height - 50.0;
  const double legend_w = legend ? std::min(220.0, 36.0 + 7.0 * static_cast<double>(longest_name)) : 0;
  const double right = c.width - 20.0 - legend_w;
  if (right - left < 60 || bottom - top < 60) {
    return invalid_argument("chart '" + c.title + "': too small for its plot area and legend");
  }

  Mapper mx{xr.first, xr.second, c.x.scale, left, right};
  Mapper my{yr.first, yr.second, c.y.scale, bottom, top};

  std::string out = svg_open(c.width, c.height);
  out += "<defs><clipPath id=\"plot-area\"><rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" +
         px(right - left) + "\" height=\"" + px(bottom - top) + "\"/></clipPath></defs>\n";
  if (!c.title.empty()) append_text(out, c.width / 2.0, 24, c.title, "middle", " font-size=\"15\"");
  append_axis_ticks(out, mx, my, top, bottom, left, right);
  out += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(right - left) + "\" height=\"" +
         px(bottom - top) + "\" fill=\"none\" stroke=\"black\"/>\n";
  append_text(out, (left + right) / 2, c.height - 12.0,
              c.x.label + (c.x.scale == Scale::kLog ? " (log)" : ""), "middle");
  const double ymid = (top + bottom) / 2;
  append_text(out, 16, ymid, c.y.label + (c.y.scale == Scale::kLog ? " (log)" : ""), "middle",
              " transform=\"rotate(-90 16 " + px(ymid) + ")\"");

  std::vector<std::string> colors(c.series.size());
  size_t next = 0;
  for (size_t s = 0; s < c.series.size(); ++s) {
    colors[s] = c.series[s].color.empty() ? kPalette[next++ % kPaletteSize] : c.series[s].color;
  }

  // Plain series first, highlighted ones on top.
  out += "<g clip-path=\"url(#plot-area)\">\n";
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t s = 0; s < c.series.size(); ++s) {
      const Series& se = c.series[s];
      if (se.highlight != (pass == 1)) continue;
      out += "<g class=\"series\" data-name=\"" + xml_escape(se.name) + "\">\n";
      if (se.mark != Mark::kPoints) {
        std::string d;
        for (size_t i = 0; i < se.x.size(); ++i) {
          d += (i == 0 ? "M" : "L") + px(mx(se.x[i])) + " " + px(my(se.y[i]));
        }
        out += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + colors[s] + "\" stroke-width=\"" +
               (se.highlight ? "2.5" : "1.6") + "\" stroke-linejoin=\"round\"/>\n";
      }
      if (se.mark != Mark::kLine) {
        if (se.highlight) {
          for (size_t i = 0; i < se.x.size(); ++i) {
            out += "<circle cx=\"" + px(mx(se.x[i])) + "\" cy=\"" + px(my(se.y[i])) + "\" r=\"5\" fill=\"" +
                   colors[s] + "\" stroke=\"black\" stroke-width=\"1.2\"/>\n";
          }
        } else {
          // Zero-length round-capped segments draw dots at a fraction of <circle>'s size.
          std::string d;
          for (size_t i = 0; i < se.x.size(); ++i) d += "M" + px(mx(se.x[i])) + " " + px(my(se.y[i])) + "h0";
          out += "<path d=\"" + d + "\" stroke=\"" + colors[s] +
                 "\" stroke-width=\"4\" stroke-linecap=\"round\" stroke-opacity=\"0.6\"/>\n";
        }
      }
      for (size_t i = 0; i < se.point_labels.size(); ++i) {
        if (se.point_labels[i].empty()) continue;
        append_text(out, mx(se.x[i]) + 7, my(se.y[i]) - 6, se.point_labels[i], "start", " font-size=\"11\"");
      }
      out += "</g>\n";
    }
  }
  out += "</g>\n";

  if (legend) {
    const double lx = right + 14;
    double ly = top + 8;
    out += "<g class=\"legend\">\n";
    for (size_t s = 0; s < c.series.size(); ++s) {
      const Series& se = c.series[s];
      if (se.name.empty()) continue;
      if (se.mark == Mark::kPoints) {
        out += "<circle cx=\"" + px(lx + 10) + "\" cy=\"" + px(ly) + "\" r=\"" + (se.highlight ? "5" : "3") +
               "\" fill=\"" + colors[s] + "\"" + (se.highlight ? " stroke=\"black\"" : "") + "/>\n";
      } else {
        out += "<line x1=\"" + px(lx) + "\" y1=\"" + px(ly) + "\" x2=\"" + px(lx + 20) + "\" y2=\"" + px(ly) +
               "\" stroke=\"" + colors[s] + "\" stroke-width=\"2.5\"/>\n";
      }
      append_text(out, lx + 26, ly + 4, se.name, "start");
      ly += 18;
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  return out;
}

Result<std::string> render_svg(const Heatmap& h) {
  const std::string where = "heatmap '" + h.title + "'";
  if (h.rows == 0 || h.cols == 0) return invalid_argument(where + " has no cells");
  if (h.rows > 4096 || h.cols > 4096) return invalid_argument(where + ": more than 4096 rows or columns");
  if (h.values.size() != h.rows * h.cols) {
    return invalid_argument(where + ": " + std::to_string(h.values.size()) + " values for " +
                            std::to_string(h.rows) + "x" + std::to_string(h.cols) + " cells");
  }
  if (!h.row_names.empty() && h.row_names.size() != h.rows) {
    return invalid_argument(where + ": " + std::to_string(h.row_names.size()) + " row names for " +
                            std::to_string(h.rows) + " rows");
  }
  if (!h.col_names.empty() && h.col_names.size() != h.cols) {
    return invalid_argument(where + ": " + std::to_string(h.col_names.size()) + " column names for " +
                            std::to_string(h.cols) + " columns");
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (size_t i = 0; i < h.values.size(); ++i) {
    if (!std::isfinite(h.values[i])) {
      return invalid_argument(where + ": cell (" + std::to_string(i / h.cols) + ", " +
                              std::to_string(i % h.cols) + ") is not finite");
    }
    lo = std::min(lo, h.values[i]), hi = std::max(hi, h.values[i]);
  }
  lo = h.vmin.value_or(lo);
  hi = h.vmax.value_or(hi);
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
    return invalid_argument(where + ": colour range is empty or not finite");
  }
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
    lo -= 0.5;
    hi += 0.5;
  }

  const double cw = h.cell_width > 0 ? h.cell_width : std::clamp(600.0 / h.cols, 4.0, 60.0);
  const double ch = h.cell_height > 0 ? h.cell_height : std::clamp(520.0 / h.rows, 4.0, 40.0);
  const double left = 70, top = h.title.empty() ? 20 : 40;
  const double grid_w = cw * h.cols, grid_h = ch * h.rows;
  const double bar_x = left + grid_w + 24, bar_w = 16;
  // Wide enough for the title too (about 7.5 px per character at 15 px).
  const int width = static_cast<int>(
      std::ceil(std::max(bar_x + bar_w + 90, 7.5 * static_cast<double>(h.title.size()) + 40)));
  const int height = static_cast<int>(std::ceil(top + grid_h + 56));
  VATP_RETURN_IF_ERROR(check_size(std::max(width, 200), std::max(height, 150)));
  const int W = std::max(width, 200), H = std::max(height, 150);

  std::string out = svg_open(W, H);
  if (!h.title.empty()) append_text(out, W / 2.0, 24, h.title, "middle", " font-size=\"15\"");
  out += "<g class=\"cells\">\n";
  for (size_t r = 0; r < h.rows; ++r) {
    for (size_t c = 0; c < h.cols; ++c) {
      const double v = h.values[r * h.cols + c];
      const double t = (v - lo) / (hi - lo);
      const double x = left + c * cw, y = top + r * ch;
      out += "<rect x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(cw) + "\" height=\"" + px(ch) +
             "\" fill=\"" + viridis(t) + "\"><title>" +
             xml_escape((h.row_names.empty() ? std::to_string(r) : h.row_names[r]) + ", " +
                        (h.col_names.empty() ? std::to_string(c) : h.col_names[c]) + ": " + number_label(v)) +
             "</title></rect>\n";
      if (h.annotate) {
        append_text(out, x + cw / 2, y + ch / 2 + 4, number_label(v), "middle",
                    std::string(" font-size=\"10\" fill=\"") + (t < 0.6 ? "white" : "black") + "\"");
      }
    }
  }
  out += "</g>\n";
  out += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(grid_w) + "\" height=\"" +
         px(grid_h) + "\" fill=\"none\" stroke=\"black\"/>\n";

  // Row and column names, thinned so labels do not overlap.
  const size_t row_every = std::max<size_t>(1, static_cast<size_t>(std::ceil(13.0 / ch)));
  for (size_t r = 0; r < h.rows; r += row_every) {
    append_text(out, left - 6, top + r * ch + ch / 2 + 4,
                h.row_names.empty() ? std::to_string(r) : h.row_names[r], "end");
  }
  const size_t col_every = std::max<size_t>(1, static_cast<size_t>(std::ceil(28.0 / cw)));
  for (size_t c = 0; c < h.cols; c += col_every) {
    append_text(out, left + c * cw + cw / 2, top + grid_h + 16,
                h.col_names.empty() ? std::to_string(c) : h.col_names[c], "middle");
  }
  append_text(out, left + grid_w / 2, top + grid_h + 40, h.x_label, "middle");
  const double ymid = top + grid_h / 2;
  append_text(out, 16, ymid, h.y_label, "middle", " transform=\"rotate(-90 16 " + px(ymid) + ")\"");

  // Colour bar: a vertical gradient, high values at the top.
  out += "<defs><linearGradient id=\"colour-scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k <= 8; ++k) {
    out += "<stop offset=\"" + px(k / 8.0 * 100) + "%\" stop-color=\"" + viridis(k / 8.0) + "\"/>";
  }
  out += "</linearGradient></defs>\n";
  out += "<g class=\"colour-bar\">\n<rect x=\"" + px(bar_x) + "\" y=\"" + px(top) + "\" width=\"" +
         px(bar_w) + "\" height=\"" + px(grid_h) + "\" fill=\"url(#colour-scale)\" stroke=\"black\"/>\n";
  for (double t : axis_ticks(lo, hi, Scale::kLinear)) {
    const double y = top + grid_h - (t - lo) / (hi - lo) * grid_h;
    out += "<line x1=\"" + px(bar_x + bar_w) + "\" y1=\"" + px(y) + "\" x2=\"" + px(bar_x + bar_w + 4) +
           "\" y2=\"" + px(y) + "\" stroke=\"black\"/>\n";
    append_text(out, bar_x + bar_w + 7, y + 4, number_label(t), "start");
  }
  const double bx = bar_x + bar_w + 62;
  append_text(out, bx, ymid, h.value_label, "middle",
              " transform=\"rotate(-90 " + px(bx) + " " + px(ymid) + ")\"");
  out += "</g>\n</svg>\n";
  return out;
}

namespace {
template <typename Chart>
Status write_chart(const std::string& path, const Chart& chart) {
  VATP_ASSIGN_OR_RETURN(std::string svg, render_svg(chart));
  return write_file_atomic(path, svg);
}
}  // namespace

Status write_svg(const std::string& path, const XyChart& chart) { return write_chart(path, chart); }
Status write_svg(const std::string& path, const Heatmap& chart) { return write_chart(path, chart); }

}  // namespace vatp::eval::plot
