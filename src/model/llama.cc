// The llama-family forward pass (specs/gguf.md §2.6), for both `llama` and `qwen2`:
// qwen2 differs only in the Q/K/V biases and the NEOX rope layout, both read from the
// config/weights, so one function serves both. In PyTorch terms, per layer:
//   h = rms_norm(x) * attn_norm
//   q, k, v = Wq h + bq, Wk h + bk, Wv h + bv;  q, k = rope(q, k, pos)
//   x = x + Wo · softmax(q kᵀ / sqrt(d) + causal_mask) v      (GQA: head h uses KV head h / group)
//   h = rms_norm(x) * ffn_norm
//   x = x + Wdown (silu(Wgate h) * (Wup h))
// logits = Woutput (rms_norm(x) * output_norm)
#include <algorithm>
#include <cstring>

#include "kernels/ops.h"
#include "model/model.h"

namespace vatp::model {
namespace {

void tap(const ForwardScratch& s, const char* name, int layer, const float* rows, int64_t m, int64_t len) {
  if (s.tap) s.tap(name, layer, rows, m, len);
}

}  // namespace

Status Model::forward(const int32_t* tokens, const int32_t* positions, int64_t m, kvcache::KvCache& cache,
                      float* logits, int64_t n_logit_rows, ForwardScratch& s, ThreadPool& pool,
                      const AttentionStatsRequest* stats) const {
  const ModelConfig& c = config_;
  const Weights& w = weights_;
  if (m <= 0 || m > s.max_m()) {
    return invalid_argument("forward: batch of " + std::to_string(m) + " tokens (scratch holds " +
                            std::to_string(s.max_m()) + ")");
  }
  if (n_logit_rows < 0 || n_logit_rows > m) return invalid_argument("forward: bad number of logit rows");
  if (cache.free_slots() < m) {
    return out_of_range("KV cache has room for " + std::to_string(cache.free_slots()) + " more tokens, " +
                        std::to_string(m) + " requested");
  }
  for (int64_t i = 0; i < m; ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab) {
      return invalid_argument("token id " + std::to_string(tokens[i]) + " is outside the vocabulary (0.." +
                              std::to_string(c.n_vocab - 1) + ")");
    }
  }
  const int dim = c.dim, qd = c.q_dim(), kvd = c.kv_dim(), hd = c.head_dim;
  const kernels::TypeKernels& emb = kt_.at(w.token_embd.type);

  // x[i] = token_embd[tokens[i]]  (m × dim)
  for (int64_t i = 0; i < m; ++i) {
    const auto* row = static_cast<const uint8_t*>(w.token_embd.data) +
                      static_cast<size_t>(tokens[i]) * w.token_embd.row_bytes;
    emb.dequant_row(row, &s.x[static_cast<size_t>(i) * dim], dim);
  }
  tap(s, "inp_embd", -1, s.x.data(), m, dim);

  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[static_cast<size_t>(l)];
    // --- attention block ---
    for (int64_t i = 0; i < m; ++i) {
      kernels::rms_norm(&s.x[i * dim], L.attn_norm, &s.h[i * dim], dim, c.rms_eps);
    }
    tap(s, "attn_norm", l, s.h.data(), m, dim);
    // Q, K, V share one activation quantization when their weights share a type.
    if (L.wq.type == L.wk.type && L.wk.type == L.wv.type) {
      const kernels::ActView a =
          kernels::quantize_acts(kt_, kt_.at(L.wq.type).vec_dot_type, s.h.data(), m, dim, s.mm, pool);
      const kernels::MatmulJob jobs[3] = {{&L.wq, s.q.data()}, {&L.wk, s.k.data()}, {&L.wv, s.v.data()}};
      kernels::matmul_acts_multi(kt_, jobs, 3, a, pool);
    } else {
      kernels::matmul(kt_, L.wq, s.h.data(), m, s.q.data(), s.mm, pool);
      kernels::matmul(kt_, L.wk, s.h.data(), m, s.k.data(), s.mm, pool);
      kernels::matmul(kt_, L.wv, s.h.data(), m, s.v.data(), s.mm, pool);
    }
    for (int64_t i = 0; i < m; ++i) {
      float* qi = &s.q[i * qd];
      float* ki = &s.k[i * kvd];
      float* vi = &s.v[i * kvd];
      if (L.bq) kernels::add(qi, L.bq, qi, qd);
      if (L.bk) kernels::add(ki, L.bk, ki, kvd);
      if (L.bv) kernels::add(vi, L.bv, vi, kvd);
      kernels::rope_cache(positions[i], c.n_rot, c.rope, s.rope_cs.data());
      kernels::rope_apply(qi, c.n_heads, hd, c.n_rot, c.rope_layout, s.rope_cs.data());
      // With key rerotation the cache keeps keys unrotated; attention rotates them at
      // their slot's (renumbered) position.
      if (!s.attn.key_rope_on())
        kernels::rope_apply(ki, c.n_kv_heads, hd, c.n_rot, c.rope_layout, s.rope_cs.data());
      VATP_RETURN_IF_ERROR(cache.append(l, ki, vi, positions[i]));
    }
    tap(s, "Qcur", l, s.q.data(), m, qd);
    tap(s, "Kcur", l, s.k.data(), m, kvd);
    tap(s, "Vcur", l, s.v.data(), m, kvd);
    attention(kt_, cache, l, s.q.data(), positions, m, c.n_heads, s.att.data(), stats, s.attn, pool);
    tap(s, "kqv_out", l, s.att.data(), m, qd);
    kernels::matmul(kt_, L.wo, s.att.data(), m, s.tmp.data(), s.mm, pool);
    tap(s, "attn_out", l, s.tmp.data(), m, dim);
    kernels::add(s.x.data(), s.tmp.data(), s.x.data(), m * dim);
    tap(s, "ffn_inp", l, s.x.data(), m, dim);

    // --- feed-forward block ---
    for (int64_t i = 0; i < m; ++i) {
      kernels::rms_norm(&s.x[i * dim], L.ffn_norm, &s.h[i * dim], dim, c.rms_eps);
    }
    if (L.w_gate.type == L.w_up.type) {
      const kernels::ActView a =
          kernels::quantize_acts(kt_, kt_.at(L.w_gate.type).vec_dot_type, s.h.data(), m, dim, s.mm, pool);
      const kernels::MatmulJob jobs[2] = {{&L.w_gate, s.gate.data()}, {&L.w_up, s.up.data()}};
      kernels::matmul_acts_multi(kt_, jobs, 2, a, pool);
    } else {
      kernels::matmul(kt_, L.w_gate, s.h.data(), m, s.gate.data(), s.mm, pool);
      kernels::matmul(kt_, L.w_up, s.h.data(), m, s.up.data(), s.mm, pool);
    }
    tap(s, "ffn_norm", l, s.h.data(), m, dim);
    tap(s, "ffn_gate", l, s.gate.data(), m, c.ff);
    tap(s, "ffn_up", l, s.up.data(), m, c.ff);
    kernels::swiglu(kt_, s.gate.data(), s.up.data(), s.gate.data(), m * c.ff);
    tap(s, "ffn_swiglu", l, s.gate.data(), m, c.ff);
    kernels::matmul(kt_, L.w_down, s.gate.data(), m, s.tmp.data(), s.mm, pool);
    tap(s, "ffn_out", l, s.tmp.data(), m, dim);
    kernels::add(s.x.data(), s.tmp.data(), s.x.data(), m * dim);
    tap(s, "l_out", l, s.x.data(), m, dim);
  }

  if (n_logit_rows == 0) return Status::ok();
  // Only the requested (last) rows go through the output head.
  const int64_t first = m - n_logit_rows;
  for (int64_t i = first; i < m; ++i) {
    kernels::rms_norm(&s.x[i * dim], w.output_norm, &s.h[(i - first) * dim], dim, c.rms_eps);
  }
  tap(s, "result_norm", -1, s.h.data(), n_logit_rows, dim);
  kernels::matmul(kt_, w.output, s.h.data(), n_logit_rows, logits, s.mm, pool);
  tap(s, "result_output", -1, logits, n_logit_rows, c.n_vocab);
  return Status::ok();
}

}  // namespace vatp::model
