// Multi-turn sessions (Session::append_turn, vatp chat) on the real SmolLM2 model:
// turns appended one by one equal one prefill of the concatenated conversation, and a
// KV policy evicts across turns, at the end of every turn's prefill.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/smol_fixture.h"
#include "policy/flags.h"
#include "runtime/session.h"

namespace vatp::runtime {
namespace {

class ChatSession : public testing_util::SmolModelTest {
 protected:
  std::unique_ptr<Session> make(const std::string& policy = "full", const std::string& budget = "") {
    SessionOptions o;
    o.n_ctx = 512;
    o.n_batch = 64;
    o.sampling.temp = 0.0f;
    policy::PolicyFlags kv;
    kv.policy = policy;
    if (!budget.empty()) kv.budget = budget;
    auto cfg = policy::config_from_flags(kv);
    EXPECT_TRUE(cfg.is_ok()) << cfg.status().to_string();
    o.kv_policy = *cfg;
    auto s = Session::create(*model_, *tok_, *pool_, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    return s.is_ok() ? std::move(*s) : nullptr;
  }
  std::vector<int32_t> chatml(const std::string& text, bool first) const {
    return tok_->encode(text, /*add_special=*/first, /*parse_special=*/true);
  }
  // Runs one turn: appends ids (after the previous reply's last token), then n tokens.
  std::vector<int32_t> turn(Session& s, std::vector<int32_t> ids, int n) {
    const Status st = s.append_turn(ids);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    auto out = s.continue_generation(ids, n, nullptr);
    EXPECT_TRUE(out.is_ok()) << out.status().to_string();
    return out.is_ok() ? *out : std::vector<int32_t>{};
  }

  const std::string t1_ =
      "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
  const std::string t2_ = "<|im_end|>\n<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n";
};

TEST_F(ChatSession, TwoTurnsEqualOneSessionFedTheConcatenation) {
  auto a = make();
  ASSERT_TRUE(a);
  const std::vector<int32_t> p1 = chatml(t1_, true);
  const std::vector<int32_t> r1 = turn(*a, p1, 6);
  ASSERT_EQ(r1.size(), 6u);
  // The reply's last token was sampled, not fed: the next turn starts with it.
  std::vector<int32_t> p2 = {r1.back()};
  const std::vector<int32_t> rest = chatml(t2_, false);
  p2.insert(p2.end(), rest.begin(), rest.end());
  EXPECT_EQ(a->n_past(), static_cast<int64_t>(p1.size() + r1.size() - 1));
  const std::vector<int32_t> r2 = turn(*a, p2, 8);
  EXPECT_EQ(a->stats().n_prompt, static_cast<int64_t>(p1.size() + p2.size()));  // only the new turn

  std::vector<int32_t> all = p1;
  all.insert(all.end(), r1.begin(), r1.end() - 1);
  all.insert(all.end(), p2.begin(), p2.end());
  auto b = make();
  ASSERT_TRUE(b);
  auto r2_once = b->generate(all, 8, nullptr);
  ASSERT_TRUE(r2_once.is_ok()) << r2_once.status().to_string();
  EXPECT_EQ(r2, *r2_once);
  EXPECT_EQ(a->n_past(), b->n_past());
}

// After each turn's prefill the cache is back at the budget; evictions add up over turns.
TEST_F(ChatSession, PolicyEvictsAcrossTurns) {
  for (const char* name : {"h2o", "snapkv", "streaming"}) {
    SCOPED_TRACE(name);
    // Budget 40: SnapKV's 32 recent tokens (its window) must fit in it.
    auto s = make(name, "40");
    ASSERT_TRUE(s);
    const std::vector<int32_t> p1 = chatml(
        "<|im_start|>system\nYou are a helpful assistant who answers questions about the geography of "
        "Europe, its countries, rivers, mountains and capital cities, briefly and precisely.<|im_end|>\n" +
            t1_,
        true);
    ASSERT_GT(p1.size(), 40u);
    const std::vector<int32_t> r1 = turn(*s, p1, 4);
    const int64_t evicted1 = s->stats().tokens_evicted;
    EXPECT_GT(evicted1, 0);
    std::vector<int32_t> p2 = {r1.back()};
    const std::vector<int32_t> rest = chatml(t2_, false);
    p2.insert(p2.end(), rest.begin(), rest.end());
    ASSERT_TRUE(s->append_turn(p2).is_ok());
    EXPECT_EQ(s->cache().max_length(), 40);  // the end-of-prefill eviction of turn 2
    EXPECT_GT(s->stats().tokens_evicted, evicted1);
    EXPECT_LT(s->stats().kv_bytes_used, s->stats().kv_bytes_full);
    auto r2 = s->continue_generation(p2, 4, nullptr);
    ASSERT_TRUE(r2.is_ok()) << r2.status().to_string();
    EXPECT_EQ(r2->size(), 4u);
  }
}

// set_policy takes effect at the next turn: nothing is evicted until its prefill ends.
TEST_F(ChatSession, PolicySwitchAppliesFromTheNextTurn) {
  auto s = make();
  ASSERT_TRUE(s);
  const std::vector<int32_t> p1 = chatml(t1_, true);
  const std::vector<int32_t> r1 = turn(*s, p1, 4);
  policy::PolicyFlags kv;
  kv.policy = "h2o";
  kv.budget = "16";
  auto cfg = policy::config_from_flags(kv);
  ASSERT_TRUE(cfg.is_ok());
  ASSERT_TRUE(s->set_policy(*cfg).is_ok());
  EXPECT_EQ(s->stats().tokens_evicted, 0);
  EXPECT_EQ(s->cache().max_length(), static_cast<int>(s->n_past()));
  std::vector<int32_t> p2 = {r1.back()};
  const std::vector<int32_t> rest = chatml(t2_, false);
  p2.insert(p2.end(), rest.begin(), rest.end());
  ASSERT_TRUE(s->append_turn(p2).is_ok());
  EXPECT_EQ(s->cache().max_length(), 16);
  EXPECT_GT(s->stats().tokens_evicted, 0);
}

// An empty turn is an error, not a silent no-op.
TEST_F(ChatSession, AppendTurnNeedsTokens) {
  auto s = make();
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->append_turn({}).is_ok());
}

}  // namespace
}  // namespace vatp::runtime
