#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

namespace vatp::runtime {
namespace {

SamplerParams plain(float temp) {
  SamplerParams p;
  p.temp = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = 1234;
  return p;
}

std::set<int32_t> survivors(const Sampler& s) {
  return std::set<int32_t>(s.candidate_ids(), s.candidate_ids() + s.n_candidates());
}

TEST(Sampler, ValidateRejectsBadRanges) {
  SamplerParams p;
  EXPECT_TRUE(validate(p).is_ok());
  p.temp = -0.1f;
  EXPECT_EQ(validate(p).code(), StatusCode::kInvalidArgument);
  p = {};
  p.top_p = 0.0f;
  EXPECT_FALSE(validate(p).is_ok());
  p.top_p = 1.5f;
  EXPECT_FALSE(validate(p).is_ok());
  p = {};
  p.min_p = -0.5f;
  EXPECT_FALSE(validate(p).is_ok());
  p = {};
  p.repeat_penalty = 0.0f;
  EXPECT_FALSE(validate(p).is_ok());
  p = {};
  p.repeat_last_n = -1;
  EXPECT_FALSE(validate(p).is_ok());
}

TEST(Sampler, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler s(6, plain(0.0f));
  const float a[6] = {0.1f, 3.0f, -2.0f, 3.0f, 2.9f, 3.0f};
  EXPECT_EQ(s.sample(a), 1);
  const float b[6] = {-1.0f, -1.0f, -1.0f, -1.0f, -1.0f, -0.5f};
  EXPECT_EQ(s.sample(b), 5);
  const float c[6] = {7.0f, 7.0f, 7.0f, 7.0f, 7.0f, 7.0f};
  EXPECT_EQ(s.sample(c), 0);
}

TEST(Sampler, GreedyIgnoresTruncationSettings) {
  SamplerParams p = plain(0.0f);
  p.top_k = 1;
  p.top_p = 0.1f;
  p.min_p = 0.9f;
  Sampler s(4, p);
  const float a[4] = {0.0f, 1.0f, 5.0f, 4.0f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s.sample(a), 2);
}

TEST(Sampler, TopKKeepsTheKLargest) {
  SamplerParams p = plain(1.0f);
  p.top_k = 3;
  Sampler s(8, p);
  const float a[8] = {0.5f, 4.0f, -1.0f, 3.0f, 2.0f, 3.5f, 1.0f, 0.0f};
  for (int i = 0; i < 50; ++i) {
    const int32_t t = s.sample(a);
    EXPECT_TRUE(t == 1 || t == 5 || t == 3) << t;
  }
  EXPECT_EQ(survivors(s), (std::set<int32_t>{1, 3, 5}));
  // Sorted by logit, descending.
  EXPECT_EQ(s.candidate_ids()[0], 1);
  EXPECT_EQ(s.candidate_ids()[1], 5);
  EXPECT_EQ(s.candidate_ids()[2], 3);
}

TEST(Sampler, TopKTieBreaksTowardLowestId) {
  SamplerParams p = plain(1.0f);
  p.top_k = 2;
  Sampler s(5, p);
  const float a[5] = {1.0f, 2.0f, 2.0f, 2.0f, 0.0f};
  s.sample(a);
  EXPECT_EQ(survivors(s), (std::set<int32_t>{1, 2}));
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingMass) {
  // Probabilities 0.5, 0.25, 0.125, 0.125 (logits are log-probs).
  const float a[4] = {std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)};
  SamplerParams p = plain(1.0f);
  p.top_p = 0.5f;  // 0.5 reached by the first token alone
  {
    Sampler s(4, p);
    s.sample(a);
    EXPECT_EQ(survivors(s), (std::set<int32_t>{1}));
  }
  p.top_p = 0.7f;  // needs 0.5 + 0.25
  {
    Sampler s(4, p);
    s.sample(a);
    EXPECT_EQ(survivors(s), (std::set<int32_t>{1, 3}));
  }
  p.top_p = 0.8f;  // 0.75 < 0.8 → third token too (tie at 0.125: lowest id, 0)
  {
    Sampler s(4, p);
    s.sample(a);
    EXPECT_EQ(survivors(s), (std::set<int32_t>{0, 1, 3}));
  }
}

TEST(Sampler, TopPUsesProbabilitiesAfterTopK) {
  // After top-k=2 the two survivors have equal mass 0.5 each: p=0.5 keeps one.
  const float a[4] = {1.0f, 1.0f, 0.5f, 0.0f};
  SamplerParams p = plain(1.0f);
  p.top_k = 2;
  p.top_p = 0.5f;
  Sampler s(4, p);
  s.sample(a);
  EXPECT_EQ(survivors(s), (std::set<int32_t>{0}));
}

TEST(Sampler, MinPKeepsTokensAboveFractionOfMax) {
  // p ∝ 1, 0.5, 0.2, 0.05  → min_p 0.1 keeps the first three, min_p 0.3 the first two.
  const float a[4] = {0.0f, std::log(0.5f), std::log(0.2f), std::log(0.05f)};
  SamplerParams p = plain(1.0f);
  p.min_p = 0.1f;
  {
    Sampler s(4, p);
    s.sample(a);
    EXPECT_EQ(survivors(s), (std::set<int32_t>{0, 1, 2}));
  }
  p.min_p = 0.3f;
  {
    Sampler s(4, p);
    for (int i = 0; i < 30; ++i) {
      const int32_t t = s.sample(a);
      EXPECT_TRUE(t == 0 || t == 1);
    }
    EXPECT_EQ(survivors(s), (std::set<int32_t>{0, 1}));
  }
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegative) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 4;
  Sampler s(3, p);
  // Token 0 leads with 3.0; penalised → 1.5 < 2.0 of token 1.
  const float a[3] = {3.0f, 2.0f, -1.0f};
  EXPECT_EQ(s.sample(a), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(a), 1);
  // Negative logits get more negative: -0.6 → -1.2. A token seen twice is penalised
  // once (twice would give -2.4).
  Sampler n(2, p);
  const float c[2] = {-0.6f, -1.1f};
  EXPECT_EQ(n.sample(c), 0);
  n.accept(0);
  n.accept(0);
  EXPECT_EQ(n.sample(c), 1);  // -1.2 < -1.1
  const float d[2] = {-0.6f, -1.3f};
  EXPECT_EQ(n.sample(d), 0);  // -1.2 > -1.3
}

TEST(Sampler, RepeatPenaltyWindowForgetsOldTokens) {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 10.0f;
  p.repeat_last_n = 2;
  Sampler s(4, p);
  const float a[4] = {5.0f, 1.0f, 0.0f, 0.0f};
  s.accept(0);
  EXPECT_EQ(s.sample(a), 1);
  s.accept(2);
  s.accept(3);  // token 0 has left the window of 2
  EXPECT_EQ(s.sample(a), 0);
  s.reset();
  EXPECT_EQ(s.sample(a), 0);
}

TEST(Sampler, DeterministicForASeed) {
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = std::sin(0.37f * i) * 2.0f;
  SamplerParams p;
  p.temp = 1.0f;
  p.top_k = 50;
  p.top_p = 0.95f;
  p.min_p = 0.01f;
  p.seed = 42;
  auto run = [&](uint64_t seed) {
    SamplerParams q = p;
    q.seed = seed;
    Sampler s(100, q);
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(logits.data()));
    return out;
  };
  const auto a = run(42), b = run(42), c = run(43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // reset() restarts the sequence.
  Sampler s(100, p);
  std::vector<int32_t> first, second;
  for (int i = 0; i < 50; ++i) first.push_back(s.sample(logits.data()));
  s.reset();
  for (int i = 0; i < 50; ++i) second.push_back(s.sample(logits.data()));
  EXPECT_EQ(first, second);
}

// Frequencies over many draws follow softmax(l / temp) within sampling error.
TEST(Sampler, TemperatureShapesTheDistribution) {
  const float logits[3] = {0.0f, 1.0f, 2.0f};
  const int n = 40000;
  for (float temp : {0.5f, 1.0f, 2.0f}) {
    Sampler s(3, plain(temp));
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < n; ++i) ++counts[s.sample(logits)];
    double z = 0.0, expect[3];
    for (int i = 0; i < 3; ++i) z += (expect[i] = std::exp(logits[i] / temp));
    for (int i = 0; i < 3; ++i) {
      const double p = expect[i] / z;
      const double sigma = std::sqrt(p * (1 - p) / n);
      EXPECT_NEAR(counts[i] / static_cast<double>(n), p, 5 * sigma) << "temp " << temp << " token " << i;
    }
  }
  // Lower temperature concentrates mass on the argmax.
  Sampler cold(3, plain(0.1f));
  int top = 0;
  for (int i = 0; i < 1000; ++i) top += cold.sample(logits) == 2;
  EXPECT_GT(top, 990);
}

TEST(Sampler, LogitsAreNotModified) {
  SamplerParams p = plain(1.0f);
  p.repeat_penalty = 3.0f;
  Sampler s(3, p);
  s.accept(0);
  const float a[3] = {2.0f, 1.0f, 0.0f};
  s.sample(a);
  EXPECT_EQ(a[0], 2.0f);
}

}  // namespace
}  // namespace vatp::runtime
