// Teacher-forced fidelity of KV policies to the full cache (specs/eval.md §4.3).
//
// The text is cut into segments of context + tokens ids. Per segment the first
// `context` ids are prefilled (one shared prefill for the policies that allow it, as in
// eval/sweep.h), then the next `tokens` ids are fed one at a time, the policy evicting
// as its schedule says. At each of those positions the next-token distribution is
// compared with the full cache's: KL(full ‖ policy) (natural log, every term, no
// clipping), top-1 agreement, and the NLL of the true token (→ PPL, ΔPPL).
//
// Streaming perplexity (StreamingLLM §4.1) is the same loop with a one-token context:
// every token is predicted from a cache the policy holds at its budget.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/sweep.h"

namespace vatp::eval {

struct FidelityOptions {
  int64_t context = 1024;  // prompt ids per segment (budget fractions refer to it)
  int64_t tokens = 256;    // teacher-forced ids per segment
  int segments = 1;        // consecutive segments from the start of the text
  // Streaming mode: fractional budgets are turned into token counts of `tokens`, and
  // every policy's schedule is continuous (one eviction per token).
  bool streaming = false;
  std::vector<std::string> policies = {"full"};
  std::vector<std::string> budgets = {"0.5"};
  policy::PolicyFlags overrides;
  kvcache::KvType kv_type = kvcache::KvType::F16;
  bool rerotate = false;  // keys at cache positions after each eviction (SessionOptions::kv_rerotate)
  std::string out_dir;    // required: runs.jsonl, fidelity.{json,csv,md}
  bool resume = true;
  Fingerprint fingerprint;  // what else the results depend on (model, text, flags)
  bool progress = true;
  std::string command_line;
};

struct FidelityCell {
  std::string policy, budget;
  int64_t positions = 0;
  double kl_mean = 0, kl_stderr = 0, kl_max = 0;
  double top1 = 0;  // % of positions with the full cache's argmax
  double ppl = 0, ppl_full = 0;
  double ln_ppl_ratio = 0;  // mean NLL(policy) − mean NLL(full)
  double kv_fraction = 1;   // KV held / full: after the prefill (fidelity), at the end (streaming)
  double seconds = 0;
};

// OUT/runs.jsonl of a fidelity or streaming sweep, locked and checked (as
// open_sweep_log); records are keyed by segment, policy and budget.
Result<RunLog> open_fidelity_log(const FidelityOptions& opts);

// `log` from open_fidelity_log(opts); the overload without it opens the log itself.
Result<std::vector<FidelityCell>> run_fidelity(const ModelRef& m, std::span<const int32_t> text_ids,
                                               const FidelityOptions& opts, RunLog& log);
Result<std::vector<FidelityCell>> run_fidelity(const ModelRef& m, std::span<const int32_t> text_ids,
                                               const FidelityOptions& opts);

// The Markdown table of the cells.
std::string fidelity_markdown(const std::vector<FidelityCell>& cells, bool streaming);

}  // namespace vatp::eval
