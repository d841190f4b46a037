// Writes `vatp inspect`'s outputs into a folder:
//   inspect.csv           long format, one row per (layer, KV head, position):
//                         layer,head,pos,token,acc_attn,v_l1,v_l2,k_l2,vatp
//   inspect_summary.json  per layer and head: the top-K attention sinks, their share of
//                         the attention, their ‖v‖₁ rank/percentile, and the verdict on
//                         "sinks get high attention but small value norms"
//   *.svg                 acc_attn and ‖v‖₁ vs position, acc_attn vs ‖v‖₁ scatter (first
//                         tokens highlighted) for a few layers; layers × heads heatmaps of
//                         the sinks' attention share and ‖v‖₁ percentile
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/inspect.h"
#include "tokenizer/tokenizer.h"

namespace vatp::eval {

struct InspectReportOptions {
  bool csv = true;
  bool json = true;
  bool svg = true;
  std::vector<int> plot_layers;  // line/scatter plots; empty: up to 4 evenly spaced traced layers
  int highlight_first = 4;       // first positions highlighted in the scatter plots
  std::string model_path;        // recorded in the JSON
  std::string text_path;
  std::string command_line;
};

// Parses "csv,json,svg" (any subset, comma separated) into the three switches.
Status parse_inspect_formats(const std::string& text, InspectReportOptions& opts);

// A token's text made printable for CSV/JSON/plots: \n \t \r \\ escaped, other control
// bytes and invalid UTF-8 as \xNN.
std::string token_display(const tokenizer::Tokenizer& tok, int32_t id);

// One CSV field: quoted (with "" for quotes) when it holds a comma, quote or space.
std::string csv_field(const std::string& text);

// The plotted layers: plot_layers if given (each must be traced), else up to 4 evenly
// spaced traced layers (first and last included).
Result<std::vector<int>> inspect_plot_layers(const runtime::InspectTrace& trace,
                                             const std::vector<int>& wanted);

// Returns the paths written, in order.
Result<std::vector<std::string>> write_inspect_report(const std::string& out_dir,
                                                      const runtime::InspectTrace& trace,
                                                      const std::vector<runtime::HeadSummary>& summary,
                                                      const tokenizer::Tokenizer& tok,
                                                      const InspectReportOptions& opts);

}  // namespace vatp::eval
