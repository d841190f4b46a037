// The KV cache: a mechanism, not a policy. Storage per layer and per KV head,
//   K[capacity][head_dim], V[capacity][head_dim]   (f16 by default, or f32)
// plus per-slot metadata that scorers read: original position, accumulated attention,
// windowed attention, the last query's attention, ‖v‖₁, ‖v‖₂, ‖k‖₂.
// Each KV head keeps its own token set, so lengths are per (layer, head). Capacity is
// fixed at creation: memory is bounded by the budget, not by the context.
// Two mutations only: append() (new tokens) and apply(plan) (eviction); the decision
// of what to evict lives in src/policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vatp::kvcache {

enum class KvType { F16, F32 };
Result<KvType> kv_type_from_name(std::string_view name);  // "f16", "f32"
const char* kv_type_name(KvType t);

struct KvCacheConfig {
  int n_layers = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int capacity = 0;  // slots per (layer, head)
  KvType type = KvType::F16;
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
  int free_slots() const { return cfg_.capacity - max_length(); }

  // Appends one token to every KV head of `layer`. k, v: n_kv_heads × head_dim f32
  // (k already rotated at `pos`). out_of_range if a head is full.
  Status append(int layer, const float* k, const float* v, int32_t pos);

  // Compacts each listed head to its keep list (ascending, unique, < length), moving
  // K, V and metadata together and preserving order.
  Status apply(const EvictionPlan& plan);
  void clear();

  // Reference comparisons only (tests): the slot stays stored but is never attended,
  // which is how the official VATP/H2O code "evicts" (an attention mask).
  static constexpr int32_t kMaskedPos = INT32_MAX;
  void mask(int layer, int head, int slot) {
    pos_[slot0(layer, head) + static_cast<size_t>(slot)] = kMaskedPos;
  }

  // Slot data of one (layer, head). K/V rows are head_dim elements of type().
  KvType type() const { return cfg_.type; }
  const void* k(int layer, int head) const { return kv_ptr(k_, layer, head); }
  const void* v(int layer, int head) const { return kv_ptr(v_, layer, head); }
  const int32_t* pos(int layer, int head) const { return &pos_[slot0(layer, head)]; }
  float* acc_attn(int layer, int head) { return &acc_[slot0(layer, head)]; }
  const float* acc_attn(int layer, int head) const { return &acc_[slot0(layer, head)]; }
  float* window_attn(int layer, int head) { return &win_[slot0(layer, head)]; }
  const float* window_attn(int layer, int head) const { return &win_[slot0(layer, head)]; }
  float* last_attn(int layer, int head) { return &last_[slot0(layer, head)]; }
  const float* last_attn(int layer, int head) const { return &last_[slot0(layer, head)]; }
  const float* value_l1(int layer, int head) const { return &vl1_[slot0(layer, head)]; }
  const float* value_l2(int layer, int head) const { return &vl2_[slot0(layer, head)]; }
  const float* key_l2(int layer, int head) const { return &kl2_[slot0(layer, head)]; }

  size_t bytes_allocated() const;     // K/V storage + metadata
  size_t kv_bytes_per_token() const;  // K+V bytes of one token across all layers and heads
  size_t kv_bytes_used() const;       // K+V bytes of the live slots
  int64_t total_tokens() const;       // live slots summed over (layer, head)

 private:
  KvCache() = default;
  size_t idx(int layer, int head) const { return static_cast<size_t>(layer) * cfg_.n_kv_heads + head; }
  size_t slot0(int layer, int head) const { return idx(layer, head) * static_cast<size_t>(cfg_.capacity); }
  size_t elem_bytes() const { return cfg_.type == KvType::F16 ? 2 : 4; }
  const void* kv_ptr(const std::vector<uint8_t>& buf, int layer, int head) const {
    return buf.data() + slot0(layer, head) * cfg_.head_dim * elem_bytes();
  }

  KvCacheConfig cfg_;
  std::vector<uint8_t> k_, v_;  // [layer][head][capacity][head_dim] of type
  std::vector<int32_t> pos_;    // [layer][head][capacity]
  std::vector<float> acc_, win_, last_, vl1_, vl2_, kl2_;
  std::vector<int> len_;  // [layer][head]
};

}  // namespace vatp::kvcache
