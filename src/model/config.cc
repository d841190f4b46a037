#include "model/config.h"

#include <cmath>

namespace vatp::model {
namespace {

// A count that may be a scalar or a per-layer array (uniform required).
Result<int> get_count(const gguf::GgufFile& f, const std::string& key, int n_layers, bool required,
                      int fallback) {
  const gguf::Value* v = f.find(key);
  if (!v) {
    if (required) return not_found("GGUF key '" + key + "' is missing");
    return fallback;
  }
  uint64_t x = 0;
  if (v->type() == gguf::ValueType::ARRAY) {
    VATP_ASSIGN_OR_RETURN(std::vector<uint64_t> a, v->as_uint_array());
    if (a.empty() || (n_layers > 0 && a.size() != static_cast<size_t>(n_layers))) {
      return invalid_argument("GGUF key '" + key + "' has " + std::to_string(a.size()) +
                              " entries, expected " + std::to_string(n_layers));
    }
    for (uint64_t e : a) {
      if (e != a[0])
        return unimplemented("GGUF key '" + key + "' varies per layer, which vatp does not support");
    }
    x = a[0];
  } else {
    VATP_ASSIGN_OR_RETURN(x, v->as_uint());
  }
  if (x == 0 || x > (1u << 24))
    return invalid_argument("GGUF key '" + key + "' = " + std::to_string(x) + " is out of range");
  return static_cast<int>(x);
}

// A float key, which must be finite: inf or NaN in rope or norm settings would give
// NaN logits without an error.
Result<float> get_f32_or(const gguf::GgufFile& f, const std::string& key, float fallback) {
  if (!f.find(key)) return fallback;
  VATP_ASSIGN_OR_RETURN(const float v, f.get_f32(key));
  if (!std::isfinite(v))
    return invalid_argument("GGUF key '" + key + "' = " + std::to_string(v) + " is not finite");
  return v;
}

}  // namespace

const char* arch_name(Arch a) { return a == Arch::Llama ? "llama" : "qwen2"; }

Result<ModelConfig> ModelConfig::from_gguf(const gguf::GgufFile& f) {
  ModelConfig c;
  VATP_ASSIGN_OR_RETURN(c.arch_name, f.get_string("general.architecture"));
  if (c.arch_name == "llama") {
    c.arch = Arch::Llama;
    c.rope_layout = kernels::RopeLayout::Normal;
  } else if (c.arch_name == "qwen2") {
    c.arch = Arch::Qwen2;
    c.rope_layout = kernels::RopeLayout::Neox;
  } else {
    return unimplemented("unsupported architecture '" + c.arch_name + "' (supported: llama, qwen2)");
  }
  const std::string a = c.arch_name + ".";
  VATP_ASSIGN_OR_RETURN(c.n_layers, get_count(f, a + "block_count", 0, true, 0));
  VATP_ASSIGN_OR_RETURN(c.n_ctx_train, get_count(f, a + "context_length", 0, true, 0));
  VATP_ASSIGN_OR_RETURN(c.dim, get_count(f, a + "embedding_length", 0, true, 0));
  VATP_ASSIGN_OR_RETURN(c.ff, get_count(f, a + "feed_forward_length", c.n_layers, true, 0));
  VATP_ASSIGN_OR_RETURN(c.n_heads, get_count(f, a + "attention.head_count", c.n_layers, true, 0));
  VATP_ASSIGN_OR_RETURN(c.n_kv_heads,
                        get_count(f, a + "attention.head_count_kv", c.n_layers, false, c.n_heads));
  if (c.n_heads % c.n_kv_heads != 0) {
    return invalid_argument("head_count " + std::to_string(c.n_heads) +
                            " is not a multiple of head_count_kv " + std::to_string(c.n_kv_heads));
  }
  if (c.dim % c.n_heads != 0 && !f.find(a + "attention.key_length")) {
    return invalid_argument(
        "embedding_length is not a multiple of head_count and attention.key_length is missing");
  }
  VATP_ASSIGN_OR_RETURN(c.head_dim, get_count(f, a + "attention.key_length", 0, false, c.dim / c.n_heads));
  VATP_ASSIGN_OR_RETURN(int vlen, get_count(f, a + "attention.value_length", 0, false, c.head_dim));
  if (vlen != c.head_dim) return unimplemented("attention.value_length differs from key_length");
  VATP_ASSIGN_OR_RETURN(c.n_rot, get_count(f, a + "rope.dimension_count", 0, false, c.head_dim));
  if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
    return invalid_argument("rope.dimension_count " + std::to_string(c.n_rot) + " is invalid for head_dim " +
                            std::to_string(c.head_dim));
  }
  if (c.arch == Arch::Llama && c.n_rot != c.head_dim) {
    return invalid_argument("llama requires rope.dimension_count == head_dim (" + std::to_string(c.n_rot) +
                            " vs " + std::to_string(c.head_dim) + ")");
  }
  if (!f.find(a + "attention.layer_norm_rms_epsilon"))
    return not_found("GGUF key '" + a + "attention.layer_norm_rms_epsilon' is missing");
  VATP_ASSIGN_OR_RETURN(c.rms_eps, get_f32_or(f, a + "attention.layer_norm_rms_epsilon", 0.0f));
  if (!(c.rms_eps > 0.0f && c.rms_eps < 1.0f))
    return invalid_argument("layer_norm_rms_epsilon is out of range");

  VATP_ASSIGN_OR_RETURN(c.rope.freq_base, get_f32_or(f, a + "rope.freq_base", 10000.0f));
  if (!(c.rope.freq_base > 1.0f)) return invalid_argument("rope.freq_base must be > 1 and finite");
  std::string scaling = "linear";
  if (f.find(a + "rope.scaling.type")) {
    VATP_ASSIGN_OR_RETURN(scaling, f.get_string(a + "rope.scaling.type"));
  }
  float factor = 0.0f;
  if (f.find(a + "rope.scaling.factor")) {
    VATP_ASSIGN_OR_RETURN(factor, get_f32_or(f, a + "rope.scaling.factor", 0.0f));
  } else if (f.find(a + "rope.scale_linear")) {
    VATP_ASSIGN_OR_RETURN(factor, get_f32_or(f, a + "rope.scale_linear", 0.0f));
  }
  if (scaling == "none") {
    c.rope.freq_scale = 1.0f;
  } else if (scaling == "linear" || scaling == "yarn") {
    c.rope.freq_scale = factor > 0.0f ? 1.0f / factor : 1.0f;
    if (scaling == "yarn") {
      c.rope.ext_factor = 1.0f;
      VATP_ASSIGN_OR_RETURN(c.rope.attn_factor, get_f32_or(f, a + "rope.scaling.attn_factor", 1.0f));
      VATP_ASSIGN_OR_RETURN(c.rope.beta_fast, get_f32_or(f, a + "rope.scaling.yarn_beta_fast", 32.0f));
      VATP_ASSIGN_OR_RETURN(c.rope.beta_slow, get_f32_or(f, a + "rope.scaling.yarn_beta_slow", 1.0f));
      VATP_ASSIGN_OR_RETURN(c.rope.n_ctx_orig, get_count(f, a + "rope.scaling.original_context_length", 0,
                                                         false, c.n_ctx_train));
    }
  } else {
    return unimplemented("unsupported rope.scaling.type '" + scaling + "' (supported: none, linear, yarn)");
  }

  const gguf::Value* toks = f.find("tokenizer.ggml.tokens");
  if (f.find(a + "vocab_size")) {
    VATP_ASSIGN_OR_RETURN(c.n_vocab, get_count(f, a + "vocab_size", 0, true, 0));
  } else if (toks && toks->type() == gguf::ValueType::ARRAY) {
    c.n_vocab = static_cast<int>(toks->array_size());
  } else {
    return not_found("vocabulary size unknown: neither " + a +
                     "vocab_size nor tokenizer.ggml.tokens present");
  }
  return c;
}

}  // namespace vatp::model
