#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "kernels/ops.h"
#include "model/attention_stats.h"
#include "model/attention_tiles.h"

namespace vatp::model {
namespace {

constexpr int kMaxQ = 64;      // query rows (tokens × heads of one group) per block
constexpr int kMaxRanges = 4;  // row ranges per KV head run in parallel (fixed: deterministic sums)

struct Shape {
  int hd, group, n_heads, n_kv;
  float scale;
  bool f16;       // queries rounded to f16 (an f16 cache)
  int stat_rows;  // 1, or group with GroupReduce::PerHead
};

// One unit of work: KV head g, query rows [r0, r1) in blocks of `rows` tokens.
void run_range(const kernels::KernelTable& kt, const TileKernels& tk, const Shape& sh,
               kvcache::KvCache& cache, int layer, int g, const float* q, const int32_t* pos, int64_t m,
               int64_t r0, int64_t r1, int64_t rows, float* out, const AttentionStatsRequest* stats,
               float* acc_u, float* win_u, const AttentionScratch& scratch, AttentionScratch::Thread& th,
               size_t s_stride) {
  const int hd = sh.hd, group = sh.group;
  const int n = cache.length(layer, g);
  const int32_t* spos = cache.pos(layer, g);
  const auto* kb = static_cast<const uint8_t*>(cache.k(layer, g));
  const auto* vb = static_cast<const uint8_t*>(cache.v(layer, g));
  const int64_t q_stride = static_cast<int64_t>(sh.n_heads) * hd;
  const size_t ucap = static_cast<size_t>(scratch.cap), ccap = static_cast<size_t>(cache.capacity());
  for (int r = 0; r < sh.stat_rows; ++r) {
    if (acc_u) std::fill(acc_u + r * ucap, acc_u + r * ucap + n, 0.0f);
    if (win_u) std::fill(win_u + r * ucap, win_u + r * ucap + n, 0.0f);
  }

  for (int64_t i0 = r0; i0 < r1; i0 += rows) {
    const int64_t i1 = std::min(r1, i0 + rows);
    const int nq = static_cast<int>(i1 - i0) * group;  // block row r = (i - i0)·group + hq
    int32_t maxpos = INT32_MIN;
    for (int64_t i = i0; i < i1; ++i) maxpos = std::max(maxpos, pos[i]);
    int ne = n;  // slots past the last visible one are skipped entirely
    while (ne > 0 && spos[ne - 1] > maxpos) --ne;

    // Query rows; with an f16 cache they are rounded to f16 (llama.cpp's vec_dot_type for
    // an F16 K), so q·k is a sum of exact f16×f16 products.
    for (int r = 0; r < nq; ++r) {
      const float* src = q + (i0 + r / group) * q_stride + static_cast<int64_t>(g * group + r % group) * hd;
      float* dst = &th.q[static_cast<size_t>(r) * hd];
      if (sh.f16) {
        uint16_t* h16 = &th.q16[static_cast<size_t>(r) * hd];
        kernels::f32_to_fp16_row(kt, src, h16, hd);
        kernels::fp16_to_f32_row(kt, h16, dst, hd);
      } else {
        std::memcpy(dst, src, sizeof(float) * hd);
      }
    }

    // Scores s[r][slot] for slot < ne, one key tile at a time. Every row takes the same
    // path whatever the block size, so a token's logits do not depend on how the
    // prompt was batched (prefill == one token at a time, bit for bit).
    for (int t0 = 0; t0 < ne; t0 += kSlotTile) {
      const int nt = std::min(kSlotTile, ne - t0);
      const float* krows = cache_rows_f32(kt, cache, kb, t0, nt, spos, scratch, th.kt.data());
      for (int e = 0; e < hd; ++e) {
        float* col = &th.kT[static_cast<size_t>(e) * kSlotTile];
        for (int t = 0; t < nt; ++t) col[t] = krows[static_cast<size_t>(t) * hd + e];
        for (int t = nt; t < kSlotTile; ++t) col[t] = 0.0f;
      }
      tk.scores(th.q.data(), nq, hd, th.kT.data(), sh.scale, &th.s[static_cast<size_t>(t0)], s_stride);
    }

    // Causal mask by original position, then the softmax of each row.
    for (int r = 0; r < nq; ++r) {
      const int32_t p = pos[i0 + r / group];
      float* sr = &th.s[static_cast<size_t>(r) * s_stride];
      float mx = -INFINITY;
      for (int s = 0; s < ne; ++s) {
        if (spos[s] > p) sr[s] = -INFINITY;
        mx = std::max(mx, sr[s]);
      }
      if (mx == -INFINITY) {  // nothing visible (only possible with masked slots)
        std::fill(sr, sr + ne, 0.0f);
        continue;
      }
      const double sum = tk.exp_sum(sr, ne, mx);
      kernels::scale(sr, static_cast<float>(1.0 / sum), ne);
    }

    // out rows = P · V, one value tile at a time.
    std::fill(th.o.begin(), th.o.begin() + static_cast<size_t>(nq) * hd, 0.0f);
    for (int t0 = 0; t0 < ne; t0 += kSlotTile) {
      const int nt = std::min(kSlotTile, ne - t0);
      const float* vrows = cache_rows_f32(kt, cache, vb, t0, nt, nullptr, scratch, th.vt.data());
      tk.pv(&th.s[static_cast<size_t>(t0)], s_stride, nq, vrows, nt, hd, th.o.data());
    }
    for (int r = 0; r < nq; ++r) {
      float* dst = out + (i0 + r / group) * q_stride + static_cast<int64_t>(g * group + r % group) * hd;
      std::memcpy(dst, &th.o[static_cast<size_t>(r) * hd], sizeof(float) * hd);
    }

    if (!stats) continue;
    for (int64_t i = i0; i < i1; ++i) {
      const bool win = pos[i] >= stats->window_start, last = stats->last && i == m - 1;
      if (!stats->accumulate && !win && !last) continue;
      const float* p0 = &th.s[static_cast<size_t>((i - i0) * group) * s_stride];
      StatTargets t;
      t.acc = stats->accumulate ? acc_u : nullptr;
      t.win = win ? win_u : nullptr;
      t.last = last ? cache.last_attn(layer, g) : nullptr;
      t.row_stride = ucap;
      t.last_row_stride = ccap;
      t.length = n;
      add_row_stats(p0, s_stride, group, ne, stats->reduce, t, th.red.data());
    }
  }
}

}  // namespace

const float* cache_rows_f32(const kernels::KernelTable& kt, const kvcache::KvCache& cache,
                            const uint8_t* base, int t0, int nt, const int32_t* spos,
                            const AttentionScratch& scratch, float* tmp) {
  const int hd = cache.config().head_dim;
  const int64_t n = static_cast<int64_t>(nt) * hd;
  const uint8_t* src = base + static_cast<size_t>(t0) * cache.row_bytes();
  const bool rotate = spos != nullptr && scratch.key_rope_on();
  const float* rows = tmp;
  switch (cache.type()) {
    case kvcache::KvType::F32:
      if (!rotate) return reinterpret_cast<const float*>(src);
      std::memcpy(tmp, src, sizeof(float) * static_cast<size_t>(n));
      break;
    case kvcache::KvType::F16:
      kernels::fp16_to_f32_row(kt, reinterpret_cast<const uint16_t*>(src), tmp, n);
      break;
    case kvcache::KvType::Q8_0: kt.at(DType::Q8_0).dequant_row(src, tmp, n); break;
  }
  if (rotate) {
    const int64_t n_pos = static_cast<int64_t>(scratch.rope_cs.size() / scratch.rope_stride);
    for (int t = 0; t < nt; ++t) {
      const int32_t p = spos[t0 + t];
      if (p < 0 || p >= n_pos) continue;  // a masked slot (tests): never attended
      kernels::rope_apply(tmp + static_cast<size_t>(t) * hd, 1, hd, scratch.rope_n_rot, scratch.rope_layout,
                          &scratch.rope_cs[static_cast<size_t>(p) * scratch.rope_stride]);
    }
  }
  return rows;
}

void AttentionScratch::enable_key_rope(const kernels::RopeParams& p, int n_rot, kernels::RopeLayout layout) {
  rope_n_rot = n_rot;
  rope_layout = layout;
  rope_stride = static_cast<size_t>(n_rot) + 2;
  rope_cs.assign(static_cast<size_t>(cap) * rope_stride, 0.0f);
  for (int pos = 0; pos < cap; ++pos)
    kernels::rope_cache(pos, n_rot, p, &rope_cs[static_cast<size_t>(pos) * rope_stride]);
}

void AttentionScratch::reserve(int n_threads, int n_kv_heads, int capacity, int head_dim_, int group_) {
  max_q = std::max(kMaxQ, group_);
  cap = capacity;
  cap_pad = (capacity + kSlotTile - 1) / kSlotTile * kSlotTile;
  head_dim = head_dim_;
  n_kv = n_kv_heads;
  group = group_;
  threads.resize(static_cast<size_t>(n_threads));
  const size_t mq = static_cast<size_t>(max_q), hd = static_cast<size_t>(head_dim_);
  for (Thread& t : threads) {
    t.s.assign(mq * cap_pad, 0.0f);
    t.q.assign(mq * hd, 0.0f);
    t.q16.assign(mq * hd, 0);
    t.o.assign(mq * hd, 0.0f);
    t.kt.assign(kSlotTile * hd, 0.0f);
    t.kT.assign(kSlotTile * hd, 0.0f);
    t.vt.assign(kSlotTile * hd, 0.0f);
    t.red.assign(static_cast<size_t>(capacity), 0.0f);
  }
  const size_t per = static_cast<size_t>(n_kv_heads) * kMaxRanges * static_cast<size_t>(group_) *
                     static_cast<size_t>(capacity);
  acc.assign(per, 0.0f);
  win.assign(per, 0.0f);
  dec_chunks = (capacity + kDecodeChunk - 1) / kDecodeChunk;
  const size_t nkv = static_cast<size_t>(n_kv_heads), g = static_cast<size_t>(group_),
               nch = static_cast<size_t>(dec_chunks);
  dec_s.assign(nkv * g * static_cast<size_t>(cap_pad), 0.0f);
  dec_o.assign(nkv * nch * g * hd, 0.0f);
  dec_m.assign(nkv * nch * g, 0.0f);
  dec_l.assign(nkv * nch * g, 0.0);
  dec_w.assign(g * nch, 0.0f);
  dec_ne.assign(nkv, 0);
  dec_unit0.assign(nkv + 1, 0);
}

void attention(const kernels::KernelTable& kt, kvcache::KvCache& cache, int layer, const float* q,
               const int32_t* pos, int64_t m, int n_heads, float* out, const AttentionStatsRequest* stats,
               AttentionScratch& scratch, ThreadPool& pool) {
  const kvcache::KvCacheConfig& cc = cache.config();
  Shape sh{cc.head_dim,
           n_heads / cc.n_kv_heads,
           n_heads,
           cc.n_kv_heads,
           1.0f / std::sqrt(static_cast<float>(cc.head_dim)),
           cache.type() == kvcache::KvType::F16,
           stats && stats->reduce == GroupReduce::PerHead ? n_heads / cc.n_kv_heads : 1};
  VATP_CHECK(scratch.head_dim == sh.hd && scratch.n_kv == sh.n_kv && scratch.group == sh.group &&
             scratch.cap >= cache.capacity() && static_cast<int>(scratch.threads.size()) >= pool.size());
  VATP_CHECK(cache.stat_rows() >= sh.stat_rows);
  const TileKernels& tk = tile_kernels(kt.isa);
  if (m == 1) {
    attention_decode(kt, cache, layer, q, pos[0], n_heads, out, stats, scratch, pool);
    return;
  }

  // Row blocks of `rows` tokens (rows × group query rows ≤ max_q), grouped into up to
  // kMaxRanges contiguous ranges per KV head: the parallel units.
  const int64_t rows = std::max(1, scratch.max_q / sh.group);
  const int64_t n_blocks = (m + rows - 1) / rows;
  const int n_ranges = static_cast<int>(std::min<int64_t>(kMaxRanges, n_blocks));
  const bool acc_on = stats && stats->accumulate;
  const bool win_on = stats && stats->window_start != INT32_MAX;
  const size_t cap = static_cast<size_t>(scratch.cap);
  const size_t urows = static_cast<size_t>(sh.stat_rows);
  auto range_rows = [&](int j) { return std::min(m, (n_blocks * j / n_ranges) * rows); };

  pool.parallel_for(static_cast<int64_t>(sh.n_kv) * n_ranges, 1, [&](int64_t u0, int64_t u1, int thread) {
    for (int64_t u = u0; u < u1; ++u) {
      const int g = static_cast<int>(u / n_ranges), j = static_cast<int>(u % n_ranges);
      float* acc_u = acc_on ? &scratch.acc[static_cast<size_t>(u) * urows * cap] : nullptr;
      float* win_u = win_on ? &scratch.win[static_cast<size_t>(u) * urows * cap] : nullptr;
      run_range(kt, tk, sh, cache, layer, g, q, pos, m, range_rows(j), range_rows(j + 1), rows, out, stats,
                acc_u, win_u, scratch, scratch.threads[static_cast<size_t>(thread)],
                static_cast<size_t>(scratch.cap_pad));
    }
  });
  if (!acc_on && !win_on) return;
  // Ranges' statistics added in range order (deterministic).
  pool.parallel_for(sh.n_kv, 1, [&](int64_t g0, int64_t g1, int) {
    for (int64_t g = g0; g < g1; ++g) {
      const int n = cache.length(layer, static_cast<int>(g));
      const size_t ccap = static_cast<size_t>(cache.capacity());
      for (int j = 0; j < n_ranges; ++j) {
        for (size_t r = 0; r < urows; ++r) {
          const size_t u = (static_cast<size_t>(g * n_ranges + j) * urows + r) * cap;
          if (acc_on) {
            float* a = cache.acc_attn(layer, static_cast<int>(g)) + r * ccap;
            kernels::add(a, &scratch.acc[u], a, n);
          }
          if (win_on) {
            float* w = cache.window_attn(layer, static_cast<int>(g)) + r * ccap;
            kernels::add(w, &scratch.win[u], w, n);
          }
        }
      }
    }
  });
}

}  // namespace vatp::model
