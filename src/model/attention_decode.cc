// Decode attention (one query token): the work is split over (KV head, slot chunk)
// rather than one unit per KV head, so that two threads stay busy on a model with
// three KV heads and a long cache is read by all threads at once (flash-decoding).
// Each chunk keeps its own max and sum; the chunks are combined in a fixed order, so
// the result does not depend on the thread count. Statistics for eviction policies are
// the exact probabilities, rescaled from each chunk's local softmax.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "kernels/ops.h"
#include "model/attention.h"
#include "model/attention_stats.h"
#include "model/attention_tiles.h"

namespace vatp::model {

void attention_decode(const kernels::KernelTable& kt, kvcache::KvCache& cache, int layer, const float* q,
                      int32_t p, int n_heads, float* out, const AttentionStatsRequest* stats,
                      AttentionScratch& scratch, ThreadPool& pool) {
  const kvcache::KvCacheConfig& cc = cache.config();
  const int hd = cc.head_dim, n_kv = cc.n_kv_heads, group = n_heads / n_kv;
  const bool f16 = cache.type() == kvcache::KvType::F16;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const TileKernels& tk = tile_kernels(kt.isa);
  const size_t cap_pad = static_cast<size_t>(scratch.cap_pad);
  const int nch_max = scratch.dec_chunks;
  constexpr int C = AttentionScratch::kDecodeChunk;

  // Visible slots per head (slots past the last one at or before p are skipped) and
  // the flattened (head, chunk) work units.
  int* ne = scratch.dec_ne.data();
  int* unit0 = scratch.dec_unit0.data();
  unit0[0] = 0;
  for (int g = 0; g < n_kv; ++g) {
    const int32_t* spos = cache.pos(layer, g);
    int n = cache.length(layer, g);
    while (n > 0 && spos[n - 1] > p) --n;
    ne[g] = n;
    unit0[g + 1] = unit0[g] + (n + C - 1) / C;
  }

  pool.parallel_for(unit0[n_kv], 1, [&](int64_t u0, int64_t u1, int thread) {
    AttentionScratch::Thread& th = scratch.threads[static_cast<size_t>(thread)];
    for (int64_t u = u0; u < u1; ++u) {
      int g = 0;
      while (unit0[g + 1] <= u) ++g;
      const int c = static_cast<int>(u) - unit0[g];
      const int c0 = c * C, c1 = std::min(ne[g], c0 + C);
      const int32_t* spos = cache.pos(layer, g);
      const auto* kb = static_cast<const uint8_t*>(cache.k(layer, g));
      const auto* vb = static_cast<const uint8_t*>(cache.v(layer, g));
      float* S = &scratch.dec_s[static_cast<size_t>(g) * group * cap_pad];
      const size_t part = static_cast<size_t>(g) * nch_max + static_cast<size_t>(c);
      float* o = &scratch.dec_o[part * group * hd];
      float* mx = &scratch.dec_m[part * group];
      double* l = &scratch.dec_l[part * group];

      for (int r = 0; r < group; ++r) {
        const float* src = q + static_cast<int64_t>(g * group + r) * hd;
        float* dst = &th.q[static_cast<size_t>(r) * hd];
        if (f16) {
          uint16_t* h16 = &th.q16[static_cast<size_t>(r) * hd];
          kernels::f32_to_fp16_row(kt, src, h16, hd);
          kernels::fp16_to_f32_row(kt, h16, dst, hd);
        } else {
          std::memcpy(dst, src, sizeof(float) * hd);
        }
      }
      for (int t0 = c0; t0 < c1; t0 += kSlotTile) {
        const int nt = std::min(kSlotTile, c1 - t0);
        const float* krows = cache_rows_f32(kt, cache, kb, t0, nt, spos, scratch, th.kt.data());
        for (int e = 0; e < hd; ++e) {
          float* col = &th.kT[static_cast<size_t>(e) * kSlotTile];
          for (int t = 0; t < nt; ++t) col[t] = krows[static_cast<size_t>(t) * hd + e];
          for (int t = nt; t < kSlotTile; ++t) col[t] = 0.0f;
        }
        tk.scores(th.q.data(), group, hd, th.kT.data(), scale, &S[t0], cap_pad);
      }
      for (int r = 0; r < group; ++r) {
        float* sr = &S[static_cast<size_t>(r) * cap_pad];
        float m = -INFINITY;
        for (int s = c0; s < c1; ++s) {
          if (spos[s] > p) sr[s] = -INFINITY;
          m = std::max(m, sr[s]);
        }
        mx[r] = m;
        if (m == -INFINITY) {
          std::fill(sr + c0, sr + c1, 0.0f);
          l[r] = 0.0;
        } else {
          l[r] = tk.exp_sum(sr + c0, c1 - c0, m);
          // Normalized within the chunk, as the blocked path normalizes a row: with a
          // single chunk the two paths give the same bits.
          kernels::scale(sr + c0, static_cast<float>(1.0 / l[r]), c1 - c0);
        }
      }
      std::fill(o, o + static_cast<size_t>(group) * hd, 0.0f);
      for (int t0 = c0; t0 < c1; t0 += kSlotTile) {
        const int nt = std::min(kSlotTile, c1 - t0);
        const float* vrows = cache_rows_f32(kt, cache, vb, t0, nt, nullptr, scratch, th.vt.data());
        tk.pv(&S[t0], cap_pad, group, vrows, nt, hd, o);
      }
    }
  });

  // Combine the chunks in order: out = Σ_c o_c·w_c, w_c = l_c·e^(m_c−M) / Σ_c' l_c'·e^(m_c'−M)
  // (o_c is already normalized by l_c).
  for (int g = 0; g < n_kv; ++g) {
    const int nch = unit0[g + 1] - unit0[g];
    for (int r = 0; r < group; ++r) {
      float* dst = out + static_cast<int64_t>(g * group + r) * hd;
      std::fill(dst, dst + hd, 0.0f);
      float M = -INFINITY;
      for (int c = 0; c < nch; ++c)
        M = std::max(M, scratch.dec_m[(static_cast<size_t>(g) * nch_max + c) * group + r]);
      float* w = &scratch.dec_w[static_cast<size_t>(r) * nch_max];
      if (M == -INFINITY) {
        std::fill(w, w + nch, 0.0f);
        continue;
      }
      double L = 0.0;
      for (int c = 0; c < nch; ++c) {
        const size_t part = (static_cast<size_t>(g) * nch_max + c) * group + r;
        const double f =
            scratch.dec_m[part] == -INFINITY ? 0.0 : std::exp(static_cast<double>(scratch.dec_m[part]) - M);
        L += scratch.dec_l[part] * f;
      }
      for (int c = 0; c < nch; ++c) {
        const size_t part = (static_cast<size_t>(g) * nch_max + c) * group + r;
        const double f =
            scratch.dec_m[part] == -INFINITY ? 0.0 : std::exp(static_cast<double>(scratch.dec_m[part]) - M);
        w[c] = static_cast<float>(scratch.dec_l[part] * f / L);
        const float* oc = &scratch.dec_o[((static_cast<size_t>(g) * nch_max + c) * group + r) * hd];
        for (int e = 0; e < hd; ++e) dst[e] += w[c] * oc[e];
      }
    }
    if (!stats) continue;
    // Exact probabilities of this head's rows, reduced over the group.
    const bool win = p >= stats->window_start;
    if (!stats->accumulate && !win && !stats->last) continue;
    const int n = cache.length(layer, g);
    float* S = &scratch.dec_s[static_cast<size_t>(g) * group * cap_pad];
    for (int r = 0; r < group; ++r) {
      float* sr = &S[static_cast<size_t>(r) * cap_pad];
      const float* w = &scratch.dec_w[static_cast<size_t>(r) * nch_max];
      for (int c = 0; c < nch; ++c) {
        const int c0 = c * C, c1 = std::min(ne[g], c0 + C);
        kernels::scale(sr + c0, w[c], c1 - c0);
      }
    }
    if (stats->reduce == GroupReduce::PerHead) VATP_CHECK(cache.stat_rows() >= group);
    StatTargets t;
    t.acc = stats->accumulate ? cache.acc_attn(layer, g) : nullptr;
    t.win = win ? cache.window_attn(layer, g) : nullptr;
    t.last = stats->last ? cache.last_attn(layer, g) : nullptr;
    t.row_stride = t.last_row_stride = static_cast<size_t>(cache.capacity());
    t.length = n;
    add_row_stats(S, cap_pad, group, ne[g], stats->reduce, t, scratch.threads[0].red.data());
  }
}

}  // namespace vatp::model
