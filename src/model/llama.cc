// The llama-family forward pass (specs/gguf.md §2.6), for both `llama` and `qwen2`:
// qwen2 differs only in the Q/K/V biases and the NEOX rope layout, both read from the
// config/weights, so one function serves both. In PyTorch terms, per layer:
//   h = rms_norm(x) * attn_norm
//   q, k, v = Wq h + bq, Wk h + bk, Wv h + bv;  q, k = rope(q, k, pos)
//   x = x + Wo · softmax(q kᵀ / sqrt(d) + causal_mask) v      (GQA: head h uses KV head h / group)
//   h = rms_norm(x) * ffn_norm
//   x = x + Wdown (silu(Wgate h) * (Wup h))
// logits = Woutput (rms_norm(x) * output_norm)
// The rows of a Batch may belong to several sequences: everything but RoPE's cache
// append and attention is row-wise, so it runs once over all rows.
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

Status Model::check_batch(const Batch& b, const ForwardScratch& s) const {
  const int64_t m = b.n_rows;
  if (m <= 0 || m > s.max_m()) {
    return invalid_argument("forward: batch of " + std::to_string(m) + " tokens (scratch holds " +
                            std::to_string(s.max_m()) + ")");
  }
  int64_t next_row = 0, logit_rows = 0;
  for (const BatchSeq& q : b.seqs) {
    if (q.cache == nullptr || q.row0 != next_row || q.n_rows <= 0)
      return invalid_argument("forward: the batch's sequences must cover its rows in order");
    if (q.n_logit_rows < 0 || q.n_logit_rows > q.n_rows)
      return invalid_argument("forward: bad number of logit rows");
    if (q.cache->free_slots() < q.n_rows) {
      return out_of_range("KV cache has room for " + std::to_string(q.cache->free_slots()) +
                          " more tokens, " + std::to_string(q.n_rows) + " requested");
    }
    next_row += q.n_rows;
    logit_rows += q.n_logit_rows;
  }
  if (next_row != m) return invalid_argument("forward: the batch's sequences must cover its rows in order");
  if (logit_rows > s.max_m()) return invalid_argument("forward: more logit rows than the scratch holds");
  for (int64_t i = 0; i < m; ++i) {
    if (b.tokens[i] < 0 || b.tokens[i] >= config_.n_vocab) {
      return invalid_argument("token id " + std::to_string(b.tokens[i]) + " is outside the vocabulary (0.." +
                              std::to_string(config_.n_vocab - 1) + ")");
    }
  }
  return Status::ok();
}

Status Model::forward(const int32_t* tokens, const int32_t* positions, int64_t m, kvcache::KvCache& cache,
                      float* logits, int64_t n_logit_rows, ForwardScratch& s, ThreadPool& pool,
                      const AttentionStatsRequest* stats) const {
  const BatchSeq seq{&cache, 0, m, stats, n_logit_rows};
  return forward(Batch{tokens, positions, m, std::span<const BatchSeq>(&seq, 1), logits}, s, pool);
}

Status Model::forward(const Batch& b, ForwardScratch& s, ThreadPool& pool) const {
  VATP_RETURN_IF_ERROR(check_batch(b, s));
  const int dim = config_.dim;
  const kernels::TypeKernels& emb = kt_.at(weights_.token_embd.type);
  // x[i] = token_embd[tokens[i]]  (m × dim)
  for (int64_t i = 0; i < b.n_rows; ++i) {
    const auto* row = static_cast<const uint8_t*>(weights_.token_embd.data) +
                      static_cast<size_t>(b.tokens[i]) * weights_.token_embd.row_bytes;
    emb.dequant_row(row, &s.x[static_cast<size_t>(i) * dim], dim);
  }
  tap(s, "inp_embd", -1, s.x.data(), b.n_rows, dim);
  for (int l = 0; l < config_.n_layers; ++l) {
    VATP_RETURN_IF_ERROR(attention_block(b, l, s, pool));
    ffn_block(b.n_rows, l, s, pool);
  }
  output_head(b, s, pool);
  return Status::ok();
}

// Q, K, V of every row; RoPE; each row's K/V appended to its sequence's cache.
Status Model::qkv_rows(const Batch& b, int l, ForwardScratch& s, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const LayerWeights& L = weights_.layers[static_cast<size_t>(l)];
  const int64_t m = b.n_rows;
  const int qd = c.q_dim(), kvd = c.kv_dim(), hd = c.head_dim;
  // Q, K, V share one activation quantization when their weights share a type.
  if (L.wq.type == L.wk.type && L.wk.type == L.wv.type) {
    const kernels::ActView a =
        kernels::quantize_acts(kt_, kt_.at(L.wq.type).vec_dot_type, s.h.data(), m, c.dim, s.mm, pool);
    const kernels::MatmulJob jobs[3] = {{&L.wq, s.q.data()}, {&L.wk, s.k.data()}, {&L.wv, s.v.data()}};
    kernels::matmul_acts_multi(kt_, jobs, 3, a, pool);
  } else {
    kernels::matmul(kt_, L.wq, s.h.data(), m, s.q.data(), s.mm, pool);
    kernels::matmul(kt_, L.wk, s.h.data(), m, s.k.data(), s.mm, pool);
    kernels::matmul(kt_, L.wv, s.h.data(), m, s.v.data(), s.mm, pool);
  }
  for (const BatchSeq& seq : b.seqs) {
    for (int64_t i = seq.row0; i < seq.row0 + seq.n_rows; ++i) {
      float* qi = &s.q[i * qd];
      float* ki = &s.k[i * kvd];
      float* vi = &s.v[i * kvd];
      if (L.bq) kernels::add(qi, L.bq, qi, qd);
      if (L.bk) kernels::add(ki, L.bk, ki, kvd);
      if (L.bv) kernels::add(vi, L.bv, vi, kvd);
      kernels::rope_cache(b.positions[i], c.n_rot, c.rope, s.rope_cs.data());
      kernels::rope_apply(qi, c.n_heads, hd, c.n_rot, c.rope_layout, s.rope_cs.data());
      // With key rerotation the cache keeps keys unrotated; attention rotates them at
      // their slot's (renumbered) position.
      if (!s.attn.key_rope_on())
        kernels::rope_apply(ki, c.n_kv_heads, hd, c.n_rot, c.rope_layout, s.rope_cs.data());
      VATP_RETURN_IF_ERROR(seq.cache->append(l, ki, vi, b.positions[i]));
    }
  }
  tap(s, "Qcur", l, s.q.data(), m, qd);
  tap(s, "Kcur", l, s.k.data(), m, kvd);
  tap(s, "Vcur", l, s.v.data(), m, kvd);
  return Status::ok();
}

Status Model::attention_block(const Batch& b, int l, ForwardScratch& s, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const LayerWeights& L = weights_.layers[static_cast<size_t>(l)];
  const int64_t m = b.n_rows;
  const int dim = c.dim, qd = c.q_dim();
  for (int64_t i = 0; i < m; ++i)
    kernels::rms_norm(&s.x[i * dim], L.attn_norm, &s.h[i * dim], dim, c.rms_eps);
  tap(s, "attn_norm", l, s.h.data(), m, dim);
  VATP_RETURN_IF_ERROR(qkv_rows(b, l, s, pool));
  // Attention is the one per-sequence step: each sequence reads its own cache.
  for (const BatchSeq& seq : b.seqs) {
    const int64_t r0 = seq.row0 * qd;
    attention(kt_, *seq.cache, l, &s.q[r0], b.positions + seq.row0, seq.n_rows, c.n_heads, &s.att[r0],
              seq.stats, s.attn, pool);
  }
  tap(s, "kqv_out", l, s.att.data(), m, qd);
  kernels::matmul(kt_, L.wo, s.att.data(), m, s.tmp.data(), s.mm, pool);
  tap(s, "attn_out", l, s.tmp.data(), m, dim);
  kernels::add(s.x.data(), s.tmp.data(), s.x.data(), m * dim);
  tap(s, "ffn_inp", l, s.x.data(), m, dim);
  return Status::ok();
}

void Model::ffn_block(int64_t m, int l, ForwardScratch& s, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const LayerWeights& L = weights_.layers[static_cast<size_t>(l)];
  const int dim = c.dim;
  for (int64_t i = 0; i < m; ++i) kernels::rms_norm(&s.x[i * dim], L.ffn_norm, &s.h[i * dim], dim, c.rms_eps);
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

// Only the requested rows (each sequence's last n_logit_rows) go through the output
// head, gathered into one matmul so the output matrix is streamed once.
void Model::output_head(const Batch& b, ForwardScratch& s, ThreadPool& pool) const {
  const int dim = config_.dim;
  int64_t n = 0;
  for (const BatchSeq& seq : b.seqs) {
    for (int64_t i = seq.row0 + seq.n_rows - seq.n_logit_rows; i < seq.row0 + seq.n_rows; ++i, ++n)
      kernels::rms_norm(&s.x[i * dim], weights_.output_norm, &s.h[n * dim], dim, config_.rms_eps);
  }
  if (n == 0) return;
  tap(s, "result_norm", -1, s.h.data(), n, dim);
  kernels::matmul(kt_, weights_.output, s.h.data(), n, b.logits, s.mm, pool);
  tap(s, "result_output", -1, b.logits, n, config_.n_vocab);
}

}  // namespace vatp::model
