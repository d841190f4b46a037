#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ops.h"

namespace vatp::model {

void AttentionScratch::reserve(int n_threads, int capacity, int head_dim, int group) {
  (void)group;
  cap_ = capacity;
  hd_ = head_dim;
  stride_ = static_cast<size_t>(capacity) * (2 + static_cast<size_t>(head_dim)) + 16;
  buf_.assign(stride_ * static_cast<size_t>(n_threads), 0.0f);
  q16_.assign(static_cast<size_t>(head_dim) * n_threads, 0);
}

void attention(const kernels::KernelTable& kt, kvcache::KvCache& cache, int layer, const float* q,
               const int32_t* pos, int64_t m, int n_heads, float* out, const AttentionStatsRequest* stats,
               AttentionScratch& scratch, ThreadPool& pool) {
  const int hd = cache.config().head_dim;
  const int n_kv = cache.config().n_kv_heads;
  const int group = n_heads / n_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t q_stride = static_cast<int64_t>(n_heads) * hd;

  // One task per KV head: its query heads write the same accumulators, so they stay
  // on one thread (no atomics, deterministic sums).
  pool.parallel_for(n_kv, 1, [&](int64_t g0, int64_t g1, int thread) {
    float* sc = scratch.scores(thread);
    float* gp = scratch.group_probs(thread);
    float* vals = scratch.values(thread);
    uint16_t* q16 = scratch.q16(thread);
    const bool f16 = cache.type() == kvcache::KvType::F16;
    // K·q with the kernel table's dot: an f16 cache takes q rounded to f16, as llama.cpp
    // does for its f16 KV cache (specs/gguf.md §3.6).
    const kernels::TypeKernels& kdot = kt.at(f16 ? DType::F16 : DType::F32);
    for (int64_t g = g0; g < g1; ++g) {
      const int kvh = static_cast<int>(g);
      const int n = cache.length(layer, kvh);
      const int32_t* spos = cache.pos(layer, kvh);
      const void* kb = cache.k(layer, kvh);
      const void* vb = cache.v(layer, kvh);
      float* acc = cache.acc_attn(layer, kvh);
      float* win = cache.window_attn(layer, kvh);
      float* last = cache.last_attn(layer, kvh);
      const size_t kv_row = static_cast<size_t>(hd) * (f16 ? 2 : 4);
      const float* vrows = static_cast<const float*>(vb);
      if (f16) {
        kernels::fp16_to_f32_row(kt, static_cast<const uint16_t*>(vb), vals, static_cast<int64_t>(n) * hd);
        vrows = vals;
      }
      for (int64_t i = 0; i < m; ++i) {
        const bool want =
            stats && (stats->accumulate || pos[i] >= stats->window_start || (stats->last && i == m - 1));
        if (want) std::fill(gp, gp + n, stats->reduce == GroupReduce::Max ? 0.0f : 0.0f);
        for (int hq = 0; hq < group; ++hq) {
          const int h = kvh * group + hq;
          const float* qh = q + i * q_stride + static_cast<int64_t>(h) * hd;
          float* oh = out + i * q_stride + static_cast<int64_t>(h) * hd;
          // Scores over visible slots (slot_pos <= pos[i]); masked slots get -inf.
          if (f16) kernels::f32_to_fp16_row(kt, qh, q16, hd);
          const void* qv = f16 ? static_cast<const void*>(q16) : static_cast<const void*>(qh);
          float mx = -INFINITY;
          for (int s = 0; s < n; ++s) {
            if (spos[s] > pos[i]) {
              sc[s] = -INFINITY;
              continue;
            }
            float d;
            kdot.vec_dot(hd, static_cast<const uint8_t*>(kb) + static_cast<size_t>(s) * kv_row, qv, &d);
            sc[s] = d * scale;
            mx = std::max(mx, sc[s]);
          }
          double sum = 0.0;
          for (int s = 0; s < n; ++s) {
            const float e = sc[s] == -INFINITY ? 0.0f : std::exp(sc[s] - mx);
            sc[s] = e;
            sum += e;
          }
          const float inv = sum > 0.0 ? static_cast<float>(1.0 / sum) : 0.0f;
          std::fill(oh, oh + hd, 0.0f);
          for (int s = 0; s < n; ++s) {
            const float p = sc[s] * inv;
            sc[s] = p;
            if (p == 0.0f) continue;
            const float* vr = vrows + static_cast<size_t>(s) * hd;
            for (int e = 0; e < hd; ++e) oh[e] += p * vr[e];
          }
          if (want) {
            if (stats->reduce == GroupReduce::Max) {
              for (int s = 0; s < n; ++s) gp[s] = std::max(gp[s], sc[s]);
            } else {
              for (int s = 0; s < n; ++s) gp[s] += sc[s];
            }
          }
        }
        if (!want) continue;
        if (stats->reduce == GroupReduce::Mean) {
          const float ig = 1.0f / static_cast<float>(group);
          for (int s = 0; s < n; ++s) gp[s] *= ig;
        }
        if (stats->accumulate) {
          for (int s = 0; s < n; ++s) acc[s] += gp[s];
        }
        if (pos[i] >= stats->window_start) {
          for (int s = 0; s < n; ++s) win[s] += gp[s];
        }
        if (stats->last && i == m - 1) std::copy(gp, gp + n, last);
      }
    }
  });
}

}  // namespace vatp::model
