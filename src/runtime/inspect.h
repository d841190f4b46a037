// `vatp inspect`'s measurements: a prompt run through the model with the full cache,
// gathering per slot the statistics KV policies score with, and a per-head summary of
// attention sinks and their value norms (Guo et al. 2024, §3.2 of specs/vatp.md: sinks
// get large attention but small ‖v‖₁).
//
// The statistics are the engine's own (KvCache per-slot accumulators filled by the
// attention pass), so what is shown is exactly what h2o/vatp rank by after a prefill:
//   acc_attn[p] = Σ over prompt rows i >= p, Σ over the group's query heads of A_i(p)
//   vatp[p]     = acc_attn[p] × ‖v_p‖₁
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "kvcache/kv_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace vatp::runtime {

struct InspectOptions {
  int n_batch = 256;  // prefill rows per forward call (does not change the statistics)
  kvcache::KvType kv_type = kvcache::KvType::F16;
  std::vector<int> layers;  // layers to keep, ascending; empty: all
};

// One (layer, KV head): index = position in the prompt.
struct HeadTrace {
  int layer = 0;
  int head = 0;
  std::vector<float> acc_attn;
  std::vector<float> v_l1;
  std::vector<float> v_l2;
  std::vector<float> k_l2;
  double vatp(size_t pos) const { return static_cast<double>(acc_attn[pos]) * v_l1[pos]; }
};

struct InspectTrace {
  int n_layers = 0;  // of the model
  int n_heads = 0;   // query heads
  int n_kv_heads = 0;
  int group = 0;  // query heads per KV head
  std::vector<int32_t> tokens;
  std::vector<int> layers;       // the layers traced, ascending
  std::vector<HeadTrace> heads;  // layers.size() × n_kv_heads, layer-major
};

// Parses "all" or a comma list ("0,5,29") against n_layers: ascending, unique, in range.
Result<std::vector<int>> parse_layer_list(const std::string& text, int n_layers);

// Runs `tokens` (positions 0..n-1) through `model` with a full cache of n slots and
// reads the per-slot statistics of the requested layers.
Result<InspectTrace> trace_prompt(const model::Model& model, const tokenizer::Tokenizer& tok,
                                  ThreadPool& pool, std::span<const int32_t> tokens,
                                  const InspectOptions& opts);

struct SinkToken {
  int pos = 0;
  double acc_attn = 0;
  double share = 0;  // acc_attn / Σ acc_attn of the head
  double v_l1 = 0;
  int v_l1_rank = 0;           // 1 = smallest ‖v‖₁ of the head's tokens
  double v_l1_percentile = 0;  // % of the other tokens with a smaller ‖v‖₁ (0 = smallest, 100 = largest)
  int vatp_rank = 0;  // 1 = highest acc_attn × ‖v‖₁ (where VATP would rank it without sink protection)
};

inline constexpr double kStrongSinkFactor = 20.0;

struct HeadSummary {
  int layer = 0;
  int head = 0;
  double total_acc = 0;  // Σ acc_attn = rows × group for a prefill (each row sums to 1 per query head)
  std::vector<SinkToken> sinks;     // top-K by acc_attn, descending
  double sink_share = 0;            // Σ share of the sinks
  double sink_v_l1_percentile = 0;  // mean over the sinks
  double v_l1_median = 0;
  SinkToken first;  // position 0 (BOS when the vocabulary adds one), whether a sink or not
  // The sinks' percentiles weighted by their acc_attn (dominated by the strongest sink).
  double sink_v_l1_percentile_weighted = 0;
  // Top-K tokens are not all sinks: a "strong" sink takes at least kStrongSinkFactor ×
  // the mean acc_attn per token (total_acc / n; for 2048 tokens that is a 1 % share).
  int strong_sinks = 0;
  // The paper's observation for this head: every top-K sink's ‖v‖₁ is in the lowest
  // quarter of the head's tokens ...
  bool sinks_have_small_v = false;
  // ... and restricted to the strong sinks (false when there are none).
  bool strong_sinks_have_small_v = false;
};

// Top-`k` sinks of each traced head (k >= 1, clamped to the prompt length).
Result<std::vector<HeadSummary>> summarize_sinks(const InspectTrace& trace, int k);

}  // namespace vatp::runtime
