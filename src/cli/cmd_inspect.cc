// `vatp inspect`: per-slot attention statistics and value norms of a prompt, per layer
// and KV head, with an attention-sink summary and plots (docs/inspect.md).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "cli/cli_checks.h"
#include "cli/command.h"
#include "core/output_file.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "eval/inspect_report.h"
#include "kernels/kernel_table.h"
#include "model/model.h"
#include "runtime/inspect.h"
#include "tokenizer/tokenizer.h"

namespace vatp::cli {
namespace {

struct InspectFlags {
  std::string model;
  std::string text_file;
  int n_tokens = 1024;
  std::string layers = "all";
  std::string plot_layers;  // empty: chosen from the traced layers
  std::string out_dir;
  std::string formats = "csv,json,svg";
  int sinks = 4;
  int batch = 256;
  int threads = 0;
};

// The settings that shape the output, as a command line (recorded in the JSON).
std::string settings_line(const InspectFlags& f) {
  std::string s = "vatp inspect -m " + f.model + " -f " + f.text_file + " -c " + std::to_string(f.n_tokens) +
                  " --layers " + f.layers + " --sinks " + std::to_string(f.sinks) + " -o " + f.out_dir;
  if (!f.plot_layers.empty()) s += " --plot-layers " + f.plot_layers;
  return s;
}

Status validate_flags(const InspectFlags& f, const CLI::App& sub) {
  if (f.model.empty()) return invalid_argument("-m MODEL.gguf is required");
  if (f.text_file.empty()) return invalid_argument("-f TEXT_FILE is required");
  if (f.out_dir.empty()) return invalid_argument("-o OUTDIR is required");
  if (f.n_tokens < 2) return invalid_argument("-c must be >= 2 tokens, got " + std::to_string(f.n_tokens));
  if (f.sinks < 1) return invalid_argument("--sinks must be >= 1, got " + std::to_string(f.sinks));
  if (f.batch < 1) return invalid_argument("-b must be >= 1, got " + std::to_string(f.batch));
  VATP_RETURN_IF_ERROR(resolve_threads(f.threads, sub.count("-t") > 0).status());
  VATP_RETURN_IF_ERROR(check_output_dir("-o", f.out_dir));
  eval::InspectReportOptions probe;
  return eval::parse_inspect_formats(f.formats, probe);
}

Status run_inspect(const InspectFlags& f, const CLI::App& sub) {
  VATP_RETURN_IF_ERROR(validate_flags(f, sub));
  eval::InspectReportOptions ro;
  VATP_RETURN_IF_ERROR(eval::parse_inspect_formats(f.formats, ro));
  VATP_ASSIGN_OR_RETURN(const std::string text, read_input_file("-f", f.text_file));
  if (!std::filesystem::exists(f.model)) return not_found("model file not found: " + f.model);

  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  VATP_ASSIGN_OR_RETURN(const int threads, resolve_threads(f.threads, sub.count("-t") > 0));
  ThreadPool pool(threads);
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> model,
                        model::Model::load(f.model, kt, {.pool = &pool}));
  VATP_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(model->gguf()));
  const int n_layers = model->config().n_layers;
  runtime::InspectOptions io;
  io.n_batch = f.batch;
  VATP_ASSIGN_OR_RETURN(io.layers, runtime::parse_layer_list(f.layers, n_layers));
  if (!f.plot_layers.empty()) {
    VATP_ASSIGN_OR_RETURN(ro.plot_layers, runtime::parse_layer_list(f.plot_layers, n_layers));
    // Checked before the prefill, which can take a while.
    for (int l : ro.plot_layers) {
      if (!std::binary_search(io.layers.begin(), io.layers.end(), l)) {
        return invalid_argument("layer " + std::to_string(l) + " is plotted but not traced (see --layers)");
      }
    }
  }

  std::vector<int32_t> ids = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
  if (ids.size() < 2) return invalid_argument("the text of " + f.text_file + " gives fewer than 2 tokens");
  if (ids.size() > static_cast<size_t>(f.n_tokens)) ids.resize(static_cast<size_t>(f.n_tokens));
  if (static_cast<int64_t>(ids.size()) > model->config().n_ctx_train) {
    std::fprintf(stderr, "warning: %zu tokens exceed the model's training context %d\n", ids.size(),
                 model->config().n_ctx_train);
  }

  Timer timer;
  VATP_ASSIGN_OR_RETURN(const runtime::InspectTrace trace, runtime::trace_prompt(*model, tok, pool, ids, io));
  const double seconds = timer.seconds();
  VATP_ASSIGN_OR_RETURN(const std::vector<runtime::HeadSummary> summary,
                        runtime::summarize_sinks(trace, f.sinks));

  ro.highlight_first = std::min(f.sinks, 8);
  ro.model_path = f.model;
  ro.text_path = f.text_file;
  ro.command_line = settings_line(f);
  VATP_ASSIGN_OR_RETURN(const std::vector<std::string> written,
                        eval::write_inspect_report(f.out_dir, trace, summary, tok, ro));

  std::fprintf(stderr, "inspect: %zu tokens, %zu layers x %d KV heads, prefill %.2f s\n", ids.size(),
               trace.layers.size(), trace.n_kv_heads, seconds);
  // One line per layer: the sinks' attention share and value-norm percentile.
  std::printf(
      "layer  sink_share  v_l1_pct  v_l1_pct_weighted  small_v(top-K)  strong_sink_heads  small_v(strong)\n");
  for (int l : trace.layers) {
    int small = 0, count = 0, strong = 0, strong_small = 0;
    double share = 0, pct = 0, wpct = 0;
    for (const runtime::HeadSummary& s : summary) {
      if (s.layer != l) continue;
      small += s.sinks_have_small_v, share += s.sink_share, pct += s.sink_v_l1_percentile, ++count;
      wpct += s.sink_v_l1_percentile_weighted, strong += s.strong_sinks > 0,
          strong_small += s.strong_sinks_have_small_v;
    }
    std::printf("%5d  %10.3f  %8.1f  %17.1f  %10d/%-3d  %13d/%-3d  %11d/%-3d\n", l, share / count,
                pct / count, wpct / count, small, count, strong, count, strong_small, count);
  }
  for (const std::string& p : written) std::fprintf(stderr, "wrote %s\n", p.c_str());
  return Status::ok();
}

}  // namespace

void add_inspect_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<InspectFlags>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Per layer/KV head attention sums, value/key norms and attention sinks of a prompt");
  cmd->add_option("-m,--model", fl->model, "GGUF model file");
  cmd->add_option("-f,--file", fl->text_file, "Text file; its first -c tokens are the prompt");
  cmd->add_option("-c,--tokens", fl->n_tokens,
                  "Prompt length in tokens (default 1024; shorter texts use all)");
  cmd->add_option("--layers", fl->layers, "Layers to report: all (default) or a list such as 0,5,29");
  cmd->add_option("--plot-layers", fl->plot_layers,
                  "Layers for the per-position and scatter plots (default: up to 4 evenly spaced)");
  cmd->add_option("-o,--out", fl->out_dir, "Output folder (created if missing)");
  cmd->add_option("--format", fl->formats, "Comma list of csv, json, svg (default all three)");
  cmd->add_option("--sinks", fl->sinks, "Attention sinks per head: the top-K tokens by acc_attn (default 4)");
  cmd->add_option("-b,--batch-size", fl->batch, "Prefill rows per forward call (default 256)");
  cmd->add_option("-t,--threads", fl->threads, "Threads (default: hardware threads)");
  cmd->callback([fl, cmd, &selected] { selected = [fl, cmd] { return run_inspect(*fl, *cmd); }; });
}

}  // namespace vatp::cli
