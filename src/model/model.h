// A loaded model: config, weight views into the mapped GGUF, and the forward pass.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/anon_memory.h"
#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/kernel_table.h"
#include "kernels/matmul.h"
#include "kvcache/kv_cache.h"
#include "model/attention.h"
#include "model/batch.h"
#include "model/config.h"
#include "model/weights.h"

namespace vatp::model {

// Observes intermediate activations (a debugging aid, like llama.cpp's eval callback):
// called after each named step with the m × row_len rows of the batch. Names follow
// llama.cpp's graph ("attn_norm", "Qcur", "Kcur", "Vcur", "kqv_out", "attn_out",
// "ffn_inp", "ffn_norm", "ffn_gate", "ffn_up", "ffn_swiglu", "ffn_out", "l_out" with
// the layer; "inp_embd", "result_norm", "result_output" with layer -1), Qcur/Kcur
// after RoPE, so scripts/ref/tensor_diff.py can compare the two engines tensor by tensor.
using TensorTap =
    std::function<void(const char* name, int layer, const float* rows, int64_t m, int64_t row_len)>;

// Activations for up to max_m tokens per forward call, allocated once.
class ForwardScratch {
 public:
  void reserve(const ModelConfig& c, int max_m, int n_threads, int kv_capacity);
  int max_m() const { return max_m_; }
  // Keys enter the cache unrotated and are rotated at their slot's position when
  // attended (--kv-rerotate); positions up to kv_capacity.
  void enable_key_rerotation(const ModelConfig& c) { attn.enable_key_rope(c.rope, c.n_rot, c.rope_layout); }

  std::vector<float> x;        // [max_m × dim] residual stream
  std::vector<float> h;        // [max_m × dim] normed input of a sub-block
  std::vector<float> q;        // [max_m × q_dim]
  std::vector<float> k;        // [max_m × kv_dim]
  std::vector<float> v;        // [max_m × kv_dim]
  std::vector<float> att;      // [max_m × q_dim] attention output
  std::vector<float> gate;     // [max_m × ff]
  std::vector<float> up;       // [max_m × ff]
  std::vector<float> tmp;      // [max_m × dim] sub-block output before the residual add
  std::vector<float> rope_cs;  // [n_rot] cos/sin cache for one position
  kernels::MatmulScratch mm;
  AttentionScratch attn;
  TensorTap tap;  // empty: no observation (the default)

 private:
  int max_m_ = 0;
};

struct LoadOptions {
  // Copy the matrices whose type has a packed tile in the kernel table (Q4_0 on
  // AVX-512) into the interleaved layout of kernels/packed.h: faster prefill and
  // decode, at the cost of a copy of those weights in anonymous memory.
  bool repack = true;
  // Threads for the repacking (nullptr: the loading thread alone).
  ThreadPool* pool = nullptr;
};

class Model {
 public:
  // Maps the file, reads the config, checks every tensor. `kt` must outlive the model.
  static Result<std::unique_ptr<Model>> load(const std::string& path, const kernels::KernelTable& kt,
                                             const LoadOptions& opts = {});
  static Result<std::unique_ptr<Model>> from_gguf(gguf::GgufFile file, const kernels::KernelTable& kt,
                                                  const LoadOptions& opts = {});

  const ModelConfig& config() const { return config_; }
  const gguf::GgufFile& gguf() const { return file_; }
  const Weights& weights() const { return weights_; }
  const kernels::KernelTable& kernels() const { return kt_; }
  size_t weight_bytes() const;
  size_t packed_bytes() const { return packed_bytes_; }  // the repacked copies (0 if none)

  // A KV cache of `capacity` slots per (layer, KV head) for this model; with
  // per_query_head the attention statistics keep one row per query head of a group.
  Result<kvcache::KvCache> make_cache(int capacity, kvcache::KvType type, bool per_query_head = false) const;
  kvcache::KvCacheConfig cache_config(int capacity, kvcache::KvType type, bool per_query_head = false) const;

  // Runs m tokens (tokens[i] at positions[i]) through the model, appending their K/V to
  // `cache`. logits: n_logit_rows × n_vocab for the LAST n_logit_rows tokens of the
  // batch (1 for generation, m for perplexity; 0 for none). m <= scratch.max_m().
  Status forward(const int32_t* tokens, const int32_t* positions, int64_t m, kvcache::KvCache& cache,
                 float* logits, int64_t n_logit_rows, ForwardScratch& scratch, ThreadPool& pool,
                 const AttentionStatsRequest* stats = nullptr) const;
  // The rows of several sequences in one call (model/batch.h); the single-sequence
  // forward above is the one-sequence batch. Σ rows and Σ logit rows <= scratch.max_m().
  Status forward(const Batch& batch, ForwardScratch& scratch, ThreadPool& pool) const;

 private:
  Status check_batch(const Batch& b, const ForwardScratch& s) const;
  Status qkv_rows(const Batch& b, int layer, ForwardScratch& s, ThreadPool& pool) const;
  Status attention_block(const Batch& b, int layer, ForwardScratch& s, ThreadPool& pool) const;
  void ffn_block(int64_t m, int layer, ForwardScratch& s, ThreadPool& pool) const;
  void output_head(const Batch& b, ForwardScratch& s, ThreadPool& pool) const;
  Model(gguf::GgufFile file, const kernels::KernelTable& kt) : file_(std::move(file)), kt_(kt) {}
  Status repack_weights(ThreadPool* pool);
  gguf::GgufFile file_;
  const kernels::KernelTable& kt_;
  ModelConfig config_;
  Weights weights_;
  AnonMemory packed_;
  size_t packed_bytes_ = 0;
};

}  // namespace vatp::model
