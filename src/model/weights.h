// Weight views into the GGUF mapping, checked against the config at load time.
#pragma once

#include <vector>

#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "model/config.h"

namespace vatp::model {

struct LayerWeights {
  const float* attn_norm = nullptr;  // [dim]
  kernels::WeightView wq;            // rows q_dim, cols dim (Q/K rows permuted for llama, see gguf.md §2.1)
  kernels::WeightView wk;            // rows kv_dim, cols dim
  kernels::WeightView wv;            // rows kv_dim, cols dim
  kernels::WeightView wo;            // rows dim, cols q_dim
  const float* bq = nullptr;         // [q_dim] (qwen2) or nullptr
  const float* bk = nullptr;         // [kv_dim]
  const float* bv = nullptr;         // [kv_dim]
  const float* ffn_norm = nullptr;   // [dim]
  kernels::WeightView w_gate;        // rows ff, cols dim
  kernels::WeightView w_up;          // rows ff, cols dim
  kernels::WeightView w_down;        // rows dim, cols ff
};

struct Weights {
  kernels::WeightView token_embd;  // rows n_vocab, cols dim
  std::vector<LayerWeights> layers;
  const float* output_norm = nullptr;  // [dim]
  kernels::WeightView output;          // rows n_vocab, cols dim (= token_embd when tied)
  bool tied_output = false;
  const float* rope_freqs = nullptr;  // [n_rot/2] or nullptr

  // Every tensor must exist with the expected shape; types must be ones the kernel
  // table supports (norms and biases F32). Errors name the tensor.
  static Result<Weights> from_gguf(const gguf::GgufFile& f, const ModelConfig& c,
                                   const kernels::KernelTable& kt);
};

}  // namespace vatp::model
