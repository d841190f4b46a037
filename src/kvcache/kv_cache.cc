#include "kvcache/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/quant.h"

namespace vatp::kvcache {

Result<KvType> kv_type_from_name(std::string_view name) {
  if (name == "f16") return KvType::F16;
  if (name == "f32") return KvType::F32;
  if (name == "q8_0") return KvType::Q8_0;
  return invalid_argument("unknown KV cache type '" + std::string(name) + "' (expected f16, f32 or q8_0)");
}

const char* kv_type_name(KvType t) {
  switch (t) {
    case KvType::F16: return "f16";
    case KvType::F32: return "f32";
    case KvType::Q8_0: return "q8_0";
  }
  return "?";
}

void KvCache::store_row(const float* x, uint8_t* dst) const {
  const int hd = cfg_.head_dim;
  switch (cfg_.type) {
    case KvType::F32: std::memcpy(dst, x, sizeof(float) * hd); return;
    case KvType::F16: {
      auto* d = reinterpret_cast<uint16_t*>(dst);
      for (int i = 0; i < hd; ++i) d[i] = f32_to_fp16(x[i]);
      return;
    }
    case KvType::Q8_0: kernels::quantize_row_ref(DType::Q8_0, x, dst, hd); return;
  }
}

void KvCache::load_row(const uint8_t* src, float* x) const {
  const int hd = cfg_.head_dim;
  switch (cfg_.type) {
    case KvType::F32: std::memcpy(x, src, sizeof(float) * hd); return;
    case KvType::F16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int i = 0; i < hd; ++i) x[i] = fp16_to_f32(h[i]);
      return;
    }
    case KvType::Q8_0: kernels::dequant_row_ref(DType::Q8_0, src, x, hd); return;
  }
}

Result<KvCache> KvCache::create(const KvCacheConfig& cfg) {
  if (cfg.n_layers <= 0 || cfg.n_kv_heads <= 0 || cfg.head_dim <= 0 || cfg.capacity <= 0) {
    return invalid_argument("KV cache needs positive layers, heads, head_dim and capacity (capacity " +
                            std::to_string(cfg.capacity) + ")");
  }
  if (cfg.stat_rows <= 0) return invalid_argument("KV cache needs stat_rows >= 1");
  if (cfg.type == KvType::Q8_0 && cfg.head_dim % 32 != 0) {
    return invalid_argument(
        "a q8_0 KV cache needs a head dimension that is a multiple of 32 (the model's is " +
        std::to_string(cfg.head_dim) + "); use f16 or f32");
  }
  KvCache c;
  c.cfg_ = cfg;
  const size_t hd = static_cast<size_t>(cfg.head_dim);
  c.row_bytes_ = row_bytes_for(cfg);
  const size_t heads = static_cast<size_t>(cfg.n_layers) * cfg.n_kv_heads;
  const size_t slots = heads * static_cast<size_t>(cfg.capacity);
  c.k_.assign(slots * c.row_bytes_, 0);
  c.v_.assign(slots * c.row_bytes_, 0);
  c.pos_.assign(slots, 0);
  if (cfg.statistics) {
    for (auto* m : {&c.acc_, &c.win_, &c.last_}) m->assign(slots * static_cast<size_t>(cfg.stat_rows), 0.0f);
    for (auto* m : {&c.vl1_, &c.vl2_, &c.kl2_}) m->assign(slots, 0.0f);
  }
  c.tmp_.assign(hd * 2, 0.0f);
  c.len_.assign(heads, 0);
  return c;
}

int KvCache::max_length() const { return len_.empty() ? 0 : *std::max_element(len_.begin(), len_.end()); }
int KvCache::min_length() const { return len_.empty() ? 0 : *std::min_element(len_.begin(), len_.end()); }

Status KvCache::append(int layer, const float* k, const float* v, int32_t pos) {
  const int hd = cfg_.head_dim;
  float* kr = tmp_.data();
  float* vr = kr + hd;
  for (int h = 0; h < cfg_.n_kv_heads; ++h) {
    const size_t i = idx(layer, h);
    if (len_[i] >= cfg_.capacity) {
      return out_of_range("KV cache is full: layer " + std::to_string(layer) + " head " + std::to_string(h) +
                          " holds " + std::to_string(cfg_.capacity) + " tokens");
    }
    const int slot = len_[i];
    const size_t s = slot0(layer, h) + static_cast<size_t>(slot);
    uint8_t* kd = k_.data() + s * row_bytes_;
    uint8_t* vd = v_.data() + s * row_bytes_;
    store_row(k + static_cast<size_t>(h) * hd, kd);
    store_row(v + static_cast<size_t>(h) * hd, vd);
    pos_[s] = pos;
    len_[i]++;
    if (!cfg_.statistics) continue;
    // Norms of the values attention will actually read.
    load_row(kd, kr);
    load_row(vd, vr);
    double l1 = 0, l2 = 0, k2 = 0;
    for (int d = 0; d < hd; ++d) {
      const double kv = kr[d], vv = vr[d];
      l1 += std::fabs(vv);
      l2 += vv * vv;
      k2 += kv * kv;
    }
    const size_t st = stat0(layer, h) + static_cast<size_t>(slot);
    for (int r = 0; r < cfg_.stat_rows; ++r) {
      const size_t o = st + static_cast<size_t>(r) * cfg_.capacity;
      acc_[o] = win_[o] = last_[o] = 0.0f;
    }
    vl1_[s] = static_cast<float>(l1);
    vl2_[s] = static_cast<float>(std::sqrt(l2));
    kl2_[s] = static_cast<float>(std::sqrt(k2));
  }
  return Status::ok();
}

Status KvCache::apply(const EvictionPlan& plan) { return apply(std::span<const HeadKeep>(plan.heads)); }

Status KvCache::apply(std::span<const HeadKeep> heads) {
  // Validate everything before moving anything: apply is all-or-nothing.
  for (const HeadKeep& hk : heads) {
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
  const size_t row = row_bytes_;
  const size_t cap = static_cast<size_t>(cfg_.capacity);
  for (const HeadKeep& hk : heads) {
    const size_t base = slot0(hk.layer, hk.head), sbase = stat0(hk.layer, hk.head);
    for (size_t j = 0; j < hk.keep.size(); ++j) {
      const size_t dst = base + j, src = base + static_cast<size_t>(hk.keep[j]);
      if (dst == src) continue;  // keep[j] >= j always, so moving forward never clobbers a source
      std::memmove(k_.data() + dst * row, k_.data() + src * row, row);
      std::memmove(v_.data() + dst * row, v_.data() + src * row, row);
      pos_[dst] = pos_[src];
      if (!cfg_.statistics) continue;
      for (auto* m : {&vl1_, &vl2_, &kl2_}) (*m)[dst] = (*m)[src];
      for (int r = 0; r < cfg_.stat_rows; ++r) {
        const size_t o = sbase + static_cast<size_t>(r) * cap;
        for (auto* m : {&acc_, &win_, &last_}) (*m)[o + j] = (*m)[o + static_cast<size_t>(hk.keep[j])];
      }
    }
    len_[idx(hk.layer, hk.head)] = static_cast<int>(hk.keep.size());
  }
  return Status::ok();
}

void KvCache::renumber_positions() {
  for (int l = 0; l < cfg_.n_layers; ++l) {
    for (int h = 0; h < cfg_.n_kv_heads; ++h) {
      int32_t* p = &pos_[slot0(l, h)];
      for (int s = 0; s < len_[idx(l, h)]; ++s) p[s] = s;
    }
  }
}

void KvCache::clear() { std::fill(len_.begin(), len_.end(), 0); }

Result<KvCache> KvCache::with_capacity(int capacity) const {
  if (capacity < max_length()) {
    return invalid_argument("a KV cache of " + std::to_string(capacity) + " slots cannot hold the " +
                            std::to_string(max_length()) + " tokens of this one");
  }
  KvCacheConfig cfg = cfg_;
  cfg.capacity = capacity;
  VATP_ASSIGN_OR_RETURN(KvCache c, create(cfg));
  const size_t old_cap = static_cast<size_t>(cfg_.capacity), cap = static_cast<size_t>(capacity);
  for (int l = 0; l < cfg_.n_layers; ++l) {
    for (int h = 0; h < cfg_.n_kv_heads; ++h) {
      const size_t n = static_cast<size_t>(length(l, h));
      const size_t src = slot0(l, h), dst = c.slot0(l, h);
      std::memcpy(c.k_.data() + dst * row_bytes_, k_.data() + src * row_bytes_, n * row_bytes_);
      std::memcpy(c.v_.data() + dst * row_bytes_, v_.data() + src * row_bytes_, n * row_bytes_);
      std::copy_n(pos_.begin() + static_cast<std::ptrdiff_t>(src), n,
                  c.pos_.begin() + static_cast<std::ptrdiff_t>(dst));
      c.len_[idx(l, h)] = static_cast<int>(n);
      if (!cfg_.statistics) continue;
      for (auto m : {&KvCache::vl1_, &KvCache::vl2_, &KvCache::kl2_})
        std::copy_n((this->*m).begin() + static_cast<std::ptrdiff_t>(src), n,
                    (c.*m).begin() + static_cast<std::ptrdiff_t>(dst));
      for (int r = 0; r < cfg_.stat_rows; ++r) {
        const size_t so = stat0(l, h) + static_cast<size_t>(r) * old_cap;
        const size_t d = c.stat0(l, h) + static_cast<size_t>(r) * cap;
        for (auto m : {&KvCache::acc_, &KvCache::win_, &KvCache::last_})
          std::copy_n((this->*m).begin() + static_cast<std::ptrdiff_t>(so), n,
                      (c.*m).begin() + static_cast<std::ptrdiff_t>(d));
      }
    }
  }
  return c;
}

size_t KvCache::row_bytes_for(const KvCacheConfig& cfg) {
  const size_t hd = static_cast<size_t>(cfg.head_dim);
  return cfg.type == KvType::F16 ? hd * 2 : cfg.type == KvType::F32 ? hd * 4 : hd / 32 * 34;
}

size_t KvCache::bytes_for(const KvCacheConfig& cfg) {
  const size_t slots = static_cast<size_t>(cfg.n_layers) * cfg.n_kv_heads * static_cast<size_t>(cfg.capacity);
  // K and V rows; position (4 bytes); three statistics × stat_rows and three norms (floats).
  const size_t stats = cfg.statistics ? (3 * static_cast<size_t>(cfg.stat_rows) + 3) * 4 : 0;
  return slots * (2 * row_bytes_for(cfg) + 4 + stats);
}

size_t KvCache::bytes_allocated() const {
  return k_.size() + v_.size() + pos_.size() * 4 +
         (acc_.size() + win_.size() + last_.size() + vl1_.size() + vl2_.size() + kl2_.size()) * 4;
}

size_t KvCache::kv_bytes_per_token() const {
  return 2 * static_cast<size_t>(cfg_.n_layers) * cfg_.n_kv_heads * row_bytes_;
}

int64_t KvCache::total_tokens() const {
  int64_t n = 0;
  for (int l : len_) n += l;
  return n;
}

size_t KvCache::kv_bytes_used() const { return static_cast<size_t>(total_tokens()) * 2 * row_bytes_; }

}  // namespace vatp::kvcache
