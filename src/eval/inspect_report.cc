#include "eval/inspect_report.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/output_file.h"
#include "eval/plot_svg.h"

namespace vatp::eval {
namespace {

using runtime::HeadSummary;
using runtime::HeadTrace;
using runtime::InspectTrace;
using runtime::SinkToken;

Status write_file(const std::string& path, const std::string& data) { return write_file_atomic(path, data); }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

const HeadTrace* find_head(const InspectTrace& t, int layer, int head) {
  for (const HeadTrace& h : t.heads) {
    if (h.layer == layer && h.head == head) return &h;
  }
  return nullptr;
}

std::string build_csv(const InspectTrace& t, const std::vector<std::string>& text) {
  std::string out = "layer,head,pos,token,acc_attn,v_l1,v_l2,k_l2,vatp\n";
  out.reserve(t.heads.size() * t.tokens.size() * 64);
  for (const HeadTrace& h : t.heads) {
    const std::string lh = std::to_string(h.layer) + "," + std::to_string(h.head) + ",";
    for (size_t p = 0; p < h.acc_attn.size(); ++p) {
      out += lh + std::to_string(p) + "," + text[p] + "," + num(h.acc_attn[p]) + "," + num(h.v_l1[p]) + "," +
             num(h.v_l2[p]) + "," + num(h.k_l2[p]) + "," + num(h.vatp(p)) + "\n";
    }
  }
  return out;
}

nlohmann::ordered_json token_json(const SinkToken& s, const std::vector<std::string>& display) {
  return {{"pos", s.pos},
          {"token", display[static_cast<size_t>(s.pos)]},
          {"acc_attn", s.acc_attn},
          {"share", s.share},
          {"v_l1", s.v_l1},
          {"v_l1_rank", s.v_l1_rank},
          {"v_l1_percentile", s.v_l1_percentile},
          {"vatp_rank", s.vatp_rank}};
}

std::string build_json(const InspectTrace& t, const std::vector<HeadSummary>& summary,
                       const std::vector<std::string>& display, const InspectReportOptions& o) {
  using J = nlohmann::ordered_json;
  const size_t n = t.tokens.size();
  J j;
  j["model"] = o.model_path;
  j["text_file"] = o.text_path;
  j["command"] = o.command_line;
  j["n_tokens"] = n;
  j["n_layers"] = t.n_layers;
  j["n_heads"] = t.n_heads;
  j["n_kv_heads"] = t.n_kv_heads;
  j["group"] = t.group;
  j["sinks_k"] = summary.empty() ? 0 : summary.front().sinks.size();
  j["definitions"] = {
      {"acc_attn", "sum over all prompt rows and the group's query heads of the attention probability (H2O)"},
      {"share", "acc_attn / sum of acc_attn over the head's tokens (which is n_tokens x group)"},
      {"v_l1_rank", "1 = smallest ||v||_1 among the head's tokens"},
      {"v_l1_percentile", "percent of the head's other tokens with a smaller ||v||_1"},
      {"vatp_rank", "1 = highest acc_attn x ||v||_1"},
      {"sink_v_l1_percentile_weighted", "the sinks' percentiles averaged with acc_attn as weights"},
      {"sinks_have_small_v", "every top-K sink's ||v||_1 percentile <= 25"},
      {"strong_sinks", "top-K sinks with acc_attn >= 20 x the head's mean acc_attn per token"},
      {"strong_sinks_have_small_v", "the head has strong sinks and each has ||v||_1 percentile <= 25"}};
  J layers = J::array();
  int all_heads = 0, all_small = 0, all_strong = 0, all_strong_small = 0;
  for (int l : t.layers) {
    J heads = J::array();
    int small = 0, count = 0, with_strong = 0, strong_small = 0;
    double share = 0, pct = 0, wpct = 0;
    for (const HeadSummary& s : summary) {
      if (s.layer != l) continue;
      with_strong += s.strong_sinks > 0 ? 1 : 0;
      strong_small += s.strong_sinks_have_small_v ? 1 : 0;
      wpct += s.sink_v_l1_percentile_weighted;
      J sinks = J::array();
      for (const SinkToken& k : s.sinks) sinks.push_back(token_json(k, display));
      heads.push_back({{"head", s.head},
                       {"total_acc", s.total_acc},
                       {"expected_total_acc", static_cast<double>(n) * t.group},
                       {"sink_share", s.sink_share},
                       {"sink_v_l1_percentile", s.sink_v_l1_percentile},
                       {"v_l1_median", s.v_l1_median},
                       {"sink_v_l1_percentile_weighted", s.sink_v_l1_percentile_weighted},
                       {"sinks_have_small_v", s.sinks_have_small_v},
                       {"strong_sinks", s.strong_sinks},
                       {"strong_sinks_have_small_v", s.strong_sinks_have_small_v},
                       {"sinks", sinks},
                       {"first_token", token_json(s.first, display)}});
      small += s.sinks_have_small_v ? 1 : 0;
      share += s.sink_share;
      pct += s.sink_v_l1_percentile;
      ++count;
    }
    all_heads += count;
    all_small += small;
    all_strong += with_strong;
    all_strong_small += strong_small;
    layers.push_back({{"layer", l},
                      {"heads_with_small_v_sinks", small},
                      {"heads", count},
                      {"mean_sink_share", count ? share / count : 0.0},
                      {"mean_sink_v_l1_percentile", count ? pct / count : 0.0},
                      {"mean_sink_v_l1_percentile_weighted", count ? wpct / count : 0.0},
                      {"heads_with_strong_sinks", with_strong},
                      {"heads_with_small_v_strong_sinks", strong_small},
                      {"per_head", heads}});
  }
  j["overall"] = {{"heads", all_heads},
                  {"heads_with_small_v_sinks", all_small},
                  {"heads_with_strong_sinks", all_strong},
                  {"heads_with_small_v_strong_sinks", all_strong_small}};
  j["layers"] = layers;
  return j.dump(1) + "\n";
}

// Log axes need positive values; a zero (an underflowed probability) is drawn at `floor`.
std::vector<double> positive(const std::vector<float>& v, double floor, bool* floored) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    out[i] = v[i] > 0 ? v[i] : floor;
    if (!(v[i] > 0)) *floored = true;
  }
  return out;
}

std::vector<double> positions(size_t n) {
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<double>(i);
  return x;
}

Status write_plots(const std::string& dir, const InspectTrace& t, const std::vector<HeadSummary>& summary,
                   const std::vector<int>& plot_layers, const InspectReportOptions& o,
                   std::vector<std::string>& written) {
  const size_t n = t.tokens.size();
  const std::vector<double> xs = positions(n);
  const size_t first = std::min(static_cast<size_t>(std::max(o.highlight_first, 0)), n);
  constexpr double kFloor = 1e-9;
  for (int l : plot_layers) {
    const std::string ls = std::to_string(l);
    plot::XyChart acc, v, sc;
    bool floored_acc = false, floored_v = false;
    std::vector<int> sc_head;  // the KV head of each scatter series
    acc.title = "layer " + ls + ": accumulated attention by position (" + std::to_string(n) + " tokens)";
    acc.x = plot::Axis("position");
    acc.x.min = 0;
    acc.x.max = static_cast<double>(n - 1);
    acc.y = plot::Axis("acc_attn (sum over rows and the group's heads)", plot::Scale::kLog);
    v.title = "layer " + ls + ": value L1 norm by position";
    v.x = acc.x;
    v.y = plot::Axis("||v||_1");
    sc.title = "layer " + ls + ": accumulated attention vs value L1 norm";
    sc.x = plot::Axis("acc_attn", plot::Scale::kLog);
    sc.y = plot::Axis("||v||_1", plot::Scale::kLog);
    for (int h = 0; h < t.n_kv_heads; ++h) {
      const HeadTrace* ht = find_head(t, l, h);
      if (!ht) return internal_error("layer " + ls + " head " + std::to_string(h) + " was not traced");
      const std::string name = "KV head " + std::to_string(h);
      const std::vector<double> a = positive(ht->acc_attn, kFloor, &floored_acc);
      const std::vector<double> vl = positive(ht->v_l1, kFloor, &floored_v);
      acc.series.push_back(plot::line_series(name, xs, a));
      v.series.push_back(plot::line_series(name, xs, std::vector<double>(ht->v_l1.begin(), ht->v_l1.end())));
      plot::Series rest = plot::points_series(name, {}, {});
      // Highlighted: the first positions and the head's top-K sinks, labelled by position.
      std::vector<bool> marked(n, false);
      for (size_t p = 0; p < first; ++p) marked[p] = true;
      for (const HeadSummary& s : summary) {
        if (s.layer != l || s.head != h) continue;
        for (const SinkToken& k : s.sinks) marked[static_cast<size_t>(k.pos)] = true;
      }
      plot::Series hi = plot::points_series(name + ": first " + std::to_string(first) + " + sinks", {}, {});
      hi.highlight = true;
      for (size_t p = 0; p < n; ++p) {
        plot::Series& s = marked[p] ? hi : rest;
        s.x.push_back(a[p]);
        s.y.push_back(vl[p]);
        if (marked[p]) s.point_labels.push_back(std::to_string(p));
      }
      for (plot::Series* s : {&rest, &hi}) {
        if (s->x.empty()) continue;
        sc.series.push_back(std::move(*s));
        sc_head.push_back(h);
      }
    }
    // Matching colours: a head's highlighted points take its plain series' colour.
    static constexpr const char* kHeadColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                                  "#59a14f", "#edc948", "#b07aa1", "#ff9da7"};
    for (auto* c : {&acc, &v}) {
      for (size_t s = 0; s < c->series.size(); ++s) c->series[s].color = kHeadColors[s % 8];
    }
    for (size_t s = 0; s < sc.series.size(); ++s) sc.series[s].color = kHeadColors[sc_head[s] % 8];
    if (floored_acc) acc.y.label += "; zeros drawn at 1e-9";
    if (floored_v) sc.y.label += "; zeros drawn at 1e-9";
    const std::string base = dir + "/layer" + ls;
    for (const auto& [chart, suffix] :
         {std::pair{&acc, "_acc_attn.svg"}, std::pair{&v, "_v_l1.svg"}, std::pair{&sc, "_scatter.svg"}}) {
      VATP_RETURN_IF_ERROR(plot::write_svg(base + suffix, *chart));
      written.push_back(base + suffix);
    }
  }

  // Heatmaps over every traced layer × KV head.
  plot::Heatmap share, pct;
  for (plot::Heatmap* h : {&share, &pct}) {
    h->rows = t.layers.size();
    h->cols = static_cast<size_t>(t.n_kv_heads);
    h->values.assign(h->rows * h->cols, 0.0);
    h->x_label = "KV head";
    h->y_label = "layer";
    for (int l : t.layers) h->row_names.push_back(std::to_string(l));
    h->annotate = h->cols <= 16;
  }
  const size_t k = summary.empty() ? 0 : summary.front().sinks.size();
  share.title = "share of attention taken by the top-" + std::to_string(k) + " sinks";
  share.value_label = "sink share of acc_attn";
  share.vmin = 0;
  share.vmax = 1;
  pct.title = "sinks' ||v||_1 percentile (top-" + std::to_string(k) + ", weighted by acc_attn)";
  pct.value_label = "percentile of ||v||_1 among the head's tokens";
  pct.vmin = 0;
  pct.vmax = 100;
  for (const HeadSummary& s : summary) {
    const auto row = std::find(t.layers.begin(), t.layers.end(), s.layer) - t.layers.begin();
    const size_t cell = static_cast<size_t>(row) * share.cols + static_cast<size_t>(s.head);
    share.values[cell] = s.sink_share;
    pct.values[cell] = s.sink_v_l1_percentile_weighted;
  }
  for (const auto& [chart, file] :
       {std::pair{&share, "/heatmap_sink_share.svg"}, std::pair{&pct, "/heatmap_sink_v_l1_percentile.svg"}}) {
    VATP_RETURN_IF_ERROR(plot::write_svg(dir + file, *chart));
    written.push_back(dir + file);
  }
  return Status::ok();
}

}  // namespace

Status parse_inspect_formats(const std::string& text, InspectReportOptions& opts) {
  opts.csv = opts.json = opts.svg = false;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string f = text.substr(start, comma - start);
    if (f == "csv") {
      opts.csv = true;
    } else if (f == "json") {
      opts.json = true;
    } else if (f == "svg") {
      opts.svg = true;
    } else {
      return invalid_argument("--format: unknown format '" + f + "' (use a comma list of csv, json, svg)");
    }
    start = comma + 1;
  }
  return Status::ok();
}

std::string token_display(const tokenizer::Tokenizer& tok, int32_t id) {
  const std::string bytes = tok.token_to_piece(id, /*special=*/true);
  std::string out;
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  char hex[8];
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c == '\n') {
      out += "\\n", ++i;
    } else if (c == '\t') {
      out += "\\t", ++i;
    } else if (c == '\r') {
      out += "\\r", ++i;
    } else if (c == '\\') {
      out += "\\\\", ++i;
    } else if (c < 0x20 || c == 0x7f) {
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex, ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c), ++i;
    } else {
      // Copy a complete UTF-8 sequence; a lone or truncated byte is shown as \xNN.
      const size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      bool ok = len > 0 && i + len <= n && !(c == 0xC0 || c == 0xC1 || c > 0xF4);
      for (size_t k = 1; ok && k < len; ++k) ok = (s[i + k] & 0xC0) == 0x80;
      if (ok) {
        out.append(bytes, i, len);
        i += len;
      } else {
        std::snprintf(hex, sizeof hex, "\\x%02x", c);
        out += hex, ++i;
      }
    }
  }
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\" \n\r") == std::string::npos && !text.empty()) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Result<std::vector<int>> inspect_plot_layers(const InspectTrace& trace, const std::vector<int>& wanted) {
  if (!wanted.empty()) {
    for (int l : wanted) {
      if (std::find(trace.layers.begin(), trace.layers.end(), l) == trace.layers.end()) {
        return invalid_argument("layer " + std::to_string(l) + " is plotted but not traced (see --layers)");
      }
    }
    return wanted;
  }
  const size_t n = trace.layers.size();
  if (n == 0) return invalid_argument("no layers traced");
  const size_t m = std::min<size_t>(4, n);
  std::vector<int> out;
  for (size_t i = 0; i < m; ++i) {
    const size_t idx = m == 1 ? 0 : (i * (n - 1) + (m - 1) / 2) / (m - 1);
    if (out.empty() || out.back() != trace.layers[idx]) out.push_back(trace.layers[idx]);
  }
  return out;
}

Result<std::vector<std::string>> write_inspect_report(const std::string& out_dir, const InspectTrace& trace,
                                                      const std::vector<HeadSummary>& summary,
                                                      const tokenizer::Tokenizer& tok,
                                                      const InspectReportOptions& opts) {
  if (trace.tokens.empty() || trace.heads.empty()) return invalid_argument("nothing to report: empty trace");
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return io_error("cannot create output folder " + out_dir + ": " + ec.message());
  std::vector<std::string> display, csv_text;
  for (int32_t id : trace.tokens) {
    display.push_back(token_display(tok, id));
    csv_text.push_back(csv_field(display.back()));
  }
  std::vector<std::string> written;
  if (opts.csv) {
    const std::string p = out_dir + "/inspect.csv";
    VATP_RETURN_IF_ERROR(write_file(p, build_csv(trace, csv_text)));
    written.push_back(p);
  }
  if (opts.json) {
    const std::string p = out_dir + "/inspect_summary.json";
    VATP_RETURN_IF_ERROR(write_file(p, build_json(trace, summary, display, opts)));
    written.push_back(p);
  }
  if (opts.svg) {
    VATP_ASSIGN_OR_RETURN(std::vector<int> layers, inspect_plot_layers(trace, opts.plot_layers));
    VATP_RETURN_IF_ERROR(write_plots(out_dir, trace, summary, layers, opts, written));
  }
  return written;
}

}  // namespace vatp::eval
