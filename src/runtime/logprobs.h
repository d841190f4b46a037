// Log-probabilities from a logits row, with perplexity's arithmetic (the maximum in
// float, Σ exp in double: runtime/perplexity.h), so that a log-probability the server
// returns is bit for bit −nll of `vatp ppl` for the same logits.
#pragma once

#include <cstdint>
#include <vector>

namespace vatp::runtime {

// log Σ exp(logits) as max + log Σ exp(l − max).
struct LogNormalizer {
  float max = 0.0f;
  int32_t argmax = 0;  // ties → the lowest id
  double log_sum = 0.0;
};

LogNormalizer log_normalizer(const float* logits, int n_vocab);

// log softmax(logits)[id].
inline double token_logprob(const float* logits, const LogNormalizer& z, int32_t id) {
  return static_cast<double>(logits[id] - z.max) - z.log_sum;
}

struct TokenLogprob {
  int32_t id = 0;
  double logprob = 0.0;
};

// The n most likely tokens, most likely first (ties → the lower id); n <= n_vocab.
std::vector<TokenLogprob> top_logprobs(const float* logits, int n_vocab, const LogNormalizer& z, int n);

}  // namespace vatp::runtime
