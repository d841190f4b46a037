// Presets, budget arithmetic, validation, flag parsing and the statistics plan.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/flags.h"
#include "policy/policy.h"

namespace vatp::policy {
namespace {

using ::testing::HasSubstr;

PolicyConfig must_preset(std::string_view name) {
  auto r = preset(name);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r.is_ok() ? *r : PolicyConfig{};
}

TEST(ParseBudget, TokensFractionsAndPercent) {
  auto b = parse_budget("512");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->kind, Budget::Kind::kTokens);
  EXPECT_EQ(b->value, 512);
  b = parse_budget("0.5");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->kind, Budget::Kind::kFraction);
  EXPECT_EQ(b->value, 0.5);
  b = parse_budget(".25");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->value, 0.25);
  b = parse_budget("50%");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->kind, Budget::Kind::kFraction);
  EXPECT_EQ(b->value, 0.5);
  b = parse_budget("1");  // an integer is a token count
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->kind, Budget::Kind::kTokens);
  b = parse_budget("1.0");  // with a dot: the whole prompt
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->kind, Budget::Kind::kFraction);
  EXPECT_EQ(b->value, 1.0);
}

TEST(ParseBudget, RejectsBadValues) {
  for (const char* s : {"0", "0.0", "-1", "1.5", "150%", "abc", "", "12x", "1e3", "99999999999", "%", "."}) {
    auto b = parse_budget(s);
    EXPECT_FALSE(b.is_ok()) << s;
    if (!b.is_ok()) {
      EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
      EXPECT_THAT(b.status().message(), HasSubstr("--kv-budget")) << s;
    }
  }
}

TEST(ParseFlags, EnumsAndCounts) {
  EXPECT_EQ(*parse_schedule("oneshot"), Schedule::kOneShot);
  EXPECT_EQ(*parse_schedule("continuous"), Schedule::kContinuous);
  EXPECT_EQ(*parse_schedule("chunked"), Schedule::kChunked);
  EXPECT_EQ(*parse_group("max"), GroupReduce::kMax);
  EXPECT_EQ(*parse_value_norm("l2"), ValueNorm::kL2);
  EXPECT_THAT(parse_schedule("sometimes").status().message(), HasSubstr("--kv-schedule 'sometimes'"));
  EXPECT_THAT(parse_group("median").status().message(), HasSubstr("sum, mean or max"));
  EXPECT_THAT(parse_value_norm("linf").status().message(), HasSubstr("none, l1 or l2"));
  EXPECT_EQ(*parse_count("--kv-sinks", "20"), 20);
  EXPECT_THAT(parse_count("--kv-sinks", "-3").status().message(), HasSubstr("--kv-sinks"));
  EXPECT_FALSE(parse_count("--kv-sinks", "4x").is_ok());
}

TEST(Presets, ExactSemantics) {
  const PolicyConfig h2o = must_preset("h2o");
  EXPECT_TRUE(h2o.evict);
  EXPECT_EQ(h2o.scorer, Scorer::kAccumAttention);
  EXPECT_EQ(h2o.value_norm, ValueNorm::kNone);
  EXPECT_EQ(h2o.sinks, 0);  // baselines have no sink protection (specs/vatp.md §1.2)
  EXPECT_EQ(h2o.recent, -1);
  EXPECT_EQ(h2o.schedule, Schedule::kContinuous);

  const PolicyConfig vatp = must_preset("vatp");
  EXPECT_EQ(vatp.scorer, Scorer::kAccumAttention);
  EXPECT_EQ(vatp.value_norm, ValueNorm::kL1);
  EXPECT_EQ(vatp.sinks, 20);
  EXPECT_EQ(vatp.budget.kind, Budget::Kind::kFraction);
  EXPECT_EQ(vatp.budget.value, 0.5);

  const PolicyConfig sc = must_preset("scissorhands");
  EXPECT_EQ(sc.scorer, Scorer::kWindowAttention);
  EXPECT_EQ(sc.window, 400);
  EXPECT_FLOAT_EQ(sc.window_scale, 1.0f / 400);
  EXPECT_EQ(sc.recent, 10);
  EXPECT_EQ(sc.sinks, 0);
  const PolicyConfig vsc = must_preset("vatp-scissorhands");
  EXPECT_EQ(vsc.value_norm, ValueNorm::kL1);
  EXPECT_EQ(vsc.sinks, 20);

  const PolicyConfig tova = must_preset("tova");
  EXPECT_EQ(tova.scorer, Scorer::kLastQuery);
  EXPECT_TRUE(tova.layer_shared);
  EXPECT_EQ(tova.recent, 0);

  const PolicyConfig snap = must_preset("snapkv");
  EXPECT_EQ(snap.window, 32);
  EXPECT_EQ(snap.recent, 32);
  EXPECT_EQ(snap.pool_kernel, 5);
  EXPECT_EQ(snap.schedule, Schedule::kOneShot);

  EXPECT_EQ(must_preset("knorm").scorer, Scorer::kKeyNorm);
  EXPECT_EQ(must_preset("random").scorer, Scorer::kRandom);
  EXPECT_EQ(must_preset("streaming").scorer, Scorer::kNone);
  EXPECT_EQ(must_preset("streaming").sinks, 4);
  EXPECT_FALSE(must_preset("full").evict);
  for (auto name : preset_names()) EXPECT_TRUE(preset(name).is_ok()) << name;
}

TEST(Presets, UnknownListsKnown) {
  auto r = preset("h3o");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("unknown KV policy 'h3o'"));
  EXPECT_THAT(r.status().message(), HasSubstr("vatp-scissorhands"));
}

TEST(Budget, OfficialFractionFormulas) {
  // H2O setting: heavy = recent = int(r·L), r = budget / 2 (pred.py --heavy_ratio).
  PolicyConfig c = must_preset("h2o");
  auto s = resolve_budget(c, 101);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->heavy, 25);  // int(0.25 · 101)
  EXPECT_EQ(s->recent, 25);
  EXPECT_EQ(s->total, 50);
  c.budget = Budget{Budget::Kind::kFraction, 0.3};
  s = resolve_budget(c, 3500);
  EXPECT_EQ(s->heavy, 525);  // int(0.15 · 3500)
  EXPECT_EQ(s->recent, 525);
  // Scissorhands setting: heavy = 2·int(r·L) − 10, recent = 10.
  c = must_preset("scissorhands");
  s = resolve_budget(c, 128);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->heavy, 54);
  EXPECT_EQ(s->recent, 10);
  // VATP: the 20 sinks sit inside the heavy part.
  c = must_preset("vatp");
  s = resolve_budget(c, 3500);
  EXPECT_EQ(s->heavy, 875);
  EXPECT_EQ(s->recent, 875);
  EXPECT_EQ(s->sinks, 20);
  EXPECT_EQ(s->total, 1750);
}

TEST(Budget, TokenCounts) {
  PolicyConfig c = must_preset("h2o");
  c.budget = Budget{Budget::Kind::kTokens, 511};
  auto s = resolve_budget(c, 4000);
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->total, 511);  // independent of the prompt
  EXPECT_EQ(s->recent, 255);
  EXPECT_EQ(s->heavy, 256);
  c.recent = 64;
  s = resolve_budget(c, 4000);
  EXPECT_EQ(s->recent, 64);
  EXPECT_EQ(s->heavy, 447);
  c = must_preset("streaming");
  c.budget = Budget{Budget::Kind::kTokens, 100};
  s = resolve_budget(c, 4000);
  EXPECT_EQ(s->heavy, 4);  // only the sinks
  EXPECT_EQ(s->recent, 96);
}

TEST(Validate, ClearErrors) {
  const int64_t ctx = 8192;
  PolicyConfig c = must_preset("vatp");
  EXPECT_TRUE(validate(c, 3000, ctx).is_ok());
  EXPECT_TRUE(validate(must_preset("full"), 3000, ctx).is_ok());

  c.budget = Budget{Budget::Kind::kTokens, 9000};
  EXPECT_THAT(validate(c, 3000, ctx).message(), HasSubstr("exceeds the context of 8192"));
  c.budget = Budget{Budget::Kind::kTokens, 0};
  EXPECT_FALSE(validate(c, 3000, ctx).is_ok());
  c.budget = Budget{Budget::Kind::kTokens, 20};  // 20 sinks fill a 20-token budget
  EXPECT_THAT(validate(c, 3000, ctx).message(), HasSubstr("20 sink tokens leave no room"));
  c.budget = Budget{Budget::Kind::kTokens, 30};  // 20 sinks + 15 recent > 30
  EXPECT_THAT(validate(c, 3000, ctx).message(), HasSubstr("exceed the budget"));
  c.budget = Budget{Budget::Kind::kFraction, 0.01};  // 2·int(0.005·30) = 0
  c.sinks = 0;
  EXPECT_THAT(validate(c, 30, ctx).message(), HasSubstr("keeps 0 tokens"));
  c.budget = Budget{Budget::Kind::kFraction, 1.5};
  EXPECT_THAT(validate(c, 30, ctx).message(), HasSubstr("(0, 1]"));

  c = must_preset("knorm");
  c.value_norm = ValueNorm::kL1;
  EXPECT_THAT(validate(c, 100, ctx).message(), HasSubstr("does not use attention"));
  c = must_preset("h2o");
  c.schedule = Schedule::kChunked;
  EXPECT_THAT(validate(c, 100, ctx).message(), HasSubstr("--kv-chunk"));
  c = must_preset("snapkv");
  c.pool_kernel = 4;
  EXPECT_THAT(validate(c, 1000, ctx).message(), HasSubstr("odd"));
  c = must_preset("streaming");
  c.recent = 10;
  EXPECT_THAT(validate(c, 1000, ctx).message(), HasSubstr("not --kv-recent"));
  c = must_preset("scissorhands");
  c.budget = Budget{Budget::Kind::kTokens, 8};  // recent 10 alone exceeds it
  EXPECT_FALSE(validate(c, 1000, ctx).is_ok());
  EXPECT_THAT(validate(must_preset("h2o"), 0, ctx).message(), HasSubstr("empty"));
}

TEST(ConfigFromFlags, OverridesAndErrors) {
  PolicyFlags f;
  f.policy = "vatp";
  f.budget = "512";
  f.sinks = "8";
  f.recent = "100";
  f.schedule = "chunked";
  f.chunk = "256";
  f.group = "max";
  f.value_norm = "l2";
  auto c = config_from_flags(f);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->budget.kind, Budget::Kind::kTokens);
  EXPECT_EQ(c->sinks, 8);
  EXPECT_EQ(c->recent, 100);
  EXPECT_EQ(c->schedule, Schedule::kChunked);
  EXPECT_EQ(c->chunk, 256);
  EXPECT_EQ(c->group, GroupReduce::kMax);
  EXPECT_EQ(c->value_norm, ValueNorm::kL2);
  EXPECT_THAT(describe(*c), HasSubstr("vatp: accum-attention x l2, sinks 8, recent 100, budget 512 tokens"));

  PolicyFlags bad;
  bad.policy = "full";
  bad.budget = "0.5";
  EXPECT_THAT(config_from_flags(bad).status().message(), HasSubstr("keeps every token"));
  bad = PolicyFlags{};
  bad.policy = "h2o";
  bad.schedule = "chunked";
  EXPECT_THAT(config_from_flags(bad).status().message(), HasSubstr("--kv-chunk"));
  bad.schedule = std::nullopt;
  bad.sinks = "many";
  EXPECT_THAT(config_from_flags(bad).status().message(), HasSubstr("--kv-sinks 'many'"));
  bad = PolicyFlags{};
  bad.policy = "nope";
  EXPECT_FALSE(config_from_flags(bad).is_ok());
  EXPECT_TRUE(config_from_flags(PolicyFlags{}).is_ok());  // default: full
}

TEST(StatPlan, WhatTheEngineGathers) {
  StatPlan p = stat_plan(must_preset("h2o"));
  EXPECT_TRUE(p.attention);
  EXPECT_EQ(p.prefill_window, 0);
  EXPECT_EQ(p.decode, StatPlan::Decode::kAdd);
  EXPECT_FALSE(p.value_l1);
  p = stat_plan(must_preset("vatp"));
  EXPECT_TRUE(p.value_l1);
  p = stat_plan(must_preset("scissorhands"));
  EXPECT_EQ(p.prefill_window, 400);
  EXPECT_FLOAT_EQ(p.prefill_scale, 1.0f / 400);
  EXPECT_EQ(p.decode, StatPlan::Decode::kAdd);
  p = stat_plan(must_preset("tova"));
  EXPECT_EQ(p.prefill_window, 1);
  EXPECT_EQ(p.decode, StatPlan::Decode::kReplace);
  p = stat_plan(must_preset("knorm"));
  EXPECT_FALSE(p.attention);
  EXPECT_TRUE(p.key_l2);
  PolicyConfig c = must_preset("h2o");
  c.group = GroupReduce::kMax;
  EXPECT_TRUE(stat_plan(c).per_query_head);
  EXPECT_FALSE(stat_plan(must_preset("full")).attention);
}

TEST(Schedule, WhenToEvict) {
  const PolicyConfig cont = must_preset("vatp");
  EXPECT_FALSE(evicts_at(cont, Phase::kPrefillChunk));
  EXPECT_TRUE(evicts_at(cont, Phase::kPrefillEnd));
  EXPECT_TRUE(evicts_at(cont, Phase::kDecodeStep));
  const PolicyConfig once = must_preset("snapkv");
  EXPECT_TRUE(evicts_at(once, Phase::kPrefillEnd));
  EXPECT_FALSE(evicts_at(once, Phase::kDecodeStep));
  PolicyConfig ch = cont;
  ch.schedule = Schedule::kChunked;
  EXPECT_TRUE(evicts_at(ch, Phase::kPrefillChunk));
  EXPECT_TRUE(evicts_at(ch, Phase::kDecodeStep));
  EXPECT_FALSE(evicts_at(must_preset("full"), Phase::kPrefillEnd));
}

TEST(Schedule, SlotsNeeded) {
  PolicyConfig c = must_preset("vatp");
  const BudgetSplit s{512, 256, 256, 20};
  EXPECT_EQ(slots_needed(c, s, 3000, 8192), 3000);  // the whole prompt before the first eviction
  EXPECT_EQ(slots_needed(c, s, 100, 8192), 513);    // T + the decode token
  c.schedule = Schedule::kChunked;
  c.chunk = 256;
  EXPECT_EQ(slots_needed(c, s, 3000, 8192), 768);
  c.schedule = Schedule::kOneShot;
  EXPECT_EQ(slots_needed(c, s, 3000, 8192), 8192);
  EXPECT_EQ(slots_needed(must_preset("full"), s, 3000, 4096), 4096);
}

}  // namespace
}  // namespace vatp::policy
