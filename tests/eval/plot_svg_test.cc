// SVG charts: output is well-formed XML (checked by a small parser here), one group per
// series, text escaped, ticks sensible, and bad data (NaN, empty, log of <= 0,
// mismatched lengths) is an error naming the problem.
#include "eval/plot_svg.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace vatp::eval::plot {
namespace {

// Checks XML well-formedness for the subset SVG output uses: one root element, balanced
// tags, quoted attributes, no duplicate attribute, only the five predefined entities and
// numeric references, no raw '<' or '&' in text. Returns "" or the first problem.
std::string xml_problem(const std::string& s, std::string* root = nullptr) {
  std::vector<std::string> stack;
  size_t i = 0, roots = 0;
  auto check_entities = [](const std::string& text) -> std::string {
    for (size_t p = text.find('&'); p != std::string::npos; p = text.find('&', p + 1)) {
      const size_t semi = text.find(';', p);
      if (semi == std::string::npos) return "unterminated entity";
      const std::string ent = text.substr(p + 1, semi - p - 1);
      if (ent != "amp" && ent != "lt" && ent != "gt" && ent != "quot" && ent != "apos" &&
          !(ent.size() > 1 && ent[0] == '#')) {
        return "unknown entity &" + ent + ";";
      }
    }
    return "";
  };
  if (s.rfind("<?xml", 0) == 0) i = s.find("?>") + 2;
  while (i < s.size()) {
    const size_t lt = s.find('<', i);
    const std::string text = s.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (std::string e = check_entities(text); !e.empty()) return e;
    if (stack.empty() && text.find_first_not_of(" \n\t\r") != std::string::npos)
      return "text outside the root";
    if (lt == std::string::npos) break;
    const size_t gt = s.find('>', lt);
    if (gt == std::string::npos) return "unterminated tag";
    std::string tag = s.substr(lt + 1, gt - lt - 1);
    if (tag.find('<') != std::string::npos) return "'<' inside a tag";
    i = gt + 1;
    if (!tag.empty() && tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return "mismatched </" + tag.substr(1) + ">";
      stack.pop_back();
      continue;
    }
    const bool self_closing = !tag.empty() && tag.back() == '/';
    if (self_closing) tag.pop_back();
    size_t p = tag.find_first_of(" \n\t");
    const std::string name = tag.substr(0, p);
    if (name.empty()) return "empty tag name";
    std::vector<std::string> attrs;
    while (p != std::string::npos && p < tag.size()) {
      p = tag.find_first_not_of(" \n\t", p);
      if (p == std::string::npos) break;
      const size_t eq = tag.find('=', p);
      if (eq == std::string::npos || eq + 1 >= tag.size() || tag[eq + 1] != '"')
        return "unquoted attribute in <" + name;
      const size_t close = tag.find('"', eq + 2);
      if (close == std::string::npos) return "unterminated attribute in <" + name;
      const std::string attr = tag.substr(p, eq - p);
      for (const auto& a : attrs) {
        if (a == attr) return "duplicate attribute " + attr;
      }
      attrs.push_back(attr);
      if (std::string e = check_entities(tag.substr(eq + 2, close - eq - 2)); !e.empty()) return e;
      p = close + 1;
    }
    if (stack.empty()) {
      if (++roots > 1) return "more than one root element";
      if (root) *root = name;
    }
    if (!self_closing) stack.push_back(name);
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (roots != 1) return "no root element";
  return "";
}

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

XyChart three_lines() {
  XyChart c;
  c.title = "score vs KV budget";
  c.x = Axis("KV budget (tokens)", Scale::kLog);
  c.y = Axis("score");
  for (const char* name : {"full", "h2o", "vatp"}) {
    Series s = line_series(name, {64, 128, 256, 512, 1024}, {});
    for (double b : s.x) s.y.push_back(std::log2(b) + (name[0] == 'v' ? 1 : 0));
    c.series.push_back(s);
  }
  return c;
}

TEST(PlotSvg, LineChartIsWellFormedWithOneGroupPerSeries) {
  auto svg = render_svg(three_lines());
  ASSERT_TRUE(svg.is_ok()) << svg.status().to_string();
  std::string root;
  EXPECT_EQ(xml_problem(*svg, &root), "");
  EXPECT_EQ(root, "svg");
  EXPECT_EQ(count(*svg, "<g class=\"series\""), 3u);
  EXPECT_NE(svg->find("data-name=\"vatp\""), std::string::npos);
  // Legend entries carry the names as text.
  EXPECT_NE(svg->find(">h2o</text>"), std::string::npos);
  EXPECT_NE(svg->find("KV budget (tokens) (log)"), std::string::npos);
  // Log x from 64 to 1024: decade ticks 100 and 1000 (and 2/5 multiples) are labelled.
  EXPECT_NE(svg->find(">100</text>"), std::string::npos);
  EXPECT_NE(svg->find(">1000</text>"), std::string::npos);
}

TEST(PlotSvg, ScatterWithHighlightedPointsAndLabels) {
  XyChart c;
  c.title = "acc vs |v|";
  c.x = Axis("acc", Scale::kLog);
  c.y = Axis("v_l1", Scale::kLog);
  Series rest = points_series("tokens", {}, {});
  for (int i = 1; i <= 200; ++i) {
    rest.x.push_back(i * 0.01);
    rest.y.push_back(1 + i % 7);
  }
  Series first = points_series("first 2", {50, 20}, {0.5, 0.7});
  first.highlight = true;
  first.point_labels = {"pos 0", "pos 1"};
  c.series = {rest, first};
  auto svg = render_svg(c);
  ASSERT_TRUE(svg.is_ok()) << svg.status().to_string();
  EXPECT_EQ(xml_problem(*svg), "");
  EXPECT_EQ(count(*svg, "<g class=\"series\""), 2u);
  // Highlighted points are circles drawn after the plain series; plain points are one path.
  EXPECT_EQ(count(*svg, "r=\"5\" fill="), 2u + 1u);  // two points + legend marker
  EXPECT_LT(svg->find("data-name=\"tokens\""), svg->find("data-name=\"first 2\""));
  EXPECT_NE(svg->find(">pos 1</text>"), std::string::npos);
  EXPECT_EQ(count(*svg, "h0"), 200u);
}

TEST(PlotSvg, HighlightedSeriesDrawnLastEvenIfListedFirst) {
  XyChart c = three_lines();
  c.series[0].highlight = true;
  auto svg = render_svg(c);
  ASSERT_TRUE(svg.is_ok());
  EXPECT_GT(svg->find("data-name=\"full\""), svg->find("data-name=\"vatp\""));
}

TEST(PlotSvg, TextIsEscaped) {
  XyChart c = three_lines();
  c.title = "a < b & \"c\" > 'd'";
  c.series[0].name = "<script>alert(1)</script>";
  c.series[1].name = std::string("bad\x01utf8\xff\xc3(", 12);
  c.x.label = "x&y";
  auto svg = render_svg(c);
  ASSERT_TRUE(svg.is_ok()) << svg.status().to_string();
  EXPECT_EQ(xml_problem(*svg), "");
  EXPECT_EQ(svg->find("<script"), std::string::npos);
  EXPECT_NE(svg->find("a &lt; b &amp; &quot;c&quot; &gt; &#39;d&#39;"), std::string::npos);
  EXPECT_NE(svg->find("x&amp;y"), std::string::npos);
  EXPECT_NE(svg->find("bad\xEF\xBF\xBDutf8\xEF\xBF\xBD\xEF\xBF\xBD("), std::string::npos);
}

TEST(PlotSvg, XmlEscapeKeepsValidUtf8AndRejectsOverlongAndSurrogates) {
  EXPECT_EQ(xml_escape("‖v‖₁ — ok"), "‖v‖₁ — ok");
  EXPECT_EQ(xml_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(xml_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(xml_escape("tab\tnl\n"), "tab\tnl\n");
  EXPECT_EQ(xml_escape(std::string("\0", 1)), "\xEF\xBF\xBD");
}

TEST(PlotSvg, BadDataIsAnErrorNamingTheProblem) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  {
    XyChart c;
    c.title = "empty";
    auto r = render_svg(c);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("no series"), std::string::npos) << r.status().message();
  }
  {
    XyChart c = three_lines();
    c.series[1].x.clear();
    c.series[1].y.clear();
    auto r = render_svg(c);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("'h2o' has no points"), std::string::npos) << r.status().message();
  }
  {
    XyChart c = three_lines();
    c.series[2].y[3] = nan;
    auto r = render_svg(c);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("'vatp': y[3] is not finite"), std::string::npos)
        << r.status().message();
  }
  {
    XyChart c = three_lines();
    c.series[0].x[0] = std::numeric_limits<double>::infinity();
    EXPECT_FALSE(render_svg(c).is_ok());
  }
  {
    XyChart c = three_lines();
    c.series[0].x[2] = 0;  // log x axis
    auto r = render_svg(c);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("x[2] = 0 on a log axis"), std::string::npos) << r.status().message();
  }
  {
    XyChart c = three_lines();
    c.series[0].y.pop_back();
    auto r = render_svg(c);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("5 x values but 4 y values"), std::string::npos)
        << r.status().message();
  }
  {
    XyChart c = three_lines();
    c.series[0].color = "red\" onload=\"x";
    EXPECT_FALSE(render_svg(c).is_ok());
    c.series[0].color = "#A0b1c2";
    EXPECT_TRUE(render_svg(c).is_ok());
  }
  {
    XyChart c = three_lines();
    c.series[0].point_labels = {"only one"};
    EXPECT_FALSE(render_svg(c).is_ok());
  }
  {
    XyChart c = three_lines();
    c.y.min = 10;
    c.y.max = 1;
    EXPECT_FALSE(render_svg(c).is_ok());
    c.width = 10;
    EXPECT_FALSE(render_svg(c).is_ok());
  }
}

TEST(PlotSvg, SinglePointAndConstantSeriesRender) {
  XyChart c;
  c.x = Axis("x");
  c.y = Axis("y", Scale::kLog);
  c.series.push_back(line_series("one", {3}, {7}));
  c.series[0].mark = Mark::kLineAndPoints;
  auto svg = render_svg(c);
  ASSERT_TRUE(svg.is_ok()) << svg.status().to_string();
  EXPECT_EQ(xml_problem(*svg), "");
  c.y.scale = Scale::kLinear;
  c.series[0].x = {0, 0, 0};
  c.series[0].y = {0, 0, 0};
  svg = render_svg(c);
  ASSERT_TRUE(svg.is_ok()) << svg.status().to_string();
  EXPECT_EQ(svg->find("nan"), std::string::npos);
  EXPECT_EQ(svg->find("inf"), std::string::npos);
}

TEST(PlotSvg, AxisTicks) {
  EXPECT_EQ(axis_ticks(0, 1, Scale::kLinear), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(axis_ticks(0, 2048, Scale::kLinear).front(), 0);
  EXPECT_EQ(axis_ticks(0, 2048, Scale::kLinear)[1], 500);
  EXPECT_EQ(axis_ticks(1e-4, 1e4, Scale::kLog).size(), 9u);  // every decade
  const auto many = axis_ticks(1e-20, 1e20, Scale::kLog);
  EXPECT_LE(many.size(), 9u);
  EXPECT_GE(many.size(), 5u);
  // One decade gets 2 and 5 in between.
  EXPECT_EQ(axis_ticks(1, 10, Scale::kLog), (std::vector<double>{1, 2, 5, 10}));
  EXPECT_TRUE(axis_ticks(5, 1, Scale::kLinear).empty());
  EXPECT_TRUE(axis_ticks(-1, 1, Scale::kLog).empty());
  for (double t : axis_ticks(-0.3, 0.3, Scale::kLinear)) EXPECT_FALSE(std::signbit(t) && t == 0);
}

TEST(PlotSvg, HeatmapCellsNamesAndColourBar) {
  Heatmap h;
  h.title = "sink share";
  h.x_label = "KV head";
  h.y_label = "layer";
  h.value_label = "share of attention";
  h.rows = 4;
  h.cols = 3;
  for (int i = 0; i < 12; ++i) h.values.push_back(i / 11.0);
  h.col_names = {"h0", "h1", "h<2>"};
  h.annotate = true;
  auto svg = render_svg(h);
  ASSERT_TRUE(svg.is_ok()) << svg.status().to_string();
  EXPECT_EQ(xml_problem(*svg), "");
  EXPECT_EQ(count(*svg, "<title>"), 12u);
  EXPECT_NE(svg->find("h&lt;2&gt;"), std::string::npos);
  // Lowest and highest cells get the ends of the colour scale.
  EXPECT_NE(svg->find("fill=\"#440154\""), std::string::npos);
  EXPECT_NE(svg->find("fill=\"#fde725\""), std::string::npos);
  EXPECT_NE(svg->find("class=\"colour-bar\""), std::string::npos);
  // 30 layers x 3 heads (SmolLM2's shape) fits a readable picture.
  h.rows = 30;
  h.values.assign(90, 0.25);
  h.annotate = false;
  svg = render_svg(h);
  ASSERT_TRUE(svg.is_ok()) << svg.status().to_string();
  EXPECT_EQ(xml_problem(*svg), "");
}

TEST(PlotSvg, HeatmapErrors) {
  Heatmap h;
  EXPECT_FALSE(render_svg(h).is_ok());
  h.rows = 2;
  h.cols = 2;
  h.values = {1, 2, 3};
  auto r = render_svg(h);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("3 values for 2x2 cells"), std::string::npos);
  h.values = {1, 2, std::numeric_limits<double>::quiet_NaN(), 4};
  r = render_svg(h);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("cell (1, 0) is not finite"), std::string::npos)
      << r.status().message();
  h.values = {1, 2, 3, 4};
  h.row_names = {"a"};
  EXPECT_FALSE(render_svg(h).is_ok());
}

TEST(PlotSvg, WriteSvgWritesTheRenderedFileAndReportsBadPaths) {
  const auto dir = std::filesystem::temp_directory_path() / "vatp_plot_svg_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "chart.svg").string();
  ASSERT_TRUE(write_svg(path, three_lines()).is_ok());
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), *render_svg(three_lines()));
  const Status bad = write_svg((dir / "no/such/dir/x.svg").string(), three_lines());
  EXPECT_EQ(bad.code(), StatusCode::kIoError);
  EXPECT_NE(bad.message().find("no/such/dir/x.svg"), std::string::npos);
  // An invalid chart writes nothing.
  XyChart empty;
  const std::string p2 = (dir / "empty.svg").string();
  EXPECT_FALSE(write_svg(p2, empty).is_ok());
  EXPECT_FALSE(std::filesystem::exists(p2));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vatp::eval::plot
