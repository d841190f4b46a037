// Log-probabilities (runtime/logprobs.h) against a plain long-double log-softmax, the
// top-n order and its ties, and the identity the server relies on: logprob == −nll of
// perplexity's score_token, bit for bit.
#include "runtime/logprobs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "runtime/perplexity.h"

namespace vatp::runtime {
namespace {

std::vector<float> random_logits(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 4.0f);
  std::vector<float> l(static_cast<size_t>(n));
  for (float& x : l) x = d(rng);
  return l;
}

TEST(Logprobs, MatchALongDoubleLogSoftmax) {
  const int n = 5000;
  const std::vector<float> l = random_logits(n, 1);
  const LogNormalizer z = log_normalizer(l.data(), n);
  long double sum = 0;
  for (float x : l) sum += std::exp(static_cast<long double>(x));
  for (int id : {0, 17, 4999}) {
    const long double want = static_cast<long double>(l[static_cast<size_t>(id)]) - std::log(sum);
    // l − max and exp in float, as llama-perplexity: agreement to float precision.
    EXPECT_NEAR(token_logprob(l.data(), z, id), static_cast<double>(want), 2e-6) << id;
  }
}

TEST(Logprobs, AreMinusThePerplexityNllBitForBit) {
  const int n = 3000;
  const std::vector<float> l = random_logits(n, 2);
  const LogNormalizer z = log_normalizer(l.data(), n);
  for (int id = 0; id < n; id += 97) {
    const TokenScore s = score_token(l.data(), n, id);
    EXPECT_EQ(token_logprob(l.data(), z, id), -s.nll) << id;
    EXPECT_EQ(s.top1, z.argmax);
  }
}

TEST(Logprobs, TopNIsSortedWithTiesToTheLowerId) {
  std::vector<float> l = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 2.0f};
  const int n = static_cast<int>(l.size());
  const LogNormalizer z = log_normalizer(l.data(), n);
  EXPECT_EQ(z.argmax, 1);
  const std::vector<TokenLogprob> top = top_logprobs(l.data(), n, z, 4);
  ASSERT_EQ(top.size(), 4u);
  const int32_t want[] = {1, 3, 2, 5};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(top[i].id, want[i]) << i;
    EXPECT_EQ(top[i].logprob, token_logprob(l.data(), z, want[i]));
  }
  EXPECT_TRUE(top_logprobs(l.data(), n, z, 0).empty());
  EXPECT_EQ(top_logprobs(l.data(), n, z, 50).size(), l.size());  // clamped to the vocabulary
}

TEST(Logprobs, TopNAgreesWithAFullSort) {
  const int n = 4000;
  const std::vector<float> l = random_logits(n, 3);
  const LogNormalizer z = log_normalizer(l.data(), n);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = i;
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    return l[static_cast<size_t>(a)] > l[static_cast<size_t>(b)];
  });
  const std::vector<TokenLogprob> top = top_logprobs(l.data(), n, z, 20);
  ASSERT_EQ(top.size(), 20u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(top[i].id, ids[i]) << i;
}

}  // namespace
}  // namespace vatp::runtime
