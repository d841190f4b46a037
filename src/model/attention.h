// Causal attention over the KV cache. For query token i at position p_i and query head
// h (KV head g = h / group, consecutive grouping), the scores over g's live slots with
// slot_pos <= p_i, a softmax, and the weighted sum of V.
//
// No m×n matrix: work is split into blocks of up to 16 query rows (tokens × the
// group's heads) against one KV head; a block holds its exact score rows over the
// head's slots (scratch: 16 × capacity floats per thread), so memory is O(capacity)
// per thread whatever m is. Keys are read in tiles of 32 slots (converted to f32 once
// per tile and shared by the block's rows). Because each row's probabilities are exact
// and at hand, the statistics that eviction policies need come in the same pass — no
// second pass over QKᵀ (the alternative, flash-style online softmax, would need one to
// get column sums):
//   acc_attn[s]    += Σ_rows R_i(s)                          (H2O / VATP column sums)
//   window_attn[s] += Σ_{rows with p_i >= window_start} R_i(s) (Scissorhands / SnapKV)
//   last_attn[s]    = R_{m-1}(s)                             (TOVA; 0 for slots it cannot see)
// where R_i(s) = reduce over the group's query heads h of p_{i,h}(s), reduce = sum
// (default) or mean; with PerHead nothing is reduced and each query head h of the
// group keeps its own row h of the statistics (the cache has stat_rows == group), for
// reductions that must follow the accumulation (max over heads of Σ_i p_{i,h}).
// Statistics are summed per row range and then in a fixed order, so they do not
// depend on the thread count or scheduling.
//
// K/V storage f16, f32 or q8_0 is converted to f32 a tile at a time. With key
// rerotation (AttentionScratch::enable_key_rope) the cache holds unrotated keys and a
// key is rotated at its slot's recorded position as it is read.
//
// Numerics (specs/gguf.md §3.6): with an f16 cache, q is rounded to f16 before q·k
// (as llama.cpp does; with f32 and q8_0 it stays f32); scores = (q·k)·(1/sqrt(head_dim)); softmax with the
// row max subtracted, the sum in double; output accumulated in f32.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "kernels/ops.h"
#include "kvcache/kv_cache.h"

namespace vatp::model {

enum class GroupReduce { Sum, Mean, PerHead };

struct AttentionStatsRequest {
  bool accumulate = false;           // add each row's probabilities into acc_attn
  int32_t window_start = INT32_MAX;  // rows at positions >= this also add into window_attn
  bool last = false;                 // overwrite last_attn with the last row's probabilities
  GroupReduce reduce = GroupReduce::Sum;
};

// Preallocated buffers for attention(): per thread, one query block's score rows and
// tiles; shared, the per-row-range statistics before their ordered sum.
class AttentionScratch {
 public:
  void reserve(int n_threads, int n_kv_heads, int capacity, int head_dim, int group);

  struct Thread {
    std::vector<float> s;       // [max_q × cap_pad] score / probability rows
    std::vector<float> q;       // [max_q × head_dim] query rows (f16-rounded for an f16 cache)
    std::vector<uint16_t> q16;  // [max_q × head_dim] query rows as f16 (rounding)
    std::vector<float> o;       // [max_q × head_dim] output rows
    std::vector<float> kt;      // [kSlotTile × head_dim] one key tile in f32
    std::vector<float> kT;      // [head_dim × kSlotTile] the same, transposed
    std::vector<float> vt;      // [kSlotTile × head_dim] one value tile in f32
    std::vector<float> red;     // [capacity] one row's probabilities reduced over the group
  };
  // Keys stored unrotated, rotated at their slot's position when read (--kv-rerotate):
  // cos/sin tables of positions [0, capacity) from kernels::rope_cache.
  void enable_key_rope(const kernels::RopeParams& p, int n_rot, kernels::RopeLayout layout);
  bool key_rope_on() const { return rope_n_rot > 0; }
  std::vector<float> rope_cs;  // [capacity × rope_stride]
  size_t rope_stride = 0;
  int rope_n_rot = 0;
  kernels::RopeLayout rope_layout = kernels::RopeLayout::Normal;

  std::vector<Thread> threads;
  std::vector<float> acc, win;  // [n_kv_heads × kMaxRanges × group × capacity]
  int max_q = 0, cap = 0, cap_pad = 0, head_dim = 0, n_kv = 0, group = 0;

  // Decode (one query token, attention_decode.cc): slot chunks of kDecodeChunk.
  static constexpr int kDecodeChunk = 256;
  int dec_chunks = 0;                  // chunks per head at full capacity
  std::vector<float> dec_s;            // [n_kv × group × cap_pad] scores, then probabilities
  std::vector<float> dec_o;            // [n_kv × dec_chunks × group × head_dim] chunk outputs
  std::vector<float> dec_m;            // [n_kv × dec_chunks × group] chunk maxima
  std::vector<double> dec_l;           // [n_kv × dec_chunks × group] chunk exp sums
  std::vector<float> dec_w;            // [group × dec_chunks] chunk weights of one head
  std::vector<int> dec_ne, dec_unit0;  // [n_kv], [n_kv + 1]
};

// q: m × (n_heads × head_dim) (rotated); pos: m positions; out: m × (n_heads × head_dim).
// The m new tokens must already be in the cache. `scratch` must have been reserved for
// this cache's shape (VATP_CHECKed).
void attention(const kernels::KernelTable& kt, kvcache::KvCache& cache, int layer, const float* q,
               const int32_t* pos, int64_t m, int n_heads, float* out, const AttentionStatsRequest* stats,
               AttentionScratch& scratch, ThreadPool& pool);

// The m == 1 case of attention(), which calls it: parallel over (KV head, chunk of
// kDecodeChunk slots), chunks combined in a fixed order (thread-count independent).
// Same statistics. Up to kDecodeChunk visible slots per head it gives the blocked
// path's bits; beyond, the chunked softmax differs from it by rounding only.
void attention_decode(const kernels::KernelTable& kt, kvcache::KvCache& cache, int layer, const float* q,
                      int32_t pos, int n_heads, float* out, const AttentionStatsRequest* stats,
                      AttentionScratch& scratch, ThreadPool& pool);

}  // namespace vatp::model
