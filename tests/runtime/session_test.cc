// Session on the real SmolLM2 model (skipped with a message when it is absent).
#include "runtime/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/smol_fixture.h"
#include "kernels/kernel_table.h"
#include "runtime/perplexity_session.h"
#include "runtime_test_util.h"

namespace vatp::runtime {
namespace {

class SessionSmol : public testing_util::SmolModelTest {
 protected:
  std::unique_ptr<Session> make(int n_ctx, int n_batch, float temp = 0.0f, uint64_t seed = 0) {
    SessionOptions o;
    o.n_ctx = n_ctx;
    o.n_batch = n_batch;
    o.sampling.temp = temp;
    o.sampling.seed = seed;
    auto s = Session::create(*model_, *tok_, *pool_, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return s.is_ok() ? std::move(*s) : nullptr;
  }
  std::vector<int32_t> prompt(const std::string& text) const { return tok_->encode(text, true, false); }
};

TEST_F(SessionSmol, GreedyIsDeterministicAndStopsAtN) {
  const auto p = prompt("The capital of France is");
  auto a = make(128, 256);
  std::string text;
  int calls = 0;
  auto ids = a->generate(p, 6, [&](int32_t id, std::string_view piece) {
    if (id != kFlushId) ++calls;
    text += piece;
    return true;
  });
  ASSERT_TRUE(ids.is_ok()) << ids.status().to_string();
  ASSERT_EQ(ids->size(), 6u);  // SmolLM2 does not end a sentence within 6 tokens here
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(a->stats().stop, StopReason::kMaxTokens);
  EXPECT_EQ(a->stats().n_prompt, static_cast<int64_t>(p.size()));
  EXPECT_EQ(a->stats().n_generated, 6);
  EXPECT_EQ(a->stats().n_decoded, 5);  // the last token is not fed back
  EXPECT_EQ(a->n_past(), static_cast<int64_t>(p.size()) + 5);
  EXPECT_NE(text.find("Paris"), std::string::npos) << text;
  EXPECT_EQ(text, *tok_->decode(*ids, false));
  EXPECT_GT(a->stats().kv_bytes_used, 0);
  EXPECT_EQ(a->stats().kv_bytes_used, a->stats().kv_bytes_full);

  // Another session, a different prefill chunking (2 tokens per call): same ids.
  auto b = make(128, 2);
  auto ids_b = b->generate(p, 6, nullptr);
  ASSERT_TRUE(ids_b.is_ok());
  EXPECT_EQ(*ids_b, *ids);
  // reset() gives a fresh run.
  a->reset();
  EXPECT_EQ(a->n_past(), 0);
  auto again = a->generate(p, 6, nullptr);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(*again, *ids);
}

// ban_next_tokens: the greedy pick is excluded for exactly one draw.
TEST_F(SessionSmol, BanNextTokensExcludesThemOnce) {
  auto a = make(128, 64);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->prefill(prompt("The capital of France is")).is_ok());
  const float* l = a->last_logits();
  const int32_t best = static_cast<int32_t>(std::max_element(l, l + a->n_vocab()) - l);
  const int32_t banned[1] = {best};
  a->ban_next_tokens(banned);
  const int32_t got = a->sample_next();
  EXPECT_NE(got, best);
  ASSERT_TRUE(a->decode_step(got).is_ok());
  // Only once: the next draw is the plain argmax again.
  const float* l2 = a->last_logits();
  EXPECT_EQ(a->sample_next(), static_cast<int32_t>(std::max_element(l2, l2 + a->n_vocab()) - l2));
}

TEST_F(SessionSmol, CallbackCanStop) {
  auto s = make(64, 64);
  int n = 0;
  auto ids =
      s->generate(prompt("Once upon a time"), 20, [&](int32_t id, std::string_view) { return ++n < 3; });
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(ids->size(), 3u);
  EXPECT_EQ(s->stats().stop, StopReason::kCallback);
}

TEST_F(SessionSmol, SampledRunsRepeatForASeed) {
  const auto p = prompt("Write a word:");
  auto a = make(64, 64, 0.9f, 7), b = make(64, 64, 0.9f, 7);
  auto x = a->generate(p, 12, nullptr), y = b->generate(p, 12, nullptr);
  ASSERT_TRUE(x.is_ok() && y.is_ok());
  EXPECT_EQ(*x, *y);
}

TEST_F(SessionSmol, OverlongPromptIsOutOfRangeBeforeCompute) {
  auto s = make(8, 4);
  const auto p = prompt("one two three four five six seven eight nine ten");
  ASSERT_GE(p.size(), 8u);
  auto r = s->generate(p, 1, nullptr);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.status().message().find("context"), std::string::npos);
  EXPECT_EQ(s->n_past(), 0) << "nothing was computed";
  // Prompt fits but prompt + n_predict does not.
  const auto short_p = prompt("one two three");
  ASSERT_LT(short_p.size(), 8u);
  auto r2 = s->generate(short_p, static_cast<int>(9 - short_p.size()), nullptr);
  EXPECT_EQ(r2.status().code(), StatusCode::kOutOfRange);
  auto ok = s->generate(short_p, static_cast<int>(8 - short_p.size()), nullptr);
  EXPECT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_FALSE(s->generate({}, 1, nullptr).is_ok());
}

TEST_F(SessionSmol, PerplexityOnShortTextIsSane) {
  std::string text;
  for (int i = 0; i < 12; ++i) {
    text +=
        "The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single "
        "step. "
        "Paris is the capital of France, and Berlin is the capital of Germany. ";
  }
  auto s = make(64, 32);
  PerplexityOptions o;
  o.n_ctx = 64;
  o.n_chunks = 3;
  auto r = perplexity_of_text(*s, text, o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->n_chunks, 3);
  EXPECT_EQ(r->n_scored, 3 * 31);
  EXPECT_TRUE(std::isfinite(r->ppl));
  EXPECT_GT(r->ppl, 1.0);
  EXPECT_LT(r->ppl, 50.0) << "repeated text should be very predictable";
  ASSERT_EQ(r->top1.size(), r->targets.size());
  int agree = 0;
  for (size_t i = 0; i < r->top1.size(); ++i) agree += r->top1[i] == r->targets[i];
  EXPECT_GT(agree, static_cast<int>(r->top1.size() / 2));
  // Batch size does not change the result (beyond float noise).
  auto s2 = make(64, 64);
  auto r2 = perplexity_of_text(*s2, text, o);
  ASSERT_TRUE(r2.is_ok());
  EXPECT_NEAR(r2->ppl, r->ppl, 1e-3 * r->ppl);
}

}  // namespace
}  // namespace vatp::runtime
