#include "cli/eval_common.h"

#include <algorithm>
#include <filesystem>
#include <thread>

#include "cli/cli_checks.h"
#include "core/hash.h"
#include "core/output_file.h"
#include "kvcache/kv_cache.h"

namespace vatp::cli {

void add_model_flags(CLI::App* cmd, ModelFlags& f) {
  cmd->add_option("-m,--model", f.model, "GGUF model file")->required();
  cmd->add_option("-t,--threads", f.threads, "Threads (default: hardware threads)");
  cmd->add_flag("--no-repack", f.no_repack,
                "Keep Q4_0 weights in the file's layout (no interleaved copy; less memory, slower)");
}

Result<LoadedModel> load_model(const ModelFlags& f) {
  VATP_ASSIGN_OR_RETURN(const int threads, resolve_threads(f.threads, f.threads != 0));
  if (!std::filesystem::exists(f.model)) return not_found("model file not found: " + f.model);
  LoadedModel lm;
  lm.kt = std::make_unique<kernels::KernelTable>(kernels::make_kernel_table(kernels::detect_isa()));
  lm.pool = std::make_unique<ThreadPool>(threads);
  VATP_ASSIGN_OR_RETURN(lm.model,
                        model::Model::load(f.model, *lm.kt, {.repack = !f.no_repack, .pool = lm.pool.get()}));
  VATP_ASSIGN_OR_RETURN(tokenizer::Tokenizer tok, tokenizer::Tokenizer::from_gguf(lm.model->gguf()));
  lm.tok = std::make_unique<tokenizer::Tokenizer>(std::move(tok));
  return lm;
}

void add_sweep_flags(CLI::App* cmd, SweepFlags& f) {
  cmd->add_option("--policies", f.policies,
                  "Comma-separated KV policy presets (default full,streaming,h2o,vatp)");
  cmd->add_option("--budgets", f.budgets, "Comma-separated budgets: fractions of the prompt or token counts");
  cmd->add_option("-o,--out", f.out_dir, "Output directory (runs.jsonl, summary.*, plots)")->required();
  cmd->add_flag("--no-resume", f.no_resume, "Start over instead of skipping runs already in OUT/runs.jsonl");
  cmd->add_flag("-q,--quiet", f.quiet, "No progress line");
  cmd->add_option("-c,--ctx-size", f.n_ctx, "Context (default: longest prompt + its answer)");
  cmd->add_option("--kv-type", f.kv_type, "KV cache element type: f16 | f32 | q8_0");
  cmd->add_option(
      "--chat-template", f.chat_template,
      "Template name: llama2, vicuna, chatml, llama3, mistral, mistral-v1, mistral-v3, mistral-v3-tekken, "
      "mistral-v7, mistral-v7-tekken");
  cmd->add_option("--system", f.system, "System message for chat prompts");
  cmd->add_option("--parallel", f.parallel,
                  "Runs decoding at once on the batched engine (default 1: one at a time); the "
                  "predictions are the same");
  add_kv_override_flags(cmd, f.kv, /*with_schedule=*/true);
}

void add_kv_override_flags(CLI::App* cmd, policy::PolicyFlags& kv, bool with_schedule) {
  auto opt = [&](const char* name, std::optional<std::string>& dst, const char* help) {
    cmd->add_option_function<std::string>(
        name, [&dst](const std::string& v) { dst = v; }, help);
  };
  opt("--kv-sinks", kv.sinks, "First tokens always kept (all policies)");
  opt("--kv-recent", kv.recent, "Newest tokens always kept");
  if (with_schedule) opt("--kv-schedule", kv.schedule, "oneshot | continuous | chunked");
  opt("--kv-chunk", kv.chunk, "Prefill chunk for the chunked schedule");
  opt("--kv-group", kv.group, "GQA reduction of query-head scores: sum | mean | max");
  opt("--kv-value-norm", kv.value_norm, "Value weighting: none | l1 | l2");
  opt("--kv-window", kv.window, "Observation window (scissorhands, snapkv)");
  opt("--kv-seed", kv.seed, "Seed of the random policy");
}

Result<std::vector<std::string>> split_list(const std::string& flag, const std::string& s) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (true) {
    const size_t comma = s.find(',', begin);
    std::string item = s.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    if (item.empty()) return invalid_argument(flag + ": empty item in '" + s + "'");
    out.push_back(std::move(item));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return out;
}

Result<eval::SweepOptions> sweep_options(const SweepFlags& f, CLI::App& leaf) {
  eval::SweepOptions o;
  VATP_ASSIGN_OR_RETURN(o.policies, split_list("--policies", f.policies));
  VATP_ASSIGN_OR_RETURN(o.budgets, split_list("--budgets", f.budgets));
  if (f.out_dir.empty()) return invalid_argument("-o OUTDIR is required");
  VATP_RETURN_IF_ERROR(check_output_dir("-o", f.out_dir));
  if (f.n_ctx < 0) return invalid_argument("-c must be > 0, got " + std::to_string(f.n_ctx));
  if (f.parallel < 1) return invalid_argument("--parallel must be >= 1, got " + std::to_string(f.parallel));
  o.parallel = f.parallel;
  o.out_dir = f.out_dir;
  o.resume = !f.no_resume;
  o.progress = !f.quiet;
  o.n_ctx = f.n_ctx;
  VATP_ASSIGN_OR_RETURN(o.kv_type, kvcache::kv_type_from_name(f.kv_type));
  o.chat_template = f.chat_template;
  o.system_prompt = f.system;
  o.overrides = f.kv;
  o.command_line = command_line_of(leaf);
  VATP_ASSIGN_OR_RETURN(o.fingerprint, sweep_fingerprint(leaf));
  return o;
}

namespace {

// Options that choose which runs to do or how to show them, not what a run computes:
// --policies/--budgets are part of each record's key, and the sample counts only add or
// drop samples, whose content is checked per record (eval::sample_digest).
bool is_result_neutral(const std::string& name) {
  static constexpr const char* kNeutral[] = {"--help",    "--out",      "--no-resume", "--quiet",
                                             "--threads", "--policies", "--budgets",   "--samples",
                                             "--limit",   "--segments", "--dump",      "--parallel"};
  return std::find(std::begin(kNeutral), std::end(kNeutral), name) != std::end(kNeutral);
}

// Options naming input files: their content counts, not their path.
const char* file_part_name(const std::string& name) {
  if (name == "--model") return "model file";
  if (name == "--file") return "text file";
  if (name == "--data") return "data file";
  return nullptr;
}

// The value an option had in effect: flags "true"/"false", options their variable after
// parsing (so an omitted default and the same value typed out agree), callback options
// what was typed ("default" when not given).
std::string effective_value(CLI::Option& opt) {
  if (opt.get_items_expected_max() == 0) return opt.count() > 0 ? opt.results().back() : "false";
  opt.capture_default_str();
  if (!opt.get_default_str().empty()) return opt.get_default_str();
  if (opt.count() == 0) return "default";
  std::string out;
  for (const std::string& r : opt.results()) out += (out.empty() ? "" : ",") + r;
  return out;
}

}  // namespace

Result<eval::Fingerprint> sweep_fingerprint(CLI::App& leaf) {
  eval::Fingerprint fp;
  std::string command;
  for (const CLI::App* a = &leaf; a != nullptr && a->get_parent() != nullptr; a = a->get_parent())
    command = a->get_name() + (command.empty() ? "" : " " + command);
  fp.add("command", command);
  for (CLI::Option* opt : leaf.get_options()) {
    const std::string name = opt->get_name(/*positional=*/false, /*all_options=*/false);
    if (is_result_neutral(name)) continue;
    if (const char* part = file_part_name(name)) {
      std::string digests;
      for (const std::string& path : opt->results()) {
        if (!std::filesystem::exists(path)) return not_found(std::string(part) + " not found: " + path);
        VATP_ASSIGN_OR_RETURN(std::string d, file_digest(path));
        digests += (digests.empty() ? "" : "; ") + d;
      }
      fp.add(part, digests);
      continue;
    }
    fp.add(name, effective_value(*opt));
  }
  return fp;
}

std::string command_line_of(const CLI::App& leaf) {
  std::vector<std::string> names;
  for (const CLI::App* a = &leaf; a != nullptr && a->get_parent() != nullptr; a = a->get_parent()) {
    names.push_back(a->get_name());
  }
  std::string out = "vatp";
  for (auto it = names.rbegin(); it != names.rend(); ++it) out += " " + *it;
  for (const CLI::Option* opt : leaf.get_options()) {
    if (opt->count() == 0 || opt->get_name() == "--help") continue;
    const std::string name = opt->get_name(/*positional=*/false, /*all_options=*/false);
    if (opt->get_type_size() == 0) {
      out += " " + name;
      continue;
    }
    for (const std::string& v : opt->results()) {
      const bool quote = v.find_first_of(" \t\"'$") != std::string::npos;
      out += " " + name + " " + (quote ? "'" + v + "'" : v);
    }
  }
  return out;
}

}  // namespace vatp::cli
