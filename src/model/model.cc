#include "model/model.h"

#include <cstdlib>

#include "core/check.h"
#include "kernels/packed.h"

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

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const kernels::KernelTable& kt,
                                           const LoadOptions& opts) {
  VATP_ASSIGN_OR_RETURN(gguf::GgufFile f, gguf::GgufFile::open(path));
  Result<std::unique_ptr<Model>> m = from_gguf(std::move(f), kt, opts);
  if (!m.is_ok()) return m.status().with_context("loading '" + path + "'");
  return m;
}

Result<std::unique_ptr<Model>> Model::from_gguf(gguf::GgufFile file, const kernels::KernelTable& kt,
                                                const LoadOptions& opts) {
  std::unique_ptr<Model> m(new Model(std::move(file), kt));
  VATP_ASSIGN_OR_RETURN(m->config_, ModelConfig::from_gguf(m->file_));
  VATP_ASSIGN_OR_RETURN(m->weights_, Weights::from_gguf(m->file_, m->config_, kt));
  m->config_.rope.freq_factors = m->weights_.rope_freqs;
  if (opts.repack) VATP_RETURN_IF_ERROR(m->repack_weights(opts.pool));
  return m;
}

Status Model::repack_weights(ThreadPool* pool) {
  std::vector<kernels::WeightView*> views;
  for (LayerWeights& L : weights_.layers) {
    for (kernels::WeightView* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
      views.push_back(w);
  }
  views.push_back(&weights_.output);
  size_t total = 0;
  std::vector<kernels::WeightView*> todo;
  for (kernels::WeightView* w : views) {
    // The packed layouts the table has a tile for.
    if (!kernels::has_packed_layout(w->type) || kt_.at(w->type).packed_tile == nullptr ||
        w->rows < kernels::kPackRows)
      continue;
    todo.push_back(w);
    total += kernels::packed_bytes(*w);
  }
  if (todo.empty()) return Status::ok();
  Result<AnonMemory> mem = AnonMemory::allocate(total);
  if (!mem.is_ok()) {
    return mem.status().with_context("repacking the weights (--no-repack keeps the file's layout)");
  }
  packed_ = std::move(mem).value();
  packed_bytes_ = total;
  size_t off = 0;
  for (kernels::WeightView* w : todo) {
    uint8_t* dst = packed_.data() + off;
    const int64_t groups = w->rows / kernels::kPackRows;
    if (pool != nullptr) {
      pool->parallel_for(groups, 8,
                         [&](int64_t g0, int64_t g1, int) { kernels::pack_groups(*w, dst, g0, g1); });
    } else {
      kernels::pack_groups(*w, dst, 0, groups);
    }
    // The packed rows are never read from the file again: give their pages back. (The
    // output may share its tensor with the embedding table, which is still read.)
    if ((!weights_.tied_output || w != &weights_.output)) {
      file_.drop_pages(w->data, static_cast<size_t>(groups * kernels::kPackRows) * w->row_bytes);
    }
    w->packed = dst;
    w->packed_rows = w->rows / kernels::kPackRows * kernels::kPackRows;
    off += kernels::packed_bytes(*w);
  }
  return Status::ok();
}

size_t Model::weight_bytes() const {
  size_t n = 0;
  for (const gguf::TensorInfo& t : file_.tensors()) n += t.nbytes;
  return n;
}

Result<kvcache::KvCache> Model::make_cache(int capacity, kvcache::KvType type, bool per_query_head) const {
  return kvcache::KvCache::create(cache_config(capacity, type, per_query_head));
}

kvcache::KvCacheConfig Model::cache_config(int capacity, kvcache::KvType type, bool per_query_head) const {
  kvcache::KvCacheConfig cc;
  cc.n_layers = config_.n_layers;
  cc.n_kv_heads = config_.n_kv_heads;
  cc.head_dim = config_.head_dim;
  cc.capacity = capacity;
  cc.type = type;
  cc.stat_rows = per_query_head ? config_.group() : 1;
  return cc;
}

}  // namespace vatp::model
