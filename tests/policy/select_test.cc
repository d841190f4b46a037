// Scorers and the selector: sinks, recent window, exact budget, ties, seeds, key norm
// sign, value weighting, GQA reduction, layer sharing, SnapKV pooling.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "policy/policy.h"

namespace vatp::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// Per-slot arrays owned by the test; stats() views them.
struct Head {
  std::vector<int32_t> pos;
  std::vector<float> attn, l1, l2, key;
  int group = 1;
  explicit Head(int n) : pos(n), attn(n, 0.0f), l1(n, 1.0f), l2(n, 1.0f), key(n, 1.0f) {
    std::iota(pos.begin(), pos.end(), 0);
  }
  HeadStats stats() const {
    HeadStats s;
    s.pos = pos;
    s.group = group;
    s.attn = attn;
    s.value_l1 = l1;
    s.value_l2 = l2;
    s.key_l2 = key;
    return s;
  }
};

PolicyConfig cfg_of(Scorer s) {
  PolicyConfig c;
  c.name = "test";
  c.evict = true;
  c.scorer = s;
  return c;
}

BudgetSplit split_of(int64_t total, int64_t recent, int64_t sinks = 0) {
  return BudgetSplit{total, total - recent, recent, sinks};
}

std::vector<int32_t> positions(const Head& h, const std::vector<int32_t>& keep) {
  std::vector<int32_t> p;
  for (int32_t i : keep) p.push_back(h.pos[i]);
  std::sort(p.begin(), p.end());
  return p;
}

TEST(Select, KeepsEverythingWithinBudget) {
  Head h(8);
  Rng rng(1);
  EXPECT_THAT(select_keep(cfg_of(Scorer::kAccumAttention), split_of(8, 2), h.stats(), rng),
              ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
  PolicyConfig full;  // evict = false
  EXPECT_EQ(select_keep(full, split_of(2, 1), h.stats(), rng).size(), 8u);
}

TEST(Select, TopKPlusRecent) {
  Head h(10);
  h.attn = {5, 1, 9, 3, 8, 2, 7, 0.5, 0.1, 0.2};
  Rng rng(1);
  // Budget 5 = 3 heavy + 2 recent (positions 8, 9, whatever their score).
  EXPECT_THAT(select_keep(cfg_of(Scorer::kAccumAttention), split_of(5, 2), h.stats(), rng),
              ElementsAre(2, 4, 6, 8, 9));
}

TEST(Select, SinksAlwaysKeptInsideHeavy) {
  Head h(10);
  h.attn = {0, 0, 9, 3, 8, 2, 7, 6, 5, 4};  // the two sinks score lowest
  Rng rng(1);
  PolicyConfig c = cfg_of(Scorer::kAccumAttention);
  c.sinks = 2;
  // total 5 = heavy 3 (2 sinks + 1 scored) + recent 2.
  EXPECT_THAT(select_keep(c, split_of(5, 2, 2), h.stats(), rng), ElementsAre(0, 1, 2, 8, 9));
}

TEST(Select, RecentFollowsPositionsNotSlotOrder) {
  Head h(6);
  h.pos = {40, 10, 50, 20, 30, 0};  // slots in any order
  h.attn = {0, 6, 0, 5, 1, 4};      // the two newest (50, 40) score 0
  Rng rng(1);
  const auto keep = select_keep(cfg_of(Scorer::kAccumAttention), split_of(4, 2), h.stats(), rng);
  EXPECT_TRUE(std::is_sorted(keep.begin(), keep.end()));
  EXPECT_THAT(positions(h, keep), ElementsAre(10, 20, 40, 50));
}

TEST(Select, BudgetExactAndMatchesBruteForce) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(gen() % 80);
    Head h(n);
    std::shuffle(h.pos.begin(), h.pos.end(), gen);
    for (float& a : h.attn) a = u(gen);
    for (float& v : h.l1) v = 0.1f + u(gen);
    const int64_t total = 1 + gen() % (n + 5);
    const int64_t recent = gen() % (total + 1);
    const int64_t sinks = std::min<int64_t>(gen() % 4, total - recent);
    PolicyConfig c = cfg_of(Scorer::kAccumAttention);
    c.value_norm = ValueNorm::kL1;
    c.sinks = static_cast<int32_t>(sinks);
    Rng rng(1);
    const auto keep = positions(h, select_keep(c, split_of(total, recent, sinks), h.stats(), rng));
    // Brute force: protected positions, then the rest by score × ‖v‖₁ (ties impossible here).
    std::vector<int32_t> want;
    std::vector<std::pair<float, int32_t>> rest;
    for (int i = 0; i < n; ++i) {
      const int32_t p = h.pos[i];
      if (n <= total || p < sinks || p >= n - recent) {
        want.push_back(p);
      } else {
        rest.push_back({-h.attn[i] * h.l1[i], p});
      }
    }
    std::sort(rest.begin(), rest.end());
    for (size_t i = 0; i < rest.size() && static_cast<int64_t>(want.size()) < total; ++i)
      want.push_back(rest[i].second);
    std::sort(want.begin(), want.end());
    ASSERT_EQ(keep, want) << "trial " << trial;
    ASSERT_EQ(static_cast<int64_t>(keep.size()), std::min<int64_t>(n, total));
  }
}

TEST(Select, OneEvictionPerStepDropsTheMinimum) {
  Head h(9);  // budget 8 + the new token: the continuous schedule's step
  h.attn = {4, 3, 0.5, 6, 2, 7, 1, 9, 9};
  Rng rng(1);
  const auto keep = select_keep(cfg_of(Scorer::kAccumAttention), split_of(8, 3), h.stats(), rng);
  EXPECT_THAT(keep, ElementsAre(0, 1, 3, 4, 5, 6, 7, 8));  // position 2 (0.5) goes
}

TEST(Select, TiesKeepOlderPositionsRegardlessOfSlotOrder) {
  std::mt19937 gen(3);
  for (int trial = 0; trial < 10; ++trial) {
    Head h(12);
    std::shuffle(h.pos.begin(), h.pos.end(), gen);
    std::fill(h.attn.begin(), h.attn.end(), 1.0f);
    Rng rng(1);
    const auto keep = select_keep(cfg_of(Scorer::kAccumAttention), split_of(6, 2), h.stats(), rng);
    EXPECT_THAT(positions(h, keep), ElementsAre(0, 1, 2, 3, 10, 11));
  }
}

TEST(Select, NanRanksLowest) {
  Head h(6);
  h.attn = {NAN, 1, 2, NAN, 3, 0};
  Rng rng(1);
  EXPECT_THAT(select_keep(cfg_of(Scorer::kAccumAttention), split_of(3, 1), h.stats(), rng),
              ElementsAre(2, 4, 5));
}

TEST(Select, RandomIsReproducibleBySeed) {
  Head h(100);
  const PolicyConfig c = cfg_of(Scorer::kRandom);
  Rng a(42), b(42), other(43);
  const auto ka = select_keep(c, split_of(30, 0), h.stats(), a);
  const auto kb = select_keep(c, split_of(30, 0), h.stats(), b);
  const auto ko = select_keep(c, split_of(30, 0), h.stats(), other);
  EXPECT_EQ(ka, kb);
  EXPECT_NE(ka, ko);
  EXPECT_EQ(ka.size(), 30u);
  // The generator advances: the next call with the same Rng draws new scores.
  EXPECT_NE(select_keep(c, split_of(30, 0), h.stats(), a), ka);
}

TEST(Select, KeyNormKeepsSmallestKeys) {
  Head h(6);
  h.key = {5, 1, 4, 2, 6, 3};
  Rng rng(1);
  EXPECT_THAT(select_keep(cfg_of(Scorer::kKeyNorm), split_of(3, 0), h.stats(), rng), ElementsAre(1, 3, 5));
}

TEST(Select, StreamingKeepsSinksAndRecentOnly) {
  Head h(20);
  for (int i = 0; i < 20; ++i) h.attn[i] = static_cast<float>(i % 7);
  PolicyConfig c = cfg_of(Scorer::kNone);
  c.sinks = 4;
  Rng rng(1);
  EXPECT_THAT(select_keep(c, split_of(8, 4, 4), h.stats(), rng), ElementsAre(0, 1, 2, 3, 16, 17, 18, 19));
}

TEST(Select, ValueWeightingChangesTheRanking) {
  // Token 1: high attention but a near-zero value (a sink-like token, specs/vatp.md §3.2).
  Head h(6);
  h.attn = {1.0f, 5.0f, 2.0f, 1.5f, 0, 0};
  h.l1 = {4.0f, 0.1f, 3.0f, 1.0f, 1, 1};
  h.l2 = {1.0f, 2.0f, 0.1f, 3.0f, 1, 1};
  Rng rng(1);
  PolicyConfig c = cfg_of(Scorer::kAccumAttention);
  EXPECT_THAT(select_keep(c, split_of(3, 1), h.stats(), rng), ElementsAre(1, 2, 5));  // 5, 2
  c.value_norm = ValueNorm::kL1;
  EXPECT_THAT(select_keep(c, split_of(3, 1), h.stats(), rng), ElementsAre(0, 2, 5));  // 6, 4 (token 1: 0.5)
  c.value_norm = ValueNorm::kL2;
  EXPECT_THAT(select_keep(c, split_of(3, 1), h.stats(), rng), ElementsAre(1, 3, 5));  // 10, 4.5
}

TEST(Select, ValueWeightingAppliesToEveryAttentionScorer) {
  for (Scorer s : {Scorer::kAccumAttention, Scorer::kWindowAttention, Scorer::kLastQuery}) {
    Head h(3);
    h.attn = {2, 1, 0};
    h.l1 = {1, 3, 1};
    PolicyConfig c = cfg_of(s);
    c.value_norm = ValueNorm::kL1;
    std::vector<float> out(3);
    Rng rng(1);
    compute_scores(c, h.stats(), rng, out);
    EXPECT_THAT(out, ElementsAre(2.0f, 3.0f, 0.0f));
  }
}

TEST(Select, GroupReduction) {
  // Two query heads per KV head, rows [g][n]: sum prefers slot 0, max prefers slot 1.
  Head h(3);
  h.group = 2;
  h.attn = {3, 4, 0,   // query head 0
            3, 0, 0};  // query head 1
  Rng rng(1);
  PolicyConfig c = cfg_of(Scorer::kAccumAttention);
  std::vector<float> out(3);
  compute_scores(c, h.stats(), rng, out);
  EXPECT_THAT(out, ElementsAre(6, 4, 0));
  c.group = GroupReduce::kMean;
  compute_scores(c, h.stats(), rng, out);
  EXPECT_THAT(out, ElementsAre(3, 2, 0));
  c.group = GroupReduce::kMax;
  compute_scores(c, h.stats(), rng, out);
  EXPECT_THAT(out, ElementsAre(3, 4, 0));
  EXPECT_THAT(select_keep(c, split_of(2, 1), h.stats(), rng), ElementsAre(1, 2));
  c.group = GroupReduce::kSum;
  EXPECT_THAT(select_keep(c, split_of(2, 1), h.stats(), rng), ElementsAre(0, 2));
}

TEST(Select, SnapKvPoolingFavoursClusters) {
  // A lone spike (8) against a cluster of 3s; positions 10, 11 are the window (recent).
  // Pooling runs over the candidates only, zero padded, divided by the kernel.
  Head h(12);
  h.attn = {0, 0, 8, 0, 0, 0, 3, 3, 3, 0, 1, 1};
  Rng rng(1);
  PolicyConfig c = cfg_of(Scorer::kWindowAttention);
  EXPECT_THAT(select_keep(c, split_of(3, 2), h.stats(), rng), ElementsAre(2, 10, 11));
  c.pool_kernel = 3;  // spike → 8/3 at 1..3; cluster centre 9/3 = 3 at 7
  EXPECT_THAT(select_keep(c, split_of(3, 2), h.stats(), rng), ElementsAre(7, 10, 11));
  c.pool_kernel = 5;  // position 4 sees the spike and one 3: 11/5 beats the cluster's 9/5
  EXPECT_THAT(select_keep(c, split_of(3, 2), h.stats(), rng), ElementsAre(4, 10, 11));
}

TEST(SelectLayer, SharedScoresKeepTheSameSlotsInEveryHead) {
  Head a(6), b(6);
  a.attn = {1, 9, 1, 1, 1, 0};
  b.attn = {9, 1, 2, 1, 1, 0};  // mean: 5, 5, 1.5, 1, 1, 0 → tie 0/1 keeps the older
  PolicyConfig c = cfg_of(Scorer::kLastQuery);
  c.layer_shared = true;
  const std::vector<HeadStats> heads = {a.stats(), b.stats()};
  Rng rng(1);
  SelectScratch sc;
  std::vector<std::vector<int32_t>> keep;
  ASSERT_TRUE(select_keep_layer(c, split_of(2, 0), heads, rng, sc, &keep).is_ok());
  ASSERT_EQ(keep.size(), 2u);
  EXPECT_THAT(keep[0], ElementsAre(0, 1));
  EXPECT_EQ(keep[1], keep[0]);
  // Per head without sharing: each head its own choice.
  c.layer_shared = false;
  ASSERT_TRUE(select_keep_layer(c, split_of(1, 0), heads, rng, sc, &keep).is_ok());
  EXPECT_THAT(keep[0], ElementsAre(1));
  EXPECT_THAT(keep[1], ElementsAre(0));
}

TEST(SelectLayer, SharedNeedsAlignedSlots) {
  Head a(4), b(4);
  b.pos = {0, 1, 2, 7};
  PolicyConfig c = cfg_of(Scorer::kLastQuery);
  c.layer_shared = true;
  const std::vector<HeadStats> heads = {a.stats(), b.stats()};
  Rng rng(1);
  SelectScratch sc;
  std::vector<std::vector<int32_t>> keep;
  const Status s = select_keep_layer(c, split_of(2, 0), heads, rng, sc, &keep);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("KV head 1"));
}

TEST(Select, ScratchReuseGivesSameAnswer) {
  std::mt19937 gen(11);
  SelectScratch sc;
  std::vector<int32_t> keep;
  for (int n : {50, 10, 70, 3}) {
    Head h(n);
    for (float& a : h.attn) a = static_cast<float>(gen() % 1000);
    Rng r1(5), r2(5);
    select_keep(cfg_of(Scorer::kAccumAttention), split_of(8, 2), h.stats(), r1, sc, &keep);
    EXPECT_EQ(keep, select_keep(cfg_of(Scorer::kAccumAttention), split_of(8, 2), h.stats(), r2)) << n;
  }
}

}  // namespace
}  // namespace vatp::policy
