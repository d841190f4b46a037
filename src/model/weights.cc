#include "model/weights.h"

#include <set>
#include <string>
#include <vector>

namespace vatp::model {
namespace {

std::string shape_of(std::vector<int64_t> ne) {
  std::string s = "{";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "}";
}

Result<const gguf::TensorInfo*> get(const gguf::GgufFile& f, const std::string& name, std::vector<int64_t> ne,
                                    bool required) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  if (!t) {
    if (required) return not_found("tensor '" + name + "' is missing");
    return static_cast<const gguf::TensorInfo*>(nullptr);
  }
  std::array<int64_t, 4> want = {1, 1, 1, 1};
  for (size_t i = 0; i < ne.size(); ++i) want[i] = ne[i];
  if (t->ne != want) {
    return invalid_argument("tensor '" + name + "' has shape " + t->shape_string() + ", expected " +
                            shape_of(ne));
  }
  return t;
}

Result<kernels::WeightView> matrix(const gguf::GgufFile& f, const std::string& name, int64_t cols,
                                   int64_t rows, const kernels::KernelTable& kt) {
  VATP_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, get(f, name, {cols, rows}, true));
  if (!kt.supports(t->type) || kt.at(t->type).vec_dot == nullptr) {
    return unimplemented(
        "tensor '" + name + "' has type " + std::string(dtype_name(t->type)) +
        ", which vatp cannot multiply (supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K)");
  }
  return kernels::WeightView{t->type, t->data, rows, cols, row_bytes(t->type, cols)};
}

Result<const float*> vector_f32(const gguf::GgufFile& f, const std::string& name, int64_t n, bool required) {
  VATP_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, get(f, name, {n}, required));
  if (!t) return static_cast<const float*>(nullptr);
  if (t->type != DType::F32) {
    return unimplemented("tensor '" + name + "' has type " + std::string(dtype_name(t->type)) +
                         ", expected F32");
  }
  // The GGUF data blob is 32-byte aligned and F32 tensors are padded, so this is aligned.
  return reinterpret_cast<const float*>(t->data);
}

// Every tensor of the file must be one the model reads: an extra one means the metadata
// disagrees with the weights (block_count = 1 over two layers' tensors would run on one
// layer without a word; llama.cpp refuses such files too).
Status check_no_unused_tensors(const gguf::GgufFile& f, const ModelConfig& c) {
  std::set<std::string> known = {"token_embd.weight", "output_norm.weight", "output.weight",
                                 "rope_freqs.weight"};
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    for (const char* t : {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                          "attn_output.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias",
                          "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"}) {
      known.insert(p + t);
    }
  }
  std::vector<std::string> unused;
  for (const gguf::TensorInfo& t : f.tensors()) {
    if (known.count(t.name) == 0) unused.push_back(t.name);
  }
  if (unused.empty()) return Status::ok();
  std::string names;
  for (size_t i = 0; i < unused.size() && i < 5; ++i) names += (i ? ", " : "") + unused[i];
  if (unused.size() > 5) names += ", ...";
  return invalid_argument(std::to_string(unused.size()) + " tensor(s) not used by a " +
                          std::to_string(c.n_layers) + "-layer " + c.arch_name +
                          " model (does block_count match the weights?): " + names);
}

}  // namespace

Result<Weights> Weights::from_gguf(const gguf::GgufFile& f, const ModelConfig& c,
                                   const kernels::KernelTable& kt) {
  Weights w;
  VATP_ASSIGN_OR_RETURN(w.token_embd, matrix(f, "token_embd.weight", c.dim, c.n_vocab, kt));
  if (kt.at(w.token_embd.type).dequant_row == nullptr)
    return unimplemented("token_embd type cannot be dequantized");
  VATP_ASSIGN_OR_RETURN(w.output_norm, vector_f32(f, "output_norm.weight", c.dim, true));
  if (f.find_tensor("output.weight")) {
    VATP_ASSIGN_OR_RETURN(w.output, matrix(f, "output.weight", c.dim, c.n_vocab, kt));
  } else {
    w.output = w.token_embd;
    w.tied_output = true;
  }
  VATP_ASSIGN_OR_RETURN(w.rope_freqs, vector_f32(f, "rope_freqs.weight", c.n_rot / 2, false));
  const bool qwen2 = c.arch == Arch::Qwen2;
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights& L = w.layers[static_cast<size_t>(l)];
    VATP_ASSIGN_OR_RETURN(L.attn_norm, vector_f32(f, p + "attn_norm.weight", c.dim, true));
    VATP_ASSIGN_OR_RETURN(L.wq, matrix(f, p + "attn_q.weight", c.dim, c.q_dim(), kt));
    VATP_ASSIGN_OR_RETURN(L.wk, matrix(f, p + "attn_k.weight", c.dim, c.kv_dim(), kt));
    VATP_ASSIGN_OR_RETURN(L.wv, matrix(f, p + "attn_v.weight", c.dim, c.kv_dim(), kt));
    VATP_ASSIGN_OR_RETURN(L.wo, matrix(f, p + "attn_output.weight", c.q_dim(), c.dim, kt));
    VATP_ASSIGN_OR_RETURN(L.bq, vector_f32(f, p + "attn_q.bias", c.q_dim(), qwen2));
    VATP_ASSIGN_OR_RETURN(L.bk, vector_f32(f, p + "attn_k.bias", c.kv_dim(), qwen2));
    VATP_ASSIGN_OR_RETURN(L.bv, vector_f32(f, p + "attn_v.bias", c.kv_dim(), qwen2));
    VATP_ASSIGN_OR_RETURN(L.ffn_norm, vector_f32(f, p + "ffn_norm.weight", c.dim, true));
    VATP_ASSIGN_OR_RETURN(L.w_gate, matrix(f, p + "ffn_gate.weight", c.dim, c.ff, kt));
    VATP_ASSIGN_OR_RETURN(L.w_up, matrix(f, p + "ffn_up.weight", c.dim, c.ff, kt));
    VATP_ASSIGN_OR_RETURN(L.w_down, matrix(f, p + "ffn_down.weight", c.ff, c.dim, kt));
  }
  VATP_RETURN_IF_ERROR(check_no_unused_tensors(f, c));
  return w;
}

}  // namespace vatp::model
