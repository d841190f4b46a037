// parse_request: the JSON request schema shared by vatp batch and the server. Values given
// are read, values absent keep the defaults, every refusal names the field.
#include "api/request_json.h"

#include <gtest/gtest.h>

#include <string>

#include "core/json_text.h"

namespace vatp::api {
namespace {

Result<ParsedRequest> parse(const std::string& text, const RequestDefaults& d = {}) {
  Result<nlohmann::json> j = parse_json_text(text);
  EXPECT_TRUE(j.is_ok()) << text;
  return parse_request(*j, d);
}

std::string error_of(const std::string& text) {
  Result<ParsedRequest> r = parse(text);
  EXPECT_FALSE(r.is_ok()) << text;
  if (r.is_ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(RequestJson, ReadsEveryField) {
  const auto r = parse(R"({"id": "b", "messages": [{"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Hi"}], "max_completion_tokens": 4, "seed": 7, "top_k": 40,
      "min_p": 0.05, "temperature": 0.5, "top_p": 0.9, "repeat_penalty": 1.1, "repeat_last_n": 64,
      "ignore_eos": true, "kv": {"policy": "snapkv", "budget": 0.25, "schedule": "chunked",
      "chunk": 128, "window": 16}})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->id, "b");
  EXPECT_FALSE(r->prompt.has_value());
  ASSERT_EQ(r->messages.size(), 2u);
  EXPECT_EQ(r->messages[1].role, "user");
  EXPECT_EQ(r->messages[1].content, "Hi");
  EXPECT_EQ(r->max_tokens, 4);
  EXPECT_EQ(r->sampling.seed, 7u);
  EXPECT_EQ(r->sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r->sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(r->sampling.temp, 0.5f);
  EXPECT_FLOAT_EQ(r->sampling.top_p, 0.9f);
  EXPECT_EQ(r->sampling.repeat_last_n, 64);
  EXPECT_TRUE(r->ignore_eos);
  EXPECT_EQ(r->kv.policy, "snapkv");
  EXPECT_EQ(r->kv.budget, "0.25");
  EXPECT_EQ(r->kv.chunk, "128");
}

TEST(RequestJson, AbsentFieldsKeepTheDefaults) {
  RequestDefaults d;
  d.max_tokens = 33;
  d.sampling.temp = 0.25f;
  d.kv.policy = "h2o";
  d.kv.budget = "64";
  const auto r = parse(R"({"prompt": "Hello"})", d);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r->prompt, "Hello");
  EXPECT_EQ(r->max_tokens, 33);
  EXPECT_FLOAT_EQ(r->sampling.temp, 0.25f);
  EXPECT_EQ(r->kv.policy, "h2o");
  EXPECT_EQ(r->kv.budget, "64");
  EXPECT_TRUE(r->id.is_null());
}

TEST(RequestJson, APromptMayBeTokenIds) {
  const auto r = parse(R"({"prompt": [1, 2, 49151]})", api::RequestDefaults{});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_FALSE(r->prompt.has_value());
  ASSERT_TRUE(r->prompt_ids.has_value());
  EXPECT_EQ(*r->prompt_ids, (std::vector<int32_t>{1, 2, 49151}));
}

TEST(RequestJson, RefusalsNameTheField) {
  EXPECT_EQ(error_of(R"([1])"), "a request must be a JSON object, got array");
  EXPECT_EQ(error_of(R"({"prompt": "a", "bogus": 1})"), "field \"bogus\": unknown field");
  EXPECT_EQ(error_of(R"({"prompt": "a", "messages": []})"),
            "give exactly one of \"prompt\" and \"messages\"");
  EXPECT_EQ(error_of(R"({})"), "give exactly one of \"prompt\" and \"messages\"");
  EXPECT_EQ(error_of(R"({"prompt": 3})"),
            "field \"prompt\": must be a string or a non-empty list of token ids");
  EXPECT_EQ(error_of(R"({"prompt": []})"),
            "field \"prompt\": must be a string or a non-empty list of token ids");
  EXPECT_EQ(error_of(R"({"prompt": [1, -2]})"), "field \"prompt[1]\": must be in 0..2147483647");
  EXPECT_EQ(error_of(R"({"prompt": [1, "a"]})"), "field \"prompt[1]\": must be an integer, got string");
  EXPECT_EQ(error_of(R"({"messages": [{"role": "robot", "content": "x"}]})"),
            "field \"messages[0].role\": must be system, user or assistant, got \"robot\"");
  EXPECT_EQ(error_of(R"({"prompt": "a", "max_tokens": -1})"), "field \"max_tokens\": must be in 0..16777216");
  EXPECT_EQ(error_of(R"({"prompt": "a", "top_k": 1.5})"), "field \"top_k\": must be an integer, got number");
  EXPECT_EQ(error_of(R"({"prompt": "a", "seed": 18446744073709551615})"),
            "field \"seed\": must be at most 9223372036854775807");
  EXPECT_EQ(error_of(R"({"prompt": "a", "temperature": "hot"})"),
            "field \"temperature\": must be a number, got string");
  EXPECT_EQ(error_of(R"({"prompt": "a", "kv": {"polcy": "vatp"}})"), "field \"kv.polcy\": unknown field");
  EXPECT_EQ(error_of(R"({"prompt": "a", "kv": []})"), "field \"kv\": must be an object, got array");
  const std::string bad_policy = error_of(R"({"prompt": "a", "kv": {"policy": "nope"}})");
  EXPECT_EQ(bad_policy.rfind("field \"kv\": ", 0), 0u) << bad_policy;
  EXPECT_NE(bad_policy.find("nope"), std::string::npos) << bad_policy;
  EXPECT_EQ(error_of(R"({"prompt": "a", "kv": {"scope": "all"}})"),
            "field \"kv.scope\": must be \"whole\" or \"context\"");
  const std::string needs =
      "field \"kv.scope\": \"context\" needs \"messages\" ending with the user's question "
      "after the conversation to compress (at least two messages)";
  EXPECT_EQ(error_of(R"({"prompt": "a", "kv": {"scope": "context"}})"), needs);
  EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": "q"}], "kv": {"scope": "context"}})"),
            needs);
  EXPECT_EQ(
      error_of(R"({"messages": [{"role": "user", "content": "d"}, {"role": "assistant", "content": "a"}],
                         "kv": {"scope": "context"}})"),
      needs);
}

TEST(RequestJson, MinBudgetIsReadAsABudget) {
  auto t = parse(R"({"prompt": "a", "kv": {"policy": "vatp", "min_budget": 64}})");
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  ASSERT_TRUE(t->kv_min_budget.has_value());
  EXPECT_EQ(t->kv_min_budget->kind, policy::Budget::Kind::kTokens);
  EXPECT_EQ(t->kv_min_budget->value, 64);
  for (const char* f : {R"(0.1)", R"("10%")"}) {
    auto r = parse(std::string(R"({"prompt": "a", "kv": {"policy": "vatp", "min_budget": )") + f + "}}");
    ASSERT_TRUE(r.is_ok()) << f;
    EXPECT_EQ(r->kv_min_budget->kind, policy::Budget::Kind::kFraction) << f;
    EXPECT_DOUBLE_EQ(r->kv_min_budget->value, 0.1) << f;
  }
  EXPECT_FALSE(parse(R"({"prompt": "a"})")->kv_min_budget.has_value());
  EXPECT_EQ(
      error_of(R"({"prompt": "a", "kv": {"min_budget": "lots"}})").rfind("field \"kv.min_budget\": ", 0), 0u);
  EXPECT_EQ(error_of(R"({"prompt": "a", "kv": {"min_budget": [1]}})").rfind("field \"kv.min_budget\": ", 0),
            0u);
}

TEST(RequestJson, ScopeContextIsRead) {
  auto r = parse(R"({"messages": [{"role": "user", "content": "doc"}, {"role": "user", "content": "q?"}],
                     "kv": {"policy": "vatp", "scope": "context"}})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->kv_scope_context);
  auto w = parse(R"({"messages": [{"role": "user", "content": "q?"}], "kv": {"scope": "whole"}})");
  ASSERT_TRUE(w.is_ok());
  EXPECT_FALSE(w->kv_scope_context);
}

}  // namespace
}  // namespace vatp::api
