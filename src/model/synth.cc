#include "model/synth.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/quant.h"

namespace vatp::model {
namespace {

// SplitMix64 → uniform in [-a, a]; a = std·√3 gives the wanted standard deviation.
class Uniform {
 public:
  explicit Uniform(uint64_t seed) : s_(seed) {}
  float next(float stddev) {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) * 0x1.0p-24f;  // [0, 1)
    return (2.0f * u - 1.0f) * stddev * 1.7320508f;
  }

 private:
  uint64_t s_;
};

std::vector<uint8_t> random_matrix(DType type, int64_t cols, int64_t rows, float stddev, Uniform& rng) {
  const size_t rb = row_bytes(type, cols);
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& x : row) x = rng.next(stddev);
    kernels::quantize_row_ref(type, row.data(), out.data() + rb * static_cast<size_t>(r), cols);
  }
  return out;
}

std::vector<uint8_t> f32_vector(int64_t n, float mean, float stddev, Uniform& rng) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = mean + rng.next(stddev);
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace

Status apply_shape(std::string_view name, SynthSpec* s) {
  if (name == "tiny") {
    s->layers = 2, s->dim = 256, s->heads = 4, s->kv_heads = 2, s->ff = 512, s->ctx = 2048;
  } else if (name == "smollm2-135m") {
    s->layers = 30, s->dim = 576, s->heads = 9, s->kv_heads = 3, s->ff = 1536, s->ctx = 8192,
    s->rope_base = 100000;
    s->tied = true;
  } else if (name == "llama2-7b") {
    s->layers = 32, s->dim = 4096, s->heads = 32, s->kv_heads = 32, s->ff = 11008, s->ctx = 4096;
  } else if (name == "qwen2-0.5b") {
    s->arch = "qwen2", s->layers = 24, s->dim = 896, s->heads = 14, s->kv_heads = 2, s->ff = 4864,
    s->ctx = 32768;
    s->rope_base = 1000000, s->tied = true;
  } else {
    return invalid_argument("unknown shape '" + std::string(name) +
                            "' (tiny, smollm2-135m, llama2-7b, qwen2-0.5b)");
  }
  return Status::ok();
}

Status validate(const SynthSpec& s) {
  if (s.arch != "llama" && s.arch != "qwen2") return invalid_argument("--arch must be llama or qwen2");
  if (s.layers < 1 || s.dim < 1 || s.heads < 1 || s.kv_heads < 1 || s.ff < 1 || s.ctx < 1) {
    return invalid_argument("layers, dim, heads, kv-heads, ff and ctx must be positive");
  }
  if (s.heads % s.kv_heads != 0) return invalid_argument("heads must be a multiple of kv-heads");
  const int hd = s.head_dim > 0 ? s.head_dim : s.dim / s.heads;
  if (s.head_dim == 0 && s.dim % s.heads != 0) return invalid_argument("dim must be a multiple of heads");
  if (hd % 2 != 0) return invalid_argument("head dim must be even (RoPE pairs)");
  if (!kernels::can_quantize(s.type) || dtype_info(s.type).block_bytes == 0 || s.type == DType::Q8_1 ||
      s.type == DType::Q8_K) {
    return invalid_argument("--type " + std::string(dtype_name(s.type)) + " cannot be used for weights");
  }
  const int bs = dtype_info(s.type).block_size;
  for (int cols : {s.dim, s.ff, s.heads * hd}) {
    if (cols % bs != 0) {
      return invalid_argument("a weight row of " + std::to_string(cols) +
                              " elements is not a multiple of the " + std::string(dtype_name(s.type)) +
                              " block size " + std::to_string(bs));
    }
  }
  return Status::ok();
}

Status synth_write(const SynthSpec& s, const gguf::GgufFile& vocab_from, const std::string& out_path) {
  VATP_RETURN_IF_ERROR(validate(s));
  const gguf::Value* toks = vocab_from.find("tokenizer.ggml.tokens");
  if (!toks || toks->type() != gguf::ValueType::ARRAY) {
    return not_found("--vocab-from file has no tokenizer.ggml.tokens");
  }
  const int64_t vocab = static_cast<int64_t>(toks->array_size());
  const int hd = s.head_dim > 0 ? s.head_dim : s.dim / s.heads;
  const std::string a = s.arch + ".";
  gguf::GgufWriter w;
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", "vatp synth " + s.arch + " random weights");
  w.set_u32("general.quantization_version", 2);
  w.set_u32(a + "block_count", static_cast<uint32_t>(s.layers));
  w.set_u32(a + "context_length", static_cast<uint32_t>(s.ctx));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.dim));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.ff));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(s.heads));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(s.kv_heads));
  if (s.head_dim > 0) {
    w.set_u32(a + "attention.key_length", static_cast<uint32_t>(hd));
    w.set_u32(a + "attention.value_length", static_cast<uint32_t>(hd));
  }
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(hd));
  w.set_f32(a + "rope.freq_base", s.rope_base);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", s.arch == "qwen2" ? 1e-6f : 1e-5f);
  w.set_u32(a + "vocab_size", static_cast<uint32_t>(vocab));
  for (const gguf::Value& v : vocab_from.values()) {
    if (v.key().rfind("tokenizer.", 0) == 0) w.copy_value(v);
  }

  Uniform rng(s.seed);
  // The embedding takes the weight type when its block divides dim (true for every
  // supported shape with the 32-element types), else Q8_0 or F16.
  DType emb = s.type;
  if (s.dim % dtype_info(emb).block_size != 0) emb = s.dim % 32 == 0 ? DType::Q8_0 : DType::F16;
  // Scales keep activations O(1) through the random layers.
  const float sd_in = 1.0f / std::sqrt(static_cast<float>(s.dim));
  const float sd_ff = 1.0f / std::sqrt(static_cast<float>(s.ff));
  // Untied: embeddings of unit spread (rms_norm rescales them anyway). Tied: the
  // embedding is also the output projection, so give it output.weight's spread, which
  // keeps logits at std ~4 instead of ~sqrt(dim).
  const float sd_emb = s.tied ? sd_in * 4 : 1.0f;
  VATP_RETURN_IF_ERROR(
      w.add_tensor("token_embd.weight", emb, {s.dim, vocab}, random_matrix(emb, s.dim, vocab, sd_emb, rng)));
  VATP_RETURN_IF_ERROR(
      w.add_tensor("output_norm.weight", DType::F32, {s.dim}, f32_vector(s.dim, 1.0f, 0.1f, rng)));
  if (!s.tied) {
    VATP_RETURN_IF_ERROR(w.add_tensor("output.weight", s.type, {s.dim, vocab},
                                      random_matrix(s.type, s.dim, vocab, sd_in * 4, rng)));
  }
  const int qd = s.heads * hd, kvd = s.kv_heads * hd;
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    VATP_RETURN_IF_ERROR(
        w.add_tensor(p + "attn_norm.weight", DType::F32, {s.dim}, f32_vector(s.dim, 1.0f, 0.1f, rng)));
    VATP_RETURN_IF_ERROR(w.add_tensor(p + "attn_q.weight", s.type, {s.dim, qd},
                                      random_matrix(s.type, s.dim, qd, sd_in * 2, rng)));
    VATP_RETURN_IF_ERROR(w.add_tensor(p + "attn_k.weight", s.type, {s.dim, kvd},
                                      random_matrix(s.type, s.dim, kvd, sd_in * 2, rng)));
    VATP_RETURN_IF_ERROR(w.add_tensor(p + "attn_v.weight", s.type, {s.dim, kvd},
                                      random_matrix(s.type, s.dim, kvd, sd_in, rng)));
    if (s.arch == "qwen2") {
      VATP_RETURN_IF_ERROR(
          w.add_tensor(p + "attn_q.bias", DType::F32, {qd}, f32_vector(qd, 0.0f, 0.1f, rng)));
      VATP_RETURN_IF_ERROR(
          w.add_tensor(p + "attn_k.bias", DType::F32, {kvd}, f32_vector(kvd, 0.0f, 0.1f, rng)));
      VATP_RETURN_IF_ERROR(
          w.add_tensor(p + "attn_v.bias", DType::F32, {kvd}, f32_vector(kvd, 0.0f, 0.1f, rng)));
    }
    VATP_RETURN_IF_ERROR(
        w.add_tensor(p + "attn_output.weight", s.type, {qd, s.dim},
                     random_matrix(s.type, qd, s.dim, 1.0f / std::sqrt(static_cast<float>(qd)), rng)));
    VATP_RETURN_IF_ERROR(
        w.add_tensor(p + "ffn_norm.weight", DType::F32, {s.dim}, f32_vector(s.dim, 1.0f, 0.1f, rng)));
    VATP_RETURN_IF_ERROR(w.add_tensor(p + "ffn_gate.weight", s.type, {s.dim, s.ff},
                                      random_matrix(s.type, s.dim, s.ff, sd_in, rng)));
    VATP_RETURN_IF_ERROR(w.add_tensor(p + "ffn_up.weight", s.type, {s.dim, s.ff},
                                      random_matrix(s.type, s.dim, s.ff, sd_in, rng)));
    VATP_RETURN_IF_ERROR(w.add_tensor(p + "ffn_down.weight", s.type, {s.ff, s.dim},
                                      random_matrix(s.type, s.ff, s.dim, sd_ff, rng)));
  }
  return w.write(out_path);
}

}  // namespace vatp::model
