// Model hyper-parameters read strictly from GGUF metadata (specs/gguf.md §1.6).
#pragma once

#include <string>

#include "core/status.h"
#include "gguf/gguf.h"
#include "kernels/ops.h"

namespace vatp::model {

enum class Arch { Llama, Qwen2 };
const char* arch_name(Arch a);

struct ModelConfig {
  Arch arch = Arch::Llama;
  std::string arch_name;  // general.architecture
  int n_layers = 0;
  int n_ctx_train = 0;
  int dim = 0;  // n_embd
  int ff = 0;   // feed_forward_length
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;  // key_length (= value_length)
  int n_rot = 0;     // rope.dimension_count
  int n_vocab = 0;
  float rms_eps = 1e-5f;
  kernels::RopeLayout rope_layout = kernels::RopeLayout::Normal;  // Normal for llama, Neox for qwen2
  kernels::RopeParams rope;  // freq_factors filled by Weights when rope_freqs exists
  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
  int group() const { return n_heads / n_kv_heads; }  // query heads per KV head

  // Errors name the key: missing, wrong type, inconsistent, or unsupported.
  static Result<ModelConfig> from_gguf(const gguf::GgufFile& f);
};

}  // namespace vatp::model
