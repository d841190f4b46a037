#include "runtime/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

namespace vatp::runtime {
namespace {

TEST(Perplexity, ScoreTokenMatchesLogSoftmax) {
  const float logits[4] = {1.0f, 2.0f, 3.0f, 0.5f};
  double z = 0.0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  for (int t = 0; t < 4; ++t) {
    const TokenScore s = score_token(logits, 4, t);
    EXPECT_NEAR(s.nll, -(logits[t] - std::log(z)), 1e-6);
    EXPECT_EQ(s.top1, 2);
  }
  // Uniform logits: nll = log(n), ties → lowest id.
  const float flat[8] = {5, 5, 5, 5, 5, 5, 5, 5};
  const TokenScore u = score_token(flat, 8, 3);
  EXPECT_NEAR(u.nll, std::log(8.0), 1e-9);
  EXPECT_EQ(u.top1, 0);
  // Large logits do not overflow (max subtracted first).
  const float big[2] = {1000.0f, 1000.0f};
  EXPECT_NEAR(score_token(big, 2, 1).nll, std::log(2.0), 1e-9);
}

TEST(Perplexity, ChunkCountRules) {
  EXPECT_EQ(*perplexity_chunks(1024, 512, -1), 2);
  EXPECT_EQ(*perplexity_chunks(1600, 512, -1), 3);
  EXPECT_EQ(*perplexity_chunks(1600, 512, 2), 2);
  EXPECT_EQ(*perplexity_chunks(1600, 512, 10), 3);
  const auto short_text = perplexity_chunks(1023, 512, -1);
  ASSERT_FALSE(short_text.is_ok());
  EXPECT_EQ(short_text.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(short_text.status().message().find("1024"), std::string::npos);
  EXPECT_FALSE(perplexity_chunks(1024, 2, -1).is_ok());
  EXPECT_FALSE(perplexity_chunks(1024, 512, 0).is_ok());
}

// A fake model: records what it was asked to evaluate; its logits put all the mass on
// a token that depends on (chunk call, position) so each scored row is identifiable.
class RecordingEvaluator : public ChunkEvaluator {
 public:
  explicit RecordingEvaluator(int n_vocab) : n_vocab_(n_vocab) {}
  int n_vocab() const override { return n_vocab_; }
  Status eval_chunk(std::span<const int32_t> tokens, int first_row, float* logits) override {
    calls.emplace_back(tokens.begin(), tokens.end());
    first_rows.push_back(first_row);
    const int n_ctx = static_cast<int>(tokens.size());
    for (int pos = first_row; pos < n_ctx; ++pos) {
      float* row = logits + static_cast<size_t>(pos - first_row) * n_vocab_;
      for (int v = 0; v < n_vocab_; ++v) row[v] = 0.0f;
      // Peak on the input's token at pos+1: a perfect predictor of the chunk.
      const int32_t want = pos + 1 < n_ctx ? tokens[pos + 1] : 0;
      row[want] = peak;
    }
    return Status::ok();
  }
  float peak = 0.0f;
  int n_vocab_;
  std::vector<std::vector<int32_t>> calls;
  std::vector<int> first_rows;
};

TEST(Perplexity, UniformLogitsGivePplEqualToVocab) {
  const int n_vocab = 16, n_ctx = 8;
  std::vector<int32_t> tokens(20);
  for (int i = 0; i < 20; ++i) tokens[i] = (i * 7) % n_vocab;
  RecordingEvaluator ev(n_vocab);  // peak 0 → uniform
  PerplexityOptions o;
  o.n_ctx = n_ctx;
  const auto r = compute_perplexity(tokens, o, ev);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->n_chunks, 2);
  EXPECT_EQ(r->n_scored, 2 * (n_ctx - n_ctx / 2 - 1));
  EXPECT_NEAR(r->ppl, n_vocab, 1e-6);
  EXPECT_NEAR(r->nll_mean, std::log(16.0), 1e-9);
  EXPECT_NEAR(r->ppl_stderr, 0.0, 1e-5);  // E[x²]−E[x]² leaves rounding noise
  ASSERT_EQ(r->chunk_ppl.size(), 2u);
}

TEST(Perplexity, ChunksScoredPositionsAndBosOverwrite) {
  const int n_vocab = 50, n_ctx = 10;
  std::vector<int32_t> tokens(35);
  for (int i = 0; i < 35; ++i) tokens[i] = 1 + i;  // token i+1 at index i
  RecordingEvaluator ev(n_vocab);
  ev.peak = 20.0f;
  PerplexityOptions o;
  o.n_ctx = n_ctx;
  o.bos_id = 0;
  std::vector<int> seen_chunks;
  o.on_chunk = [&](int c, double) { seen_chunks.push_back(c); };
  const auto r = compute_perplexity(tokens, o, ev);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->n_chunks, 3);  // floor(35/10); the 5-token tail is unused
  EXPECT_EQ(seen_chunks, (std::vector<int>{0, 1, 2}));
  ASSERT_EQ(ev.calls.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(ev.first_rows[c], 5);
    ASSERT_EQ(ev.calls[c].size(), 10u);
    EXPECT_EQ(ev.calls[c][0], 0) << "BOS overwrites the first token, not prepended";
    for (int i = 1; i < n_ctx; ++i) EXPECT_EQ(ev.calls[c][i], tokens[c * n_ctx + i]);
  }
  // Scored positions t = 5..8 predict t+1 = 6..9 of each chunk.
  std::vector<int32_t> want;
  for (int c = 0; c < 3; ++c)
    for (int t = 5; t <= 8; ++t) want.push_back(tokens[c * n_ctx + t + 1]);
  EXPECT_EQ(r->targets, want);
  EXPECT_EQ(r->top1, want);  // the fake is a perfect predictor
  // Each row: logit 20 on the target, 0 on 49 others.
  const double nll = -(20.0 - std::log(std::exp(20.0) + 49.0));
  EXPECT_NEAR(r->nll_mean, nll, 1e-6);
  EXPECT_NEAR(r->ppl, std::exp(nll), 1e-6);
}

TEST(Perplexity, NoBosLeavesTokensAlone) {
  std::vector<int32_t> tokens(16);
  std::iota(tokens.begin(), tokens.end(), 3);
  RecordingEvaluator ev(32);
  PerplexityOptions o;
  o.n_ctx = 8;
  o.bos_id = -1;
  ASSERT_TRUE(compute_perplexity(tokens, o, ev).is_ok());
  EXPECT_EQ(ev.calls[1][0], tokens[8]);
}

// Running PPL after each chunk and the final ± follow the llama-perplexity formulas.
class TableEvaluator : public ChunkEvaluator {
 public:
  int n_vocab() const override { return 4; }
  Status eval_chunk(std::span<const int32_t> tokens, int first_row, float* logits) override {
    const int rows = static_cast<int>(tokens.size()) - first_row;
    for (int r = 0; r < rows; ++r) {
      for (int v = 0; v < 4; ++v) logits[r * 4 + v] = static_cast<float>((v * 3 + r + call) % 5) * 0.7f;
    }
    ++call;
    return Status::ok();
  }
  int call = 0;
};

TEST(Perplexity, RunningAndFinalStatistics) {
  std::vector<int32_t> tokens(24);
  for (int i = 0; i < 24; ++i) tokens[i] = (i * 5 + 1) % 4;
  const int n_ctx = 8;
  // Reference computed here independently, straight from the definitions.
  std::vector<double> nlls;
  std::vector<double> running;
  for (int c = 0; c < 3; ++c) {
    for (int t = 4; t <= 6; ++t) {
      const int r = t - 4;
      double l[4], z = 0;
      for (int v = 0; v < 4; ++v) z += std::exp(l[v] = ((v * 3 + r + c) % 5) * 0.7);
      nlls.push_back(-(l[tokens[c * n_ctx + t + 1]] - std::log(z)));
    }
    running.push_back(std::exp(std::accumulate(nlls.begin(), nlls.end(), 0.0) / nlls.size()));
  }
  const double n = nlls.size();
  double mean = 0, sq = 0;
  for (double x : nlls) mean += x / n;
  for (double x : nlls) sq += (x - mean) * (x - mean);
  const double sd_mean = std::sqrt(sq / n / (n - 1));

  TableEvaluator ev;
  PerplexityOptions o;
  o.n_ctx = n_ctx;
  const auto r = compute_perplexity(tokens, o, ev);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->chunk_ppl.size(), 3u);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(r->chunk_ppl[c], running[c], 1e-5);
  EXPECT_NEAR(r->ppl, std::exp(mean), 1e-5);
  EXPECT_NEAR(r->ppl_stderr, sd_mean * std::exp(mean), 1e-5);
  EXPECT_GT(r->ppl_stderr, 0.0);
}

TEST(Perplexity, TooShortAndBadTokensAreErrors) {
  RecordingEvaluator ev(8);
  PerplexityOptions o;
  o.n_ctx = 8;
  std::vector<int32_t> few(15, 1);
  EXPECT_EQ(compute_perplexity(few, o, ev).status().code(), StatusCode::kOutOfRange);
  std::vector<int32_t> bad(16, 1);
  bad[3] = 8;
  EXPECT_FALSE(compute_perplexity(bad, o, ev).is_ok());
  EXPECT_TRUE(ev.calls.empty()) << "errors come before any evaluation";
}

}  // namespace
}  // namespace vatp::runtime
