// The generation sweep: every sample × KV policy × budget, greedy decoding, scored.
//
// One prefill per sample and group of policies: runs whose schedule does not evict
// during the prefill (oneshot, continuous) fork from one shared full prefill that
// gathers the union of their statistics (Session::prefill_shared / fork_policy);
// chunked runs prefill on their own. Forked runs give the same logits as separate
// runs (test: tests/eval/sweep_test.cc).
//
// Results are appended to OUT/runs.jsonl as each run ends, so an interrupted sweep
// resumes where it stopped (runs already there are skipped). Each record carries the
// sweep's fingerprint and its sample's digest; a record made with another configuration
// or sample is an error, not a result (eval/fingerprint.h). OUT is locked while the sweep
// runs (core/dir_lock.h). At the end OUT gets
// summary.json, summary.csv, summary.md and one SVG per task (score vs budget, one line
// per policy). Progress with an ETA goes to stderr.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "eval/fingerprint.h"
#include "eval/sweep_common.h"
#include "eval/task.h"
#include "kvcache/kv_cache.h"
#include "model/model.h"
#include "policy/flags.h"
#include "tokenizer/tokenizer.h"

namespace vatp::eval {

struct SweepOptions {
  // Policy presets (policy::preset names) and budgets ("0.5", "512"); "full" runs once,
  // whatever the budgets. `overrides` applies the other --kv-* flags to every preset
  // (its `policy` and `budget` fields are ignored).
  std::vector<std::string> policies = {"full"};
  std::vector<std::string> budgets = {"0.5"};
  policy::PolicyFlags overrides;
  std::string out_dir;        // required
  std::string chat_template;  // "" = the model's own (tokenizer/chat_template.h names)
  std::string system_prompt;  // optional system turn for chat samples
  int n_ctx = 0;              // 0 = longest prompt + its max_new_tokens
  kvcache::KvType kv_type = kvcache::KvType::F16;
  bool resume = true;       // skip runs already in OUT/runs.jsonl
  Fingerprint fingerprint;  // what else the results depend on (model, flags, data)
  bool progress = true;     // progress line with ETA on stderr
  // Runs decoding at once on the batched engine (runtime/engine.h); 1: one at a time on
  // a Session. Shared prefills stay shared (forks go to the engine prefilled), and the
  // predictions are the same either way (batch invariance; tests/eval/sweep_test.cc).
  int parallel = 1;
  std::string command_line;  // recorded in summary.json / summary.md
};

// One (task, policy, budget) cell: mean per-sample score × 100.
struct SweepCell {
  std::string task, policy, budget;
  int64_t n = 0;
  double score = 0.0;           // mean × 100, unrounded
  double seconds = 0.0;         // wall time of its runs
  double mean_kv_fraction = 0;  // KV bytes held after the prefill / full cache
};

struct SweepSummary {
  std::vector<SweepCell> cells;
  int64_t runs_done = 0, runs_skipped = 0;
  double seconds = 0.0;
};

struct ModelRef {
  const model::Model& model;
  const tokenizer::Tokenizer& tok;
  ThreadPool& pool;
};

// OUT/runs.jsonl of the generation sweep, locked and checked: open it before loading the
// model, so that a busy directory or a stale log fails at once.
Result<RunLog> open_sweep_log(const SweepOptions& opts);

// `log` from open_sweep_log(opts); the overload without it opens the log itself.
Result<SweepSummary> run_generation_sweep(const ModelRef& m, std::span<const Sample> samples,
                                          const ScoreFn& score, const SweepOptions& opts, RunLog& log);
Result<SweepSummary> run_generation_sweep(const ModelRef& m, std::span<const Sample> samples,
                                          const ScoreFn& score, const SweepOptions& opts);

// The digest of everything in a sample that its runs depend on (prompt, answers, limits).
std::string sample_digest(const Sample& s);

}  // namespace vatp::eval
