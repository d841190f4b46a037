// `vatp eval fidelity` and `vatp eval ppl-stream`: teacher-forced comparison of KV
// policies with the full cache over a text (src/eval/fidelity.h).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/cli_checks.h"
#include "cli/command.h"
#include "cli/eval_common.h"
#include "core/output_file.h"
#include "eval/fidelity.h"
#include "kvcache/kv_cache.h"

namespace vatp::cli {
namespace {

struct FidelityFlags {
  ModelFlags model;
  std::string text_file;
  std::string policies = "full,streaming,h2o,vatp";
  std::string budgets = "0.5,0.25,0.1";
  int64_t context = 1024, tokens = 256;
  int segments = 1;
  std::string out_dir;
  bool no_resume = false, quiet = false;
  std::string kv_type = "f16";
  bool rerotate = false;
  policy::PolicyFlags kv;
};

Status run(const FidelityFlags& f, bool streaming, CLI::App& cmd) {
  eval::FidelityOptions o;
  VATP_ASSIGN_OR_RETURN(o.policies, split_list("--policies", f.policies));
  VATP_ASSIGN_OR_RETURN(o.budgets, split_list("--budgets", f.budgets));
  o.context = streaming ? 1 : f.context;
  o.tokens = f.tokens;
  o.segments = f.segments;
  o.streaming = streaming;
  o.overrides = f.kv;
  VATP_ASSIGN_OR_RETURN(o.kv_type, kvcache::kv_type_from_name(f.kv_type));
  o.rerotate = f.rerotate;
  o.out_dir = f.out_dir;
  o.resume = !f.no_resume;
  o.progress = !f.quiet;
  o.command_line = command_line_of(cmd);
  VATP_RETURN_IF_ERROR(check_output_dir("-o", f.out_dir));
  VATP_ASSIGN_OR_RETURN(std::string text, read_input_file("-f", f.text_file));
  VATP_ASSIGN_OR_RETURN(o.fingerprint, sweep_fingerprint(cmd));
  // Before the model loads: a busy or stale output directory fails at once.
  VATP_ASSIGN_OR_RETURN(eval::RunLog log, eval::open_fidelity_log(o));
  VATP_ASSIGN_OR_RETURN(LoadedModel lm, load_model(f.model));
  const std::vector<int32_t> ids = lm.tok->encode(text, /*add_special=*/true, /*parse_special=*/false);
  VATP_ASSIGN_OR_RETURN(std::vector<eval::FidelityCell> cells, eval::run_fidelity(lm.ref(), ids, o, log));
  std::fputs(eval::fidelity_markdown(cells, streaming).c_str(), stdout);
  return Status::ok();
}

void add(CLI::App& eval, CommandFn& selected, bool streaming) {
  auto fl = std::make_shared<FidelityFlags>();
  CLI::App* cmd = streaming
                      ? eval.add_subcommand(
                            "ppl-stream",
                            "StreamingLLM-style perplexity: every token predicted from a cache held at the "
                            "budget (one eviction per token), compared with the full cache")
                      : eval.add_subcommand(
                            "fidelity",
                            "Prefill a context, evict, then teacher-force the next tokens: KL(full‖policy), "
                            "top-1 agreement and ΔPPL per policy × budget");
  add_model_flags(cmd, fl->model);
  cmd->add_option("-f,--file", fl->text_file, "Text file")->required();
  cmd->add_option("--policies", fl->policies, "Comma-separated KV policy presets");
  cmd->add_option("--budgets", fl->budgets,
                  streaming ? "Comma-separated budgets: token counts or fractions of the streamed tokens"
                            : "Comma-separated budgets: fractions of the context or token counts");
  if (!streaming) {
    cmd->add_option("--context", fl->context, "Prompt tokens per segment (default 1024)");
  }
  cmd->add_option("--tokens", fl->tokens,
                  streaming ? "Tokens streamed per segment (default 256)"
                            : "Teacher-forced tokens per segment (default 256)");
  cmd->add_option("--segments", fl->segments, "Consecutive segments of the text (default 1)");
  cmd->add_option("-o,--out", fl->out_dir, "Output directory (runs.jsonl and summaries)")->required();
  cmd->add_flag("--no-resume", fl->no_resume, "Start over instead of skipping finished runs");
  cmd->add_flag("-q,--quiet", fl->quiet, "No progress line");
  cmd->add_option("--kv-type", fl->kv_type, "KV cache element type: f16 | f32 | q8_0");
  cmd->add_flag(
      "--kv-rerotate", fl->rerotate,
      "Renumber kept tokens to cache positions after each eviction and rotate keys there (StreamingLLM)");
  add_kv_override_flags(cmd, fl->kv, /*with_schedule=*/!streaming);
  cmd->callback([fl, cmd, &selected, streaming] {
    selected = [fl, cmd, streaming] { return run(*fl, streaming, *cmd); };
  });
}

}  // namespace

void add_eval_fidelity_commands(CLI::App& eval, CommandFn& selected) {
  add(eval, selected, /*streaming=*/false);
  add(eval, selected, /*streaming=*/true);
}

}  // namespace vatp::cli
