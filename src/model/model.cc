#include "model/model.h"

namespace vatp::model {

void ForwardScratch::reserve(const ModelConfig& c, int max_m, int n_threads, int kv_capacity) {
  max_m_ = max_m;
  const size_t m = static_cast<size_t>(max_m);
  x.assign(m * c.dim, 0.0f);
  h.assign(m * c.dim, 0.0f);
  tmp.assign(m * c.dim, 0.0f);
  q.assign(m * c.q_dim(), 0.0f);
  att.assign(m * c.q_dim(), 0.0f);
  k.assign(m * c.kv_dim(), 0.0f);
  v.assign(m * c.kv_dim(), 0.0f);
  gate.assign(m * c.ff, 0.0f);
  up.assign(m * c.ff, 0.0f);
  rope_cs.assign(static_cast<size_t>(c.n_rot) + 2, 0.0f);
  mm.reserve(max_m, std::max({c.dim, c.ff, c.q_dim()}));
  attn.reserve(n_threads, c.n_kv_heads, kv_capacity, c.head_dim, c.group());
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const kernels::KernelTable& kt) {
  VATP_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::open(path));
  Result<std::unique_ptr<Model>> m = from_gguf(std::move(f), kt);
  if (!m.is_ok()) return m.status().with_context("loading '" + path + "'");
  return m;
}

Result<std::unique_ptr<Model>> Model::from_gguf(gguf::GgufFile file, const kernels::KernelTable& kt) {
  std::unique_ptr<Model> m(new Model(std::move(file), kt));
  VATP_ASSIGN_OR_RETURN(m->config_, ModelConfig::from_gguf(m->file_));
  VATP_ASSIGN_OR_RETURN(m->weights_, Weights::from_gguf(m->file_, m->config_, kt));
  m->config_.rope.freq_factors = m->weights_.rope_freqs;
  return m;
}

size_t Model::weight_bytes() const {
  size_t n = 0;
  for (const gguf::TensorInfo& t : file_.tensors()) n += t.nbytes;
  return n;
}

Result<kvcache::KvCache> Model::make_cache(int capacity, kvcache::KvType type, bool per_query_head) const {
  kvcache::KvCacheConfig cc;
  cc.n_layers = config_.n_layers;
  cc.n_kv_heads = config_.n_kv_heads;
  cc.head_dim = config_.head_dim;
  cc.capacity = capacity;
  cc.type = type;
  cc.stat_rows = per_query_head ? config_.group() : 1;
  return kvcache::KvCache::create(cc);
}

}  // namespace vatp::model
