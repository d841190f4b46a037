// Flags and set-up shared by the `vatp eval` tasks that run a model: the model and
// threads, and the sweep over KV policies × budgets (eval/sweep.h).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "eval/fingerprint.h"
#include "eval/sweep.h"
#include "kernels/kernel_table.h"
#include "model/model.h"
#include "policy/flags.h"
#include "tokenizer/tokenizer.h"

namespace vatp::cli {

struct ModelFlags {
  std::string model;
  int threads = 0;  // 0: hardware threads
  bool no_repack = false;
};
void add_model_flags(CLI::App* cmd, ModelFlags& f);

// A loaded model with its tokenizer and thread pool (members in dependency order).
struct LoadedModel {
  std::unique_ptr<kernels::KernelTable> kt;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  std::unique_ptr<ThreadPool> pool;
  eval::ModelRef ref() const { return {*model, *tok, *pool}; }
};
Result<LoadedModel> load_model(const ModelFlags& f);

struct SweepFlags {
  std::string policies = "full,streaming,h2o,vatp";
  std::string budgets = "0.5,0.25,0.1";
  std::string out_dir;
  bool no_resume = false;
  bool quiet = false;
  int n_ctx = 0;
  std::string kv_type = "f16";
  std::string chat_template, system;
  policy::PolicyFlags kv;  // other --kv-* flags, applied to every policy
  int parallel = 1;        // runs decoding at once on the batched engine
};
// --policies --budgets -o --no-resume --quiet -c --kv-type --chat-template --system --parallel and
// --kv-sinks/--kv-recent/--kv-schedule/--kv-chunk/--kv-group/--kv-value-norm/--kv-window/--kv-seed.
void add_sweep_flags(CLI::App* cmd, SweepFlags& f);
// The --kv-* flags other than --kv-policy/--kv-budget, applied to every policy of a sweep
// (--kv-schedule only when with_schedule).
void add_kv_override_flags(CLI::App* cmd, policy::PolicyFlags& kv, bool with_schedule);
// The options of the sweep command `leaf` (after parsing): its command line (recorded in
// the summaries) and its fingerprint (sweep_fingerprint).
Result<eval::SweepOptions> sweep_options(const SweepFlags& f, CLI::App& leaf);

// The fingerprint of a sweep command's results (eval/fingerprint.h): the command, the
// content of its model and data files and the effective value of every other option, but
// for those that cannot change a run's result (output, progress, threads, which policies,
// budgets and how many samples). New options are thus part of it unless listed there.
// Call after parsing.
Result<eval::Fingerprint> sweep_fingerprint(CLI::App& leaf);

// Splits "a,b,c" (empty items are an error naming the flag).
Result<std::vector<std::string>> split_list(const std::string& flag, const std::string& s);

// The command line as typed, for summaries: "vatp eval ruler -m ...".
std::string command_line_of(const CLI::App& leaf);

}  // namespace vatp::cli
