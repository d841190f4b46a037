// Runs a KV policy against a KvCache: tells the forward pass which attention
// statistics to gather, and at the policy's eviction points turns the cache's per-slot
// statistics into a plan (src/policy, a pure decision) and applies it (the only
// mutation). One per session; the plan and selection buffers are members, reused, so
// evictions stop allocating once they have grown to the largest head.
#pragma once

#include <cstdint>
#include <vector>

#include "kvcache/kv_cache.h"
#include "model/attention.h"
#include "policy/policy.h"

namespace vatp::runtime {

class KvEvictor {
 public:
  // prompt_len fixes a fractional budget; ctx bounds positions.
  static Result<KvEvictor> create(const policy::PolicyConfig& cfg, int64_t prompt_len, int64_t ctx);

  const policy::PolicyConfig& config() const { return cfg_; }
  const policy::BudgetSplit& split() const { return split_; }
  // Cache slots per (layer, head) the policy needs at its peak (budget + a chunk/step).
  int64_t capacity() const { return capacity_; }
  // Prompt tokens per forward call during prefill (the chunk for the chunked schedule).
  int64_t prefill_chunk() const { return chunk_; }
  // The cache must keep one statistics row per query head (GQA reduction after the
  // accumulation: --kv-group max).
  bool per_query_head() const { return stat_plan_.per_query_head; }

  // The statistics request for a forward call in the prefill (tokens at positions
  // < prompt_len) or in decoding.
  const model::AttentionStatsRequest* request(bool decoding) const;
  // Called once when the prompt is done (before the post-prefill eviction): applies the
  // prefill scale of windowed scorers.
  void end_prefill(kvcache::KvCache& cache) const;
  // Multi-turn: a later turn's prompt ends at position end_pos. Windowed scorers take
  // their prompt window from this turn's last queries, and the window statistics restart
  // (SnapKV/Scissorhands score the kept slots as a prefill of the whole conversation would).
  void begin_turn(kvcache::KvCache& cache, int64_t end_pos);
  // Evicts if the policy evicts at `phase`; returns the number of slots removed.
  Result<int64_t> maybe_evict(policy::Phase phase, kvcache::KvCache& cache);

 private:
  KvEvictor() : rng_(0) {}
  policy::PolicyConfig cfg_;
  policy::BudgetSplit split_;
  policy::StatPlan stat_plan_;
  int64_t prompt_len_ = 0;
  int64_t capacity_ = 0;
  int64_t chunk_ = 0;
  model::AttentionStatsRequest prefill_req_, decode_req_;
  policy::Rng rng_;
  policy::SelectScratch scratch_;
  std::vector<kvcache::HeadKeep> plan_;  // [layers × kv heads]; the first n of them are applied
  std::vector<std::vector<int32_t>> keep_layer_;
  std::vector<policy::HeadStats> heads_;
};

}  // namespace vatp::runtime
