#include "runtime/kv_evictor.h"

#include <algorithm>

namespace vatp::runtime {

Result<KvEvictor> KvEvictor::create(const policy::PolicyConfig& cfg, int64_t prompt_len, int64_t ctx) {
  VATP_RETURN_IF_ERROR(policy::validate(cfg, prompt_len, ctx));
  KvEvictor e;
  e.cfg_ = cfg;
  e.rng_ = policy::Rng(cfg.seed);
  e.prompt_len_ = prompt_len;
  VATP_ASSIGN_OR_RETURN(e.split_, policy::resolve_budget(cfg, prompt_len));
  e.plan_ = policy::stat_plan(cfg);
  if (e.plan_.per_query_head) {
    return unimplemented("--kv-group max is not supported by the engine yet (use sum or mean)");
  }
  e.capacity_ = policy::slots_needed(cfg, e.split_, prompt_len, ctx);
  e.chunk_ = cfg.schedule == policy::Schedule::kChunked ? cfg.chunk : prompt_len;

  const model::GroupReduce reduce =
      cfg.group == policy::GroupReduce::kMean ? model::GroupReduce::Mean : model::GroupReduce::Sum;
  e.prefill_req_.reduce = e.decode_req_.reduce = reduce;
  if (e.plan_.attention) {
    switch (cfg.scorer) {
      case policy::Scorer::kAccumAttention:
        e.prefill_req_.accumulate = e.decode_req_.accumulate = true;
        break;
      case policy::Scorer::kWindowAttention:
        // The last `window` prompt queries, then every decode row.
        e.prefill_req_.window_start =
            static_cast<int32_t>(std::max<int64_t>(0, prompt_len - e.plan_.prefill_window));
        e.decode_req_.window_start = e.plan_.decode == policy::StatPlan::Decode::kNone ? INT32_MAX : 0;
        break;
      case policy::Scorer::kLastQuery: e.prefill_req_.last = e.decode_req_.last = true; break;
      default: break;
    }
  }
  return e;
}

const model::AttentionStatsRequest* KvEvictor::request(bool decoding) const {
  if (!plan_.attention) return nullptr;
  return decoding ? &decode_req_ : &prefill_req_;
}

void KvEvictor::end_prefill(kvcache::KvCache& cache) const {
  if (cfg_.scorer != policy::Scorer::kWindowAttention || plan_.prefill_scale == 1.0f) return;
  const kvcache::KvCacheConfig& c = cache.config();
  for (int l = 0; l < c.n_layers; ++l) {
    for (int h = 0; h < c.n_kv_heads; ++h) {
      float* w = cache.window_attn(l, h);
      for (int s = 0; s < cache.length(l, h); ++s) w[s] *= plan_.prefill_scale;
    }
  }
}

Result<int64_t> KvEvictor::maybe_evict(policy::Phase phase, kvcache::KvCache& cache) {
  if (!cfg_.evict || !policy::evicts_at(cfg_, phase)) return int64_t{0};
  const kvcache::KvCacheConfig& c = cache.config();
  kvcache::EvictionPlan plan;
  int64_t removed = 0;
  auto stats_of = [&](int l, int h) {
    policy::HeadStats st;
    const size_t n = static_cast<size_t>(cache.length(l, h));
    st.pos = {cache.pos(l, h), n};
    st.group = 1;
    if (plan_.attention) {
      const float* a = cfg_.scorer == policy::Scorer::kWindowAttention ? cache.window_attn(l, h)
                       : cfg_.scorer == policy::Scorer::kLastQuery     ? cache.last_attn(l, h)
                                                                       : cache.acc_attn(l, h);
      st.attn = {a, n};
    }
    st.value_l1 = {cache.value_l1(l, h), n};
    st.value_l2 = {cache.value_l2(l, h), n};
    st.key_l2 = {cache.key_l2(l, h), n};
    return st;
  };
  for (int l = 0; l < c.n_layers; ++l) {
    if (cfg_.layer_shared) {
      heads_.clear();
      for (int h = 0; h < c.n_kv_heads; ++h) heads_.push_back(stats_of(l, h));
      VATP_RETURN_IF_ERROR(policy::select_keep_layer(cfg_, split_, heads_, rng_, scratch_, &keep_layer_));
      for (int h = 0; h < c.n_kv_heads; ++h) {
        const std::vector<int32_t>& k = keep_layer_[static_cast<size_t>(h)];
        if (static_cast<int>(k.size()) == cache.length(l, h)) continue;
        removed += cache.length(l, h) - static_cast<int64_t>(k.size());
        plan.heads.push_back({l, h, k});
      }
      continue;
    }
    for (int h = 0; h < c.n_kv_heads; ++h) {
      policy::select_keep(cfg_, split_, stats_of(l, h), rng_, scratch_, &keep_);
      if (static_cast<int>(keep_.size()) == cache.length(l, h)) continue;
      removed += cache.length(l, h) - static_cast<int64_t>(keep_.size());
      plan.heads.push_back({l, h, keep_});
    }
  }
  VATP_RETURN_IF_ERROR(cache.apply(plan));
  return removed;
}

}  // namespace vatp::runtime
