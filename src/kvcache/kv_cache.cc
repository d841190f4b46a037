#include "kvcache/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"

namespace vatp::kvcache {

Result<KvType> kv_type_from_name(std::string_view name) {
  if (name == "f16") return KvType::F16;
  if (name == "f32") return KvType::F32;
  if (name == "q8_0") return unimplemented("KV cache type 'q8_0' is not supported yet (use f16 or f32)");
  return invalid_argument("unknown KV cache type '" + std::string(name) + "' (expected f16 or f32)");
}

const char* kv_type_name(KvType t) { return t == KvType::F16 ? "f16" : "f32"; }

Result<KvCache> KvCache::create(const KvCacheConfig& cfg) {
  if (cfg.n_layers <= 0 || cfg.n_kv_heads <= 0 || cfg.head_dim <= 0 || cfg.capacity <= 0) {
    return invalid_argument("KV cache needs positive layers, heads, head_dim and capacity (capacity " +
                            std::to_string(cfg.capacity) + ")");
  }
  KvCache c;
  c.cfg_ = cfg;
  const size_t heads = static_cast<size_t>(cfg.n_layers) * cfg.n_kv_heads;
  const size_t slots = heads * static_cast<size_t>(cfg.capacity);
  c.k_.assign(slots * cfg.head_dim * c.elem_bytes(), 0);
  c.v_.assign(slots * cfg.head_dim * c.elem_bytes(), 0);
  c.pos_.assign(slots, 0);
  for (auto* m : {&c.acc_, &c.win_, &c.last_, &c.vl1_, &c.vl2_, &c.kl2_}) m->assign(slots, 0.0f);
  c.len_.assign(heads, 0);
  return c;
}

int KvCache::max_length() const { return len_.empty() ? 0 : *std::max_element(len_.begin(), len_.end()); }

Status KvCache::append(int layer, const float* k, const float* v, int32_t pos) {
  const int hd = cfg_.head_dim;
  for (int h = 0; h < cfg_.n_kv_heads; ++h) {
    const size_t i = idx(layer, h);
    if (len_[i] >= cfg_.capacity) {
      return out_of_range("KV cache is full: layer " + std::to_string(layer) + " head " + std::to_string(h) +
                          " holds " + std::to_string(cfg_.capacity) + " tokens");
    }
    const size_t s = slot0(layer, h) + static_cast<size_t>(len_[i]);
    const float* kh = k + static_cast<size_t>(h) * hd;
    const float* vh = v + static_cast<size_t>(h) * hd;
    double l1 = 0, l2 = 0, k2 = 0;
    if (cfg_.type == KvType::F16) {
      uint16_t* kd = reinterpret_cast<uint16_t*>(k_.data()) + s * hd;
      uint16_t* vd = reinterpret_cast<uint16_t*>(v_.data()) + s * hd;
      for (int d = 0; d < hd; ++d) {
        kd[d] = f32_to_fp16(kh[d]);
        vd[d] = f32_to_fp16(vh[d]);
        const double kv = fp16_to_f32(kd[d]), vv = fp16_to_f32(vd[d]);
        l1 += std::fabs(vv);
        l2 += vv * vv;
        k2 += kv * kv;
      }
    } else {
      float* kd = reinterpret_cast<float*>(k_.data()) + s * hd;
      float* vd = reinterpret_cast<float*>(v_.data()) + s * hd;
      std::memcpy(kd, kh, sizeof(float) * hd);
      std::memcpy(vd, vh, sizeof(float) * hd);
      for (int d = 0; d < hd; ++d) {
        l1 += std::fabs(static_cast<double>(vh[d]));
        l2 += static_cast<double>(vh[d]) * vh[d];
        k2 += static_cast<double>(kh[d]) * kh[d];
      }
    }
    pos_[s] = pos;
    acc_[s] = win_[s] = last_[s] = 0.0f;
    vl1_[s] = static_cast<float>(l1);
    vl2_[s] = static_cast<float>(std::sqrt(l2));
    kl2_[s] = static_cast<float>(std::sqrt(k2));
    len_[i]++;
  }
  return Status::ok();
}

Status KvCache::apply(const EvictionPlan& plan) {
  // Validate everything before moving anything: apply is all-or-nothing.
  for (const HeadKeep& hk : plan.heads) {
    if (hk.layer < 0 || hk.layer >= cfg_.n_layers || hk.head < 0 || hk.head >= cfg_.n_kv_heads) {
      return invalid_argument("eviction plan names layer " + std::to_string(hk.layer) + " head " +
                              std::to_string(hk.head) + ", which does not exist");
    }
    const int len = len_[idx(hk.layer, hk.head)];
    for (size_t j = 0; j < hk.keep.size(); ++j) {
      if (hk.keep[j] < 0 || hk.keep[j] >= len || (j > 0 && hk.keep[j] <= hk.keep[j - 1])) {
        return invalid_argument("eviction plan for layer " + std::to_string(hk.layer) + " head " +
                                std::to_string(hk.head) + " is not an ascending list of live slots");
      }
    }
  }
  const size_t row = static_cast<size_t>(cfg_.head_dim) * elem_bytes();
  for (const HeadKeep& hk : plan.heads) {
    const size_t base = slot0(hk.layer, hk.head);
    for (size_t j = 0; j < hk.keep.size(); ++j) {
      const size_t dst = base + j, src = base + static_cast<size_t>(hk.keep[j]);
      if (dst == src) continue;  // keep[j] >= j always, so moving forward never clobbers a source
      std::memmove(k_.data() + dst * row, k_.data() + src * row, row);
      std::memmove(v_.data() + dst * row, v_.data() + src * row, row);
      pos_[dst] = pos_[src];
      for (auto* m : {&acc_, &win_, &last_, &vl1_, &vl2_, &kl2_}) (*m)[dst] = (*m)[src];
    }
    len_[idx(hk.layer, hk.head)] = static_cast<int>(hk.keep.size());
  }
  return Status::ok();
}

void KvCache::clear() { std::fill(len_.begin(), len_.end(), 0); }

size_t KvCache::bytes_allocated() const {
  return k_.size() + v_.size() + pos_.size() * 4 +
         (acc_.size() + win_.size() + last_.size() + vl1_.size() + vl2_.size() + kl2_.size()) * 4;
}

size_t KvCache::kv_bytes_per_token() const {
  return 2 * static_cast<size_t>(cfg_.n_layers) * cfg_.n_kv_heads * cfg_.head_dim * elem_bytes();
}

int64_t KvCache::total_tokens() const {
  int64_t n = 0;
  for (int l : len_) n += l;
  return n;
}

size_t KvCache::kv_bytes_used() const {
  return static_cast<size_t>(total_tokens()) * 2 * cfg_.head_dim * elem_bytes();
}

}  // namespace vatp::kvcache
