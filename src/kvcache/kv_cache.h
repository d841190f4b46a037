// The KV cache: a mechanism, not a policy. Storage per layer and per KV head,
//   K[capacity][head_dim], V[capacity][head_dim]   (f16 by default, f32 or q8_0)
// plus per-slot metadata that scorers read: original position, accumulated attention,
// windowed attention, the last query's attention, ‖v‖₁, ‖v‖₂, ‖k‖₂. The three
// attention statistics have `stat_rows` rows per slot: 1 (already reduced over the GQA
// group) or one per query head of the group (for reductions that must come after the
// accumulation, e.g. max).
// A cache nothing will evict (a full-cache request of the engine) may be created without
// the statistics and norms (`statistics = false`): 24 of 284 bytes per f16 slot of head_dim 64 saved,
// and no norm is computed on append.
// Each KV head keeps its own token set, so lengths are per (layer, head). Capacity is
// fixed at creation: memory is bounded by the budget, not by the context.
// Two mutations only: append() (new tokens) and apply(plan) (eviction); the decision
// of what to evict lives in src/policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/check.h"
#include "core/status.h"

namespace vatp::kvcache {

// q8_0: blocks of 32 values = one f16 scale + 32 int8 (specs/gguf.md §3.1); head_dim
// must be a multiple of 32. ‖v‖ and ‖k‖ are taken from the stored (rounded) values.
enum class KvType { F16, F32, Q8_0 };
Result<KvType> kv_type_from_name(std::string_view name);  // "f16", "f32", "q8_0"
const char* kv_type_name(KvType t);

struct KvCacheConfig {
  int n_layers = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int capacity = 0;  // slots per (layer, head)
  KvType type = KvType::F16;
  int stat_rows = 1;       // rows of acc/window/last attention per slot (1 or the GQA group)
  bool statistics = true;  // attention statistics and norms allocated and kept
};

// Per (layer, KV head): the slots to KEEP, ascending. Heads not listed keep all.
struct HeadKeep {
  int layer = 0;
  int head = 0;
  std::vector<int32_t> keep;
};
struct EvictionPlan {
  std::vector<HeadKeep> heads;
};

class KvCache {
 public:
  static Result<KvCache> create(const KvCacheConfig& cfg);

  const KvCacheConfig& config() const { return cfg_; }
  int capacity() const { return cfg_.capacity; }
  int length(int layer, int head) const { return len_[idx(layer, head)]; }
  int max_length() const;  // over all (layer, head)
  int min_length() const;
  int free_slots() const { return cfg_.capacity - max_length(); }

  // Appends one token to every KV head of `layer`. k, v: n_kv_heads × head_dim f32
  // (k already rotated at `pos`). out_of_range if a head is full.
  Status append(int layer, const float* k, const float* v, int32_t pos);

  // Compacts each listed head to its keep list (ascending, unique, < length), moving
  // K, V and metadata together and preserving order.
  Status apply(const EvictionPlan& plan);
  Status apply(std::span<const HeadKeep> heads);
  // Gives every head's slot j the position j (StreamingLLM's cache positions, used
  // with --kv-rerotate: keys are then stored unrotated and rotated at these positions
  // when attended).
  void renumber_positions();
  void clear();

  // A copy with `capacity` slots per (layer, head) (at least max_length()): the same
  // live slots, positions and statistics. Not a mutation: a held conversation's cache
  // grows this way when a later request continues it (runtime/engine.h).
  Result<KvCache> with_capacity(int capacity) const;

  // Reference comparisons only (tests): the slot stays stored but is never attended,
  // which is how the official VATP/H2O code "evicts" (an attention mask).
  static constexpr int32_t kMaskedPos = INT32_MAX;
  void mask(int layer, int head, int slot) {
    pos_[slot0(layer, head) + static_cast<size_t>(slot)] = kMaskedPos;
  }

  // Slot data of one (layer, head). K/V rows are head_dim elements of type(),
  // row_bytes() each. Attention statistics: stat_rows() rows of capacity() floats.
  KvType type() const { return cfg_.type; }
  size_t row_bytes() const { return row_bytes_; }
  int stat_rows() const { return cfg_.stat_rows; }
  bool has_statistics() const { return cfg_.statistics; }
  const void* k(int layer, int head) const { return kv_ptr(k_, layer, head); }
  const void* v(int layer, int head) const { return kv_ptr(v_, layer, head); }
  const int32_t* pos(int layer, int head) const { return &pos_[slot0(layer, head)]; }
  float* acc_attn(int layer, int head) { return stats(acc_, stat0(layer, head)); }
  const float* acc_attn(int layer, int head) const { return stats(acc_, stat0(layer, head)); }
  float* window_attn(int layer, int head) { return stats(win_, stat0(layer, head)); }
  const float* window_attn(int layer, int head) const { return stats(win_, stat0(layer, head)); }
  float* last_attn(int layer, int head) { return stats(last_, stat0(layer, head)); }
  const float* last_attn(int layer, int head) const { return stats(last_, stat0(layer, head)); }
  const float* value_l1(int layer, int head) const { return stats(vl1_, slot0(layer, head)); }
  const float* value_l2(int layer, int head) const { return stats(vl2_, slot0(layer, head)); }
  const float* key_l2(int layer, int head) const { return stats(kl2_, slot0(layer, head)); }

  // What create(cfg) allocates (K/V storage + metadata), without allocating: the
  // engine's KV pool reserves this much before it admits a sequence.
  static size_t bytes_for(const KvCacheConfig& cfg);
  static size_t row_bytes_for(const KvCacheConfig& cfg);
  size_t bytes_allocated() const;     // K/V storage + metadata
  size_t kv_bytes_per_token() const;  // K+V bytes of one token across all layers and heads
  size_t kv_bytes_used() const;       // K+V bytes of the live slots
  int64_t total_tokens() const;       // live slots summed over (layer, head)

 private:
  KvCache() = default;
  size_t idx(int layer, int head) const { return static_cast<size_t>(layer) * cfg_.n_kv_heads + head; }
  size_t slot0(int layer, int head) const { return idx(layer, head) * static_cast<size_t>(cfg_.capacity); }
  size_t stat0(int layer, int head) const { return slot0(layer, head) * static_cast<size_t>(cfg_.stat_rows); }
  const void* kv_ptr(const std::vector<uint8_t>& buf, int layer, int head) const {
    return buf.data() + slot0(layer, head) * row_bytes_;
  }
  template <typename V>
  auto stats(V& v, size_t offset) const -> decltype(v.data()) {
    VATP_CHECK(cfg_.statistics);  // a cache created without statistics is never scored
    return v.data() + offset;
  }
  void store_row(const float* x, uint8_t* dst) const;  // one K or V row in type()
  void load_row(const uint8_t* src, float* x) const;   // and back

  KvCacheConfig cfg_;
  size_t row_bytes_ = 0;
  std::vector<uint8_t> k_, v_;           // [layer][head][capacity][head_dim] of type
  std::vector<int32_t> pos_;             // [layer][head][capacity]
  std::vector<float> acc_, win_, last_;  // [layer][head][stat_rows][capacity]
  std::vector<float> vl1_, vl2_, kl2_;   // [layer][head][capacity]
  std::vector<int> len_;                 // [layer][head]
  std::vector<float> tmp_;               // [2 × head_dim] append's rounded K/V rows
};

}  // namespace vatp::kvcache
