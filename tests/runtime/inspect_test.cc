// vatp inspect's measurements: layer lists, the sink summary on hand-made traces, and on
// SmolLM2 the invariants of a full-cache prefill (each head's acc_attn sums to rows ×
// group, norms are consistent, statistics agree across batch sizes).
#include "runtime/inspect.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/model_path.h"
#include "common/smol_fixture.h"
#include "kernels/kernel_table.h"

namespace vatp::runtime {
namespace {

TEST(InspectLayers, ParsesAllAndLists) {
  auto all = parse_layer_list("all", 4);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(*all, (std::vector<int>{0, 1, 2, 3}));
  auto list = parse_layer_list("29,0,5,5", 30);
  ASSERT_TRUE(list.is_ok()) << list.status().to_string();
  EXPECT_EQ(*list, (std::vector<int>{0, 5, 29}));
}

TEST(InspectLayers, BadListsAreErrors) {
  for (const char* bad : {"", "a", "1,,2", "-1", "1.5", "0,", "all,1"}) {
    auto r = parse_layer_list(bad, 30);
    EXPECT_FALSE(r.is_ok()) << "'" << bad << "'";
  }
  auto r = parse_layer_list("0,30", 30);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.status().message().find("layer 30 does not exist (the model has 30 layers"), std::string::npos)
      << r.status().message();
}

// One head over 10 positions: acc_attn sums to 10 × group (group 2).
InspectTrace hand_trace() {
  InspectTrace t;
  t.n_layers = 1;
  t.n_heads = 2;
  t.n_kv_heads = 1;
  t.group = 2;
  t.layers = {0};
  t.tokens.assign(10, 1);
  HeadTrace h;
  h.acc_attn = {12, 1, 1, 1, 0.5f, 1, 1, 1, 0.5f, 1};  // pos 0 is the sink (60 %)
  h.v_l1 = {0.5f, 5, 6, 7, 8, 9, 10, 11, 12, 13};      // and has the smallest ||v||_1
  h.v_l2 = h.v_l1;
  h.k_l2 = h.v_l1;
  t.heads.push_back(h);
  return t;
}

TEST(InspectSinks, TopKShareRankPercentileAndVatpRank) {
  auto r = summarize_sinks(hand_trace(), 2);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 1u);
  const HeadSummary& s = r->front();
  EXPECT_DOUBLE_EQ(s.total_acc, 20.0);
  ASSERT_EQ(s.sinks.size(), 2u);
  EXPECT_EQ(s.sinks[0].pos, 0);
  EXPECT_DOUBLE_EQ(s.sinks[0].share, 0.6);
  EXPECT_EQ(s.sinks[0].v_l1_rank, 1);
  EXPECT_DOUBLE_EQ(s.sinks[0].v_l1_percentile, 0.0);
  // acc × ||v||_1: 13 11 10 9 7 beat pos 0's 6 (tied with pos 2 and 8, which it precedes).
  EXPECT_EQ(s.sinks[0].vatp_rank, 6);
  // Second by acc_attn: the first of the tokens with acc 1 (ties broken by position).
  EXPECT_EQ(s.sinks[1].pos, 1);
  EXPECT_EQ(s.sinks[1].v_l1_rank, 2);
  EXPECT_NEAR(s.sinks[1].v_l1_percentile, 100.0 / 9, 1e-12);
  EXPECT_DOUBLE_EQ(s.sink_share, 0.65);
  EXPECT_NEAR(s.sink_v_l1_percentile, 50.0 / 9, 1e-12);
  EXPECT_NEAR(s.sink_v_l1_percentile_weighted, (12 * 0.0 + 1 * 100.0 / 9) / 13, 1e-12);
  EXPECT_TRUE(s.sinks_have_small_v);
  // Strong: acc >= 20 × mean (2): only pos 0 (12 < 40 here), so none are strong.
  EXPECT_EQ(s.strong_sinks, 0);
  EXPECT_FALSE(s.strong_sinks_have_small_v);
  EXPECT_DOUBLE_EQ(s.v_l1_median, 8.5);
  EXPECT_EQ(s.first.pos, 0);
}

TEST(InspectSinks, StrongSinkAndLargeValueNorm) {
  InspectTrace t = hand_trace();
  HeadTrace& h = t.heads[0];
  h.acc_attn.assign(100, 0.1f);
  h.acc_attn[3] = 500;  // mean is 5.099: 500 >= 20 × mean
  h.v_l1.assign(100, 1.0f);
  h.v_l1[3] = 50;  // the sink has the largest ||v||_1: the observation fails
  t.tokens.assign(100, 1);
  auto r = summarize_sinks(t, 1);
  ASSERT_TRUE(r.is_ok());
  const HeadSummary& s = r->front();
  EXPECT_EQ(s.sinks[0].pos, 3);
  EXPECT_EQ(s.strong_sinks, 1);
  EXPECT_DOUBLE_EQ(s.sinks[0].v_l1_percentile, 100.0);
  EXPECT_EQ(s.sinks[0].v_l1_rank, 100);
  EXPECT_FALSE(s.sinks_have_small_v);
  EXPECT_FALSE(s.strong_sinks_have_small_v);
  // K larger than the prompt is clamped; K < 1 is an error.
  auto big = summarize_sinks(hand_trace(), 50);
  ASSERT_TRUE(big.is_ok());
  EXPECT_EQ(big->front().sinks.size(), 10u);
  EXPECT_NEAR(big->front().sink_share, 1.0, 1e-12);
  EXPECT_FALSE(summarize_sinks(hand_trace(), 0).is_ok());
}

class InspectSmol : public testing_util::SmolModelTest {
 protected:
  static std::vector<int32_t> prose_tokens(size_t n) {
    std::ifstream f(std::string(VATP_SOURCE_DIR) + "/tests/data/jargon-4.4.7-prose.txt");
    std::stringstream ss;
    ss << f.rdbuf();
    std::vector<int32_t> ids = tok_->encode(ss.str(), true, false);
    ids.resize(std::min(ids.size(), n));
    return ids;
  }
};

TEST_F(InspectSmol, AccumulatedAttentionSumsToRowsTimesGroupAndNormsAreConsistent) {
  const std::vector<int32_t> ids = prose_tokens(80);
  ASSERT_EQ(ids.size(), 80u);
  InspectOptions o;
  o.layers = {0, 13, 29};
  auto t = trace_prompt(*model_, *tok_, *pool_, ids, o);
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(t->n_layers, 30);
  EXPECT_EQ(t->group, 3);
  ASSERT_EQ(t->heads.size(), 3u * 3u);
  for (const HeadTrace& h : t->heads) {
    ASSERT_EQ(h.acc_attn.size(), 80u);
    double sum = 0;
    for (size_t p = 0; p < 80; ++p) {
      sum += h.acc_attn[p];
      EXPECT_GT(h.v_l1[p], 0.0f);
      // ||v||_2 <= ||v||_1 <= sqrt(head_dim) ||v||_2 (head_dim 64).
      EXPECT_LE(h.v_l2[p], h.v_l1[p] * (1 + 1e-5f));
      EXPECT_LE(h.v_l1[p], 8.0f * h.v_l2[p] * (1 + 1e-5f));
      EXPECT_GT(h.k_l2[p], 0.0f);
      EXPECT_DOUBLE_EQ(h.vatp(p), static_cast<double>(h.acc_attn[p]) * h.v_l1[p]);
    }
    // Every prompt row's probabilities sum to 1 per query head: 80 rows × 3 heads.
    EXPECT_NEAR(sum, 80.0 * 3, 240 * 1e-4) << "layer " << h.layer << " head " << h.head;
    // The first token is seen by all 80 rows, each gives it at most 3 (one per head).
    EXPECT_LE(h.acc_attn[0], 240.0f);
    // The last token is seen only by itself: at most 3.
    EXPECT_LE(h.acc_attn[79], 3.0f + 1e-4f);
  }
  auto s = summarize_sinks(*t, 4);
  ASSERT_TRUE(s.is_ok());
  for (const HeadSummary& hs : *s) {
    EXPECT_GT(hs.sink_share, 0.0);
    EXPECT_LE(hs.sink_share, 1.0 + 1e-9);
    for (const SinkToken& k : hs.sinks) {
      EXPECT_GE(k.v_l1_percentile, 0.0);
      EXPECT_LE(k.v_l1_percentile, 100.0);
      EXPECT_GE(k.vatp_rank, 1);
      EXPECT_LE(k.vatp_rank, 80);
    }
  }
}

TEST_F(InspectSmol, StatisticsAgreeAcrossBatchSizes) {
  const std::vector<int32_t> ids = prose_tokens(48);
  InspectOptions a, b;
  a.n_batch = 48;
  b.n_batch = 7;
  a.layers = b.layers = {2, 20};
  auto ta = trace_prompt(*model_, *tok_, *pool_, ids, a);
  auto tb = trace_prompt(*model_, *tok_, *pool_, ids, b);
  ASSERT_TRUE(ta.is_ok() && tb.is_ok());
  ASSERT_EQ(ta->heads.size(), tb->heads.size());
  // Same K/V and probabilities; only the order in which rows are added to the slot
  // accumulators changes with the chunking, so acc_attn may differ in the last bits.
  double worst = 0;
  for (size_t i = 0; i < ta->heads.size(); ++i) {
    EXPECT_EQ(ta->heads[i].v_l1, tb->heads[i].v_l1);
    for (size_t p = 0; p < ids.size(); ++p) {
      const double a_ = ta->heads[i].acc_attn[p], b_ = tb->heads[i].acc_attn[p];
      worst = std::max(worst, std::fabs(a_ - b_) / std::max(1e-3, std::fabs(a_)));
    }
  }
  EXPECT_LT(worst, 1e-4);
}

TEST_F(InspectSmol, BadRequestsAreErrors) {
  EXPECT_FALSE(trace_prompt(*model_, *tok_, *pool_, {}, InspectOptions{}).is_ok());
  InspectOptions o;
  o.layers = {30};
  const std::vector<int32_t> ids = prose_tokens(8);
  auto r = trace_prompt(*model_, *tok_, *pool_, ids, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("layer 30"), std::string::npos);
}

}  // namespace
}  // namespace vatp::runtime
