#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"

namespace vatp::runtime {

Status validate(const SamplerParams& p) {
  if (!std::isfinite(p.temp) || p.temp < 0.0f)
    return invalid_argument("temperature must be >= 0, got " + std::to_string(p.temp));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
    return invalid_argument("top-p must be in (0, 1], got " + std::to_string(p.top_p));
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f))
    return invalid_argument("min-p must be in [0, 1], got " + std::to_string(p.min_p));
  if (!(p.repeat_penalty > 0.0f) || !std::isfinite(p.repeat_penalty))
    return invalid_argument("repeat penalty must be > 0, got " + std::to_string(p.repeat_penalty));
  if (p.repeat_last_n < 0)
    return invalid_argument("repeat-last-n must be >= 0, got " + std::to_string(p.repeat_last_n));
  return Status::ok();
}

Sampler::Sampler(int n_vocab, const SamplerParams& params)
    : n_vocab_(n_vocab),
      params_(params),
      rng_(params.seed),
      logit_(n_vocab),
      cand_id_(n_vocab),
      cand_prob_(n_vocab),
      history_(std::max(params.repeat_last_n, 0)),
      seen_stamp_(n_vocab, 0) {
  VATP_CHECK(n_vocab > 0);
  VATP_CHECK(validate(params).is_ok());
}

void Sampler::reset() {
  rng_.seed(params_.seed);
  history_len_ = 0;
  history_next_ = 0;
}

void Sampler::accept(int32_t token) {
  if (history_.empty()) return;
  history_[history_next_] = token;
  history_next_ = (history_next_ + 1) % static_cast<int>(history_.size());
  history_len_ = std::min(history_len_ + 1, static_cast<int>(history_.size()));
}

void Sampler::apply_repeat_penalty() {
  const float penalty = params_.repeat_penalty;
  if (penalty == 1.0f || history_len_ == 0) return;
  // A new stamp marks "already penalised" without clearing an n_vocab array per token.
  if (++stamp_ == 0) {
    std::fill(seen_stamp_.begin(), seen_stamp_.end(), 0u);
    stamp_ = 1;
  }
  for (int i = 0; i < history_len_; ++i) {
    const int32_t t = history_[i];
    if (t < 0 || t >= n_vocab_ || seen_stamp_[t] == stamp_) continue;
    seen_stamp_[t] = stamp_;
    float& l = logit_[t];
    l = l > 0.0f ? l / penalty : l * penalty;
  }
}

void Sampler::sort_candidates(int k) {
  const float* logit = logit_.data();
  auto before = [logit](int32_t a, int32_t b) {
    return logit[a] > logit[b] || (logit[a] == logit[b] && a < b);
  };
  k = std::min(k, n_cand_);
  std::partial_sort(cand_id_.begin(), cand_id_.begin() + k, cand_id_.begin() + n_cand_, before);
}

double Sampler::uniform01() {
  // Top 53 bits of one 64-bit draw: std::uniform_real_distribution's algorithm is
  // implementation-defined, this is not.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

int32_t Sampler::draw() {
  const float inv_temp = 1.0f / params_.temp;
  float max_l = -INFINITY;
  for (int i = 0; i < n_cand_; ++i) max_l = std::max(max_l, logit_[cand_id_[i]]);
  double sum = 0.0;
  for (int i = 0; i < n_cand_; ++i) {
    cand_prob_[i] = std::exp(static_cast<double>((logit_[cand_id_[i]] - max_l) * inv_temp));
    sum += cand_prob_[i];
  }
  const double u = uniform01() * sum;
  double acc = 0.0;
  for (int i = 0; i < n_cand_; ++i) {
    acc += cand_prob_[i];
    if (u < acc) return cand_id_[i];
  }
  // Rounding (or NaN logits) can leave u >= the accumulated sum: take the last one.
  return cand_id_[n_cand_ - 1];
}

int32_t Sampler::sample(const float* logits) {
  std::memcpy(logit_.data(), logits, sizeof(float) * n_vocab_);
  apply_repeat_penalty();
  n_cand_ = n_vocab_;
  for (int i = 0; i < n_vocab_; ++i) cand_id_[i] = i;

  if (params_.temp <= 0.0f) {
    int32_t best = 0;
    for (int i = 1; i < n_vocab_; ++i)
      if (logit_[i] > logit_[best]) best = i;
    cand_id_[0] = best;
    n_cand_ = 1;
    return best;
  }

  // 2. top-k (also sorts; top-p below needs the sorted order).
  const bool use_top_p = params_.top_p < 1.0f;
  if (params_.top_k > 0) {
    sort_candidates(params_.top_k);
    n_cand_ = std::min(n_cand_, params_.top_k);
  } else if (use_top_p) {
    sort_candidates(n_cand_);
  }

  // 3. top-p on softmax of the surviving (untempered) logits.
  if (use_top_p) {
    const float max_l = logit_[cand_id_[0]];
    double sum = 0.0;
    for (int i = 0; i < n_cand_; ++i) {
      cand_prob_[i] = std::exp(static_cast<double>(logit_[cand_id_[i]] - max_l));
      sum += cand_prob_[i];
    }
    const double target = static_cast<double>(params_.top_p) * sum;
    double cum = 0.0;
    int keep = n_cand_;
    for (int i = 0; i < n_cand_; ++i) {
      cum += cand_prob_[i];
      if (cum >= target) {
        keep = i + 1;
        break;
      }
    }
    n_cand_ = keep;
  }

  // 4. min-p: p_i >= min_p * p_max  <=>  l_i >= l_max + log(min_p).
  if (params_.min_p > 0.0f) {
    float max_l = -INFINITY;
    for (int i = 0; i < n_cand_; ++i) max_l = std::max(max_l, logit_[cand_id_[i]]);
    const float threshold = max_l + std::log(params_.min_p);
    int kept = 0;
    for (int i = 0; i < n_cand_; ++i)
      if (logit_[cand_id_[i]] >= threshold) cand_id_[kept++] = cand_id_[i];
    n_cand_ = std::max(kept, 1);  // the max always passes; guard against NaN anyway
  }

  // 5–6. temperature and the draw.
  return draw();
}

}  // namespace vatp::runtime
