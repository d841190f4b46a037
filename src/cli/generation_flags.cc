#include "cli/generation_flags.h"

#include <cmath>
#include <cstdlib>
#include <utility>

#include "cli/eval_common.h"

namespace vatp::cli {

void add_sampling_flags(CLI::App* cmd, runtime::SamplerParams& p) {
  cmd->add_option("--temp", p.temp, "Temperature; 0 = greedy (default 0.8)");
  cmd->add_option("--top-k", p.top_k, "Top-k, <= 0 off (default 40)");
  cmd->add_option("--top-p", p.top_p, "Top-p in (0,1], 1 off (default 0.95)");
  cmd->add_option("--min-p", p.min_p, "Min-p in [0,1], 0 off (default 0.05)");
  cmd->add_option("--repeat-penalty", p.repeat_penalty, "Repeat penalty, 1 off (default 1.0)");
  cmd->add_option("--repeat-last-n", p.repeat_last_n, "Tokens the repeat penalty looks back (default 64)");
  cmd->add_option("--seed", p.seed, "Sampling seed (default 0)");
}

std::string kv_policy_names() {
  std::string s;
  for (std::string_view n : policy::preset_names()) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

void add_kv_policy_flags(CLI::App* cmd, policy::PolicyFlags& kv) {
  cmd->add_option("--kv-policy", kv.policy, "KV policy: " + kv_policy_names() + " (default full)");
  cmd->add_option_function<std::string>(
      "--kv-budget", [&kv](const std::string& v) { kv.budget = v; },
      "Tokens kept: a count (512) or a fraction of the prompt (0.5)");
  add_kv_override_flags(cmd, kv, /*with_schedule=*/true);
}

void add_engine_flags(CLI::App* cmd, EngineFlags& f) {
  cmd->add_option("--parallel", f.parallel, "Sequences running at once (default 8)");
  cmd->add_option("--kv-memory", f.kv_memory,
                  "Bound on all sequences' KV caches, e.g. 1GiB, 512MiB (default 0: no bound)");
  cmd->add_option("--batch-tokens", f.batch_tokens,
                  "Prefill rows per step beside the decode rows (default 512)");
  cmd->add_option("-b,--batch-size", f.n_batch,
                  "One sequence's prompt tokens per forward call (default 256)");
  cmd->add_option("-c,--ctx-size", f.n_ctx, "Context per sequence (default: the model's training context)");
  cmd->add_option("--max-queue", f.max_queue, "Requests waiting for admission at once (default 1024)");
  cmd->add_option("--kv-type", f.kv_type, "KV cache storage: f16 (default) | f32 | q8_0");
  cmd->add_option("--kv-pressure", f.kv_pressure,
                  "When a request does not fit in --kv-memory: queue (default: it waits) | compress "
                  "(running requests that allow it, kv.min_budget, are cut to that budget so it fits)");
  cmd->add_option("--kv-min-budget", f.kv_min_budget,
                  "With --kv-pressure compress: the budget (tokens or fraction) requests without "
                  "kv.min_budget may be cut to (default: none, only requests that say)");
}

Result<runtime::EngineOptions> engine_options(const EngineFlags& f, int n_ctx_train) {
  runtime::EngineOptions o;
  VATP_ASSIGN_OR_RETURN(o.kv_memory, parse_bytes("--kv-memory", f.kv_memory));
  VATP_ASSIGN_OR_RETURN(o.kv_type, kvcache::kv_type_from_name(f.kv_type));
  o.n_ctx = f.n_ctx > 0 ? f.n_ctx : n_ctx_train;
  if (f.n_ctx < 0) return invalid_argument("-c must be >= 0, got " + std::to_string(f.n_ctx));
  o.parallel = f.parallel;
  o.batch_tokens = f.batch_tokens;
  o.n_batch = f.n_batch;
  o.max_queue = f.max_queue;
  if (f.kv_pressure == "compress") {
    o.kv_pressure = runtime::EngineOptions::KvPressure::kCompress;
  } else if (f.kv_pressure != "queue") {
    return invalid_argument("--kv-pressure must be queue or compress, got '" + f.kv_pressure + "'");
  }
  if (!f.kv_min_budget.empty()) {
    Result<policy::Budget> b = policy::parse_budget(f.kv_min_budget);
    if (!b.is_ok()) return b.status().with_context("--kv-min-budget");
    if (o.kv_pressure != runtime::EngineOptions::KvPressure::kCompress)
      return invalid_argument("--kv-min-budget needs --kv-pressure compress");
    o.default_min_budget = *b;
  }
  return o;
}

Result<int64_t> parse_bytes(std::string_view flag, std::string_view s) {
  static const std::pair<const char*, double> kUnits[] = {
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
      {"KB", 1e3},     {"MB", 1e6},        {"GB", 1e9},           {"TB", 1e12},
      {"K", 1024.0},   {"M", 1048576.0},   {"G", 1073741824.0},   {"T", 1099511627776.0},
      {"B", 1.0}};
  const std::string text(s);
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  const std::string_view unit(end, static_cast<size_t>(text.c_str() + text.size() - end));
  double mult = unit.empty() ? 1.0 : 0.0;
  for (const auto& [name, m] : kUnits) {
    if (unit == name) mult = m;
  }
  if (text.empty() || end == text.c_str() || mult == 0.0 || !std::isfinite(x) || x < 0 || x * mult > 9e18) {
    return invalid_argument(std::string(flag) + ": '" + text +
                            "' is not a size (expected e.g. 1073741824, 512MiB, 2GiB)");
  }
  return static_cast<int64_t>(x * mult);
}

}  // namespace vatp::cli
