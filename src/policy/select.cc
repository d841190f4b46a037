// Scoring and keep-set selection for one KV head (docs/policies.md, specs/vatp.md §6).
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/check.h"
#include "policy/policy.h"
#include "policy/registry.h"

namespace vatp::policy {
namespace {

// NaN never outranks a number; keeps the order strict-weak.
inline float rank_key(float s) { return std::isnan(s) ? -std::numeric_limits<float>::infinity() : s; }

// Group reduction of the [group][n] attention rows into out[n].
void reduce_group(GroupReduce red, const HeadStats& st, std::span<float> out) {
  const int64_t n = st.size();
  const int32_t g = st.group;
  const int64_t stride = st.attn_stride > 0 ? st.attn_stride : n;
  VATP_CHECK(g >= 1 && stride >= n && static_cast<int64_t>(st.attn.size()) >= (g - 1) * stride + n);
  for (int64_t i = 0; i < n; ++i) out[i] = st.attn[i];
  for (int32_t h = 1; h < g; ++h) {
    const float* row = st.attn.data() + h * stride;
    if (red == GroupReduce::kMax) {
      for (int64_t i = 0; i < n; ++i) out[i] = std::max(out[i], row[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] += row[i];
    }
  }
  if (red == GroupReduce::kMean && g > 1) {
    for (int64_t i = 0; i < n; ++i) out[i] /= static_cast<float>(g);
  }
}

// Keeps the slots marked in `scratch.order` (protected) plus the best `m` candidates.
void finish(const HeadStats& st, std::span<const float> score, int64_t m, SelectScratch& sc,
            std::vector<int32_t>* keep) {
  std::vector<int32_t>& cand = sc.cand;
  const auto better = [&](int32_t a, int32_t b) {
    const float ka = rank_key(score[a]), kb = rank_key(score[b]);
    if (ka != kb) return ka > kb;
    return st.pos[a] < st.pos[b];  // ties: the older token stays
  };
  m = std::min<int64_t>(m, static_cast<int64_t>(cand.size()));
  if (m > 0 && m < static_cast<int64_t>(cand.size())) {
    std::nth_element(cand.begin(), cand.begin() + m, cand.end(), better);
  }
  keep->insert(keep->end(), cand.begin(), cand.begin() + m);
  std::sort(keep->begin(), keep->end());
}

// Splits slots into protected (appended to keep) and candidates (sc.cand, position
// order). Returns false when everything fits.
bool split_slots(const BudgetSplit& split, const HeadStats& st, SelectScratch& sc,
                 std::vector<int32_t>* keep) {
  const int64_t n = st.size();
  keep->clear();
  sc.cand.clear();
  if (n <= split.total) {
    for (int32_t i = 0; i < n; ++i) keep->push_back(i);
    return false;
  }
  // Recent = the split.recent newest positions.
  int32_t recent_from = std::numeric_limits<int32_t>::max();
  if (split.recent > 0) {
    sc.order.resize(n);
    for (int32_t i = 0; i < n; ++i) sc.order[i] = st.pos[i];
    const int64_t r = std::min<int64_t>(split.recent, n);
    std::nth_element(sc.order.begin(), sc.order.begin() + (n - r), sc.order.end());
    recent_from = sc.order[n - r];
  }
  for (int32_t i = 0; i < n; ++i) {
    if (st.pos[i] < split.sinks || st.pos[i] >= recent_from) {
      keep->push_back(i);
    } else {
      sc.cand.push_back(i);
    }
  }
  std::sort(sc.cand.begin(), sc.cand.end(), [&](int32_t a, int32_t b) { return st.pos[a] < st.pos[b]; });
  return true;
}

// Average pool (zero padded, divided by the kernel: avg_pool1d with count_include_pad)
// over the candidates in position order, in place in `score`.
void pool_candidates(int32_t kernel, std::span<float> score, SelectScratch& sc) {
  if (kernel <= 1) return;
  const int64_t c = static_cast<int64_t>(sc.cand.size());
  const int64_t half = kernel / 2;
  sc.pooled.resize(c);
  for (int64_t i = 0; i < c; ++i) {
    double acc = 0;
    for (int64_t j = std::max<int64_t>(0, i - half); j <= std::min(c - 1, i + half); ++j)
      acc += score[sc.cand[j]];
    sc.pooled[i] = static_cast<float>(acc / kernel);
  }
  for (int64_t i = 0; i < c; ++i) score[sc.cand[i]] = sc.pooled[i];
}

}  // namespace

void score_attention(const PolicyConfig& cfg, const HeadStats& st, Rng&, std::span<float> out) {
  const int64_t n = st.size();
  reduce_group(cfg.group, st, out);
  // ‖v‖ is per KV head and positive, so weighting after the reduction equals weighting
  // every query head's row first (for sum, mean and max alike).
  if (cfg.value_norm == ValueNorm::kL1) {
    VATP_CHECK(static_cast<int64_t>(st.value_l1.size()) == n);
    for (int64_t i = 0; i < n; ++i) out[i] *= st.value_l1[i];
  } else if (cfg.value_norm == ValueNorm::kL2) {
    VATP_CHECK(static_cast<int64_t>(st.value_l2.size()) == n);
    for (int64_t i = 0; i < n; ++i) out[i] *= st.value_l2[i];
  }
}

void compute_scores(const PolicyConfig& cfg, const HeadStats& st, Rng& rng, std::span<float> out) {
  VATP_CHECK(static_cast<int64_t>(out.size()) >= st.size());
  scorer_info(cfg.scorer).score(cfg, st, rng, out);
}

void select_keep(const PolicyConfig& cfg, const BudgetSplit& split, const HeadStats& st, Rng& rng,
                 SelectScratch& sc, std::vector<int32_t>* keep) {
  VATP_CHECK(keep != nullptr);
  if (!cfg.evict) {
    keep->clear();
    for (int32_t i = 0; i < st.size(); ++i) keep->push_back(i);
    return;
  }
  if (!split_slots(split, st, sc, keep)) return;
  const int64_t m = split.total - static_cast<int64_t>(keep->size());
  if (m <= 0 || sc.cand.empty()) {
    std::sort(keep->begin(), keep->end());
    return;
  }
  sc.score.resize(st.size());
  compute_scores(cfg, st, rng, sc.score);
  pool_candidates(cfg.pool_kernel, sc.score, sc);
  finish(st, sc.score, m, sc, keep);
}

std::vector<int32_t> select_keep(const PolicyConfig& cfg, const BudgetSplit& split, const HeadStats& st,
                                 Rng& rng) {
  SelectScratch sc;
  std::vector<int32_t> keep;
  select_keep(cfg, split, st, rng, sc, &keep);
  return keep;
}

Status select_keep_layer(const PolicyConfig& cfg, const BudgetSplit& split, std::span<const HeadStats> heads,
                         Rng& rng, SelectScratch& sc, std::vector<std::vector<int32_t>>* keep) {
  VATP_CHECK(keep != nullptr);
  keep->resize(heads.size());
  if (!cfg.layer_shared || !cfg.evict || heads.size() <= 1) {
    for (size_t h = 0; h < heads.size(); ++h) select_keep(cfg, split, heads[h], rng, sc, &(*keep)[h]);
    return Status::ok();
  }
  const HeadStats& h0 = heads[0];
  const int64_t n = h0.size();
  for (size_t h = 1; h < heads.size(); ++h) {
    if (!std::equal(h0.pos.begin(), h0.pos.end(), heads[h].pos.begin(), heads[h].pos.end())) {
      return invalid_argument("KV policy " + cfg.name + " shares one token set per layer, but KV head " +
                              std::to_string(h) + " holds different positions than head 0");
    }
  }
  std::vector<int32_t>& k0 = (*keep)[0];
  if (split_slots(split, h0, sc, &k0)) {
    const int64_t m = split.total - static_cast<int64_t>(k0.size());
    if (m > 0 && !sc.cand.empty()) {
      sc.shared.assign(n, 0.0f);
      sc.score.resize(n);
      for (const HeadStats& st : heads) {
        compute_scores(cfg, st, rng, sc.score);
        for (int64_t i = 0; i < n; ++i) sc.shared[i] += sc.score[i] / static_cast<float>(heads.size());
      }
      pool_candidates(cfg.pool_kernel, sc.shared, sc);
      finish(h0, sc.shared, m, sc, &k0);
    } else {
      std::sort(k0.begin(), k0.end());
    }
  }
  for (size_t h = 1; h < heads.size(); ++h) (*keep)[h] = k0;
  return Status::ok();
}

}  // namespace vatp::policy
