#include "runtime/logprobs.h"

#include <algorithm>
#include <cmath>

namespace vatp::runtime {

LogNormalizer log_normalizer(const float* logits, int n_vocab) {
  LogNormalizer z;
  z.max = logits[0];
  for (int i = 1; i < n_vocab; ++i) {
    if (logits[i] > z.max) {
      z.max = logits[i];
      z.argmax = i;
    }
  }
  double sum_exp = 0.0;
  for (int i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - z.max);
  z.log_sum = std::log(sum_exp);
  return z;
}

std::vector<TokenLogprob> top_logprobs(const float* logits, int n_vocab, const LogNormalizer& z, int n) {
  n = std::clamp(n, 0, n_vocab);
  // A sorted list of the best n so far: one pass, n is small (<= 20 from the server).
  std::vector<int32_t> best;
  best.reserve(static_cast<size_t>(n) + 1);
  auto better = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  for (int32_t i = 0; i < n_vocab && n > 0; ++i) {
    if (static_cast<int>(best.size()) == n && !better(i, best.back())) continue;
    best.insert(std::upper_bound(best.begin(), best.end(), i, better), i);
    if (static_cast<int>(best.size()) > n) best.pop_back();
  }
  std::vector<TokenLogprob> out;
  out.reserve(best.size());
  for (int32_t id : best) out.push_back({id, token_logprob(logits, z, id)});
  return out;
}

}  // namespace vatp::runtime
