#include "runtime/kv_evictor.h"

#include <algorithm>

#include "policy/registry.h"

namespace vatp::runtime {

Result<KvEvictor> KvEvictor::create(const policy::PolicyConfig& cfg, int64_t prompt_len, int64_t ctx) {
  VATP_RETURN_IF_ERROR(policy::validate(cfg, prompt_len, ctx));
  KvEvictor e;
  e.cfg_ = cfg;
  e.rng_ = policy::Rng(cfg.seed);
  e.prompt_len_ = prompt_len;
  VATP_ASSIGN_OR_RETURN(e.split_, policy::resolve_budget(cfg, prompt_len));
  e.stat_plan_ = policy::stat_plan(cfg);
  e.capacity_ = policy::slots_needed(cfg, e.split_, prompt_len, ctx);
  e.chunk_ = cfg.schedule == policy::Schedule::kChunked ? cfg.chunk : prompt_len;

  const model::GroupReduce reduce = e.stat_plan_.per_query_head               ? model::GroupReduce::PerHead
                                    : cfg.group == policy::GroupReduce::kMean ? model::GroupReduce::Mean
                                                                              : model::GroupReduce::Sum;
  e.prefill_req_.reduce = e.decode_req_.reduce = reduce;
  switch (policy::scorer_info(cfg.scorer).stat) {
    case policy::AttnStat::kAccumulated: e.prefill_req_.accumulate = e.decode_req_.accumulate = true; break;
    case policy::AttnStat::kWindow:
      // The last `window` prompt queries, then every decode row.
      e.prefill_req_.window_start =
          static_cast<int32_t>(std::max<int64_t>(0, prompt_len - e.stat_plan_.prefill_window));
      e.decode_req_.window_start = e.stat_plan_.decode == policy::StatPlan::Decode::kNone ? INT32_MAX : 0;
      break;
    case policy::AttnStat::kLast: e.prefill_req_.last = e.decode_req_.last = true; break;
    case policy::AttnStat::kNone: break;
  }
  return e;
}

const model::AttentionStatsRequest* KvEvictor::request(bool decoding) const {
  if (!stat_plan_.attention) return nullptr;
  return decoding ? &decode_req_ : &prefill_req_;
}

namespace {

// Multiplies every live slot's window statistic (all statistics rows) by `factor`.
void scale_window_stats(kvcache::KvCache& cache, float factor) {
  const kvcache::KvCacheConfig& c = cache.config();
  for (int l = 0; l < c.n_layers; ++l) {
    for (int h = 0; h < c.n_kv_heads; ++h) {
      for (int r = 0; r < cache.stat_rows(); ++r) {
        float* w = cache.window_attn(l, h) + static_cast<size_t>(r) * cache.capacity();
        for (int s = 0; s < cache.length(l, h); ++s) w[s] *= factor;
      }
    }
  }
}

}  // namespace

void KvEvictor::end_prefill(kvcache::KvCache& cache) const {
  if (policy::scorer_info(cfg_.scorer).stat != policy::AttnStat::kWindow || stat_plan_.prefill_scale == 1.0f)
    return;
  scale_window_stats(cache, stat_plan_.prefill_scale);
}

void KvEvictor::begin_turn(kvcache::KvCache& cache, int64_t end_pos) {
  if (policy::scorer_info(cfg_.scorer).stat != policy::AttnStat::kWindow) return;
  prefill_req_.window_start = static_cast<int32_t>(std::max<int64_t>(0, end_pos - stat_plan_.prefill_window));
  scale_window_stats(cache, 0.0f);  // the statistics restart with this turn's window
}

Result<int64_t> KvEvictor::maybe_evict(policy::Phase phase, kvcache::KvCache& cache) {
  if (!cfg_.evict || !policy::evicts_at(cfg_, phase)) return int64_t{0};
  const kvcache::KvCacheConfig& c = cache.config();
  const size_t n_heads = static_cast<size_t>(c.n_layers) * c.n_kv_heads;
  if (plan_.size() < n_heads) plan_.resize(n_heads);  // once per session
  size_t used = 0;
  int64_t removed = 0;
  const int32_t rows = stat_plan_.per_query_head ? cache.stat_rows() : 1;
  auto stats_of = [&](int l, int h) {
    policy::HeadStats st;
    const size_t n = static_cast<size_t>(cache.length(l, h));
    st.pos = {cache.pos(l, h), n};
    if (stat_plan_.attention) {
      const policy::AttnStat kind = policy::scorer_info(cfg_.scorer).stat;
      const float* a = kind == policy::AttnStat::kWindow ? cache.window_attn(l, h)
                       : kind == policy::AttnStat::kLast ? cache.last_attn(l, h)
                                                         : cache.acc_attn(l, h);
      st.group = rows;
      st.attn_stride = cache.capacity();
      st.attn = {a, static_cast<size_t>(rows - 1) * static_cast<size_t>(cache.capacity()) + n};
    }
    st.value_l1 = {cache.value_l1(l, h), n};
    st.value_l2 = {cache.value_l2(l, h), n};
    st.key_l2 = {cache.key_l2(l, h), n};
    return st;
  };
  auto record = [&](int l, int h) {  // plan_[used] holds head (l, h)'s keep list
    kvcache::HeadKeep& hk = plan_[used];
    if (static_cast<int>(hk.keep.size()) == cache.length(l, h)) return;
    removed += cache.length(l, h) - static_cast<int64_t>(hk.keep.size());
    hk.layer = l;
    hk.head = h;
    ++used;
  };
  for (int l = 0; l < c.n_layers; ++l) {
    if (cfg_.layer_shared) {
      heads_.clear();
      for (int h = 0; h < c.n_kv_heads; ++h) heads_.push_back(stats_of(l, h));
      VATP_RETURN_IF_ERROR(policy::select_keep_layer(cfg_, split_, heads_, rng_, scratch_, &keep_layer_));
      for (int h = 0; h < c.n_kv_heads; ++h) {
        const std::vector<int32_t>& k = keep_layer_[static_cast<size_t>(h)];
        plan_[used].keep.assign(k.begin(), k.end());
        record(l, h);
      }
      continue;
    }
    for (int h = 0; h < c.n_kv_heads; ++h) {
      policy::select_keep(cfg_, split_, stats_of(l, h), rng_, scratch_, &plan_[used].keep);
      record(l, h);
    }
  }
  VATP_RETURN_IF_ERROR(cache.apply(std::span<const kvcache::HeadKeep>(plan_.data(), used)));
  return removed;
}

}  // namespace vatp::runtime
