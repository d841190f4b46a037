// Causal attention over the KV cache, one query row at a time: for query token i at
// position p_i and query head h (KV head g = h / group), the scores over g's live slots
// with slot_pos <= p_i, a softmax, and the weighted sum of V. Memory is O(slots) per
// thread — never an m×n matrix — and the exact probabilities of every row are at hand,
// so the statistics that eviction policies need are accumulated in the same pass:
//   acc_attn[s]    += Σ_{h in group} p_{i,h}(s)              (H2O / VATP column sums)
//   window_attn[s] += Σ_{h in group} p_{i,h}(s)  for p_i >= window_start
//   last_attn[s]    = Σ_{h in group} p_{last,h}(s)           (TOVA)
// GQA reduction (sum / mean / max over the group) is selectable.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "kvcache/kv_cache.h"

namespace vatp::model {

enum class GroupReduce { Sum, Mean, Max };

struct AttentionStatsRequest {
  bool accumulate = false;           // add each row's probabilities into acc_attn
  int32_t window_start = INT32_MAX;  // rows at positions >= this also add into window_attn
  bool last = false;                 // overwrite last_attn with the last row's probabilities
  GroupReduce reduce = GroupReduce::Sum;
};

// Per-thread scratch, sized once for the cache capacity: scores and group
// probabilities over the slots, the head's V rows in f32 (converted once per call, not
// once per query), and the query row in f16.
class AttentionScratch {
 public:
  void reserve(int n_threads, int capacity, int head_dim, int group);
  float* scores(int thread) { return &buf_[static_cast<size_t>(thread) * stride_]; }
  float* group_probs(int thread) { return scores(thread) + cap_; }                // [capacity]
  float* values(int thread) { return group_probs(thread) + cap_; }                // [capacity × head_dim]
  uint16_t* q16(int thread) { return &q16_[static_cast<size_t>(thread) * hd_]; }  // [head_dim]
 private:
  std::vector<float> buf_;
  std::vector<uint16_t> q16_;
  size_t stride_ = 0;
  int cap_ = 0;
  int hd_ = 0;
};

// q: m × (n_heads × head_dim) (rotated); pos: m positions; out: m × (n_heads × head_dim).
// The m new tokens must already be in the cache. scale = 1/sqrt(head_dim).
void attention(const kernels::KernelTable& kt, kvcache::KvCache& cache, int layer, const float* q,
               const int32_t* pos, int64_t m, int n_heads, float* out, const AttentionStatsRequest* stats,
               AttentionScratch& scratch, ThreadPool& pool);

}  // namespace vatp::model
