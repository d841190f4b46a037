// Flag blocks shared by the commands that generate text (batch, and run/chat/serve as
// they move over): sampling, the KV policy, byte sizes. One place, so help texts and
// defaults cannot drift between commands; the policy list is read from the registry.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "policy/flags.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"

namespace vatp::cli {

// --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --seed
void add_sampling_flags(CLI::App* cmd, runtime::SamplerParams& p);
// --kv-policy --kv-budget and the --kv-* overrides (eval_common's block).
void add_kv_policy_flags(CLI::App* cmd, policy::PolicyFlags& kv);
// "full, streaming, h2o, ..." from policy::preset_names().
std::string kv_policy_names();

// The batched engine's settings (vatp batch, vatp serve).
struct EngineFlags {
  int parallel = 8;
  int batch_tokens = 512;
  int n_batch = 256;
  int n_ctx = 0;  // 0: the model's training context
  int max_queue = 1024;
  std::string kv_memory = "0";
  std::string kv_type = "f16";
  std::string kv_pressure = "queue";
  std::string kv_min_budget;  // "": none
};
// --parallel --kv-memory --batch-tokens -b -c --max-queue --kv-type --kv-pressure
// --kv-min-budget
void add_engine_flags(CLI::App* cmd, EngineFlags& f);
// The flags checked and resolved (n_ctx 0 → n_ctx_train); errors name the flag.
Result<runtime::EngineOptions> engine_options(const EngineFlags& f, int n_ctx_train);

// "1073741824", "1GiB", "512MiB", "64KiB", "2G", "1.5GB" → bytes; errors name the flag.
Result<int64_t> parse_bytes(std::string_view flag, std::string_view s);

}  // namespace vatp::cli
