// A generation request as JSON — one line of `vatp batch --requests` (and, with the
// OpenAI names, the body the server will take):
//   {"id": any, "prompt": "..." | [token ids] | "messages": [{"role", "content"}...],
//    "max_tokens" | "max_completion_tokens": N, "temperature", "top_p", "top_k", "min_p",
//    "repeat_penalty", "repeat_last_n", "seed", "ignore_eos",
//    "kv": {"policy", "budget", "sinks", "recent", "schedule", "chunk", "group",
//           "value_norm", "window", "seed", "scope"}}
// kv.scope: "whole" (default: the policy compresses the whole prompt) or "context"
// (messages only: the conversation before the last user message is compressed, that
// message — the question — and the answer are appended uncompressed; Request::n_question).
// Fields not given keep the command line's defaults. Unknown fields and wrong types are
// errors naming the field ("field \"kv.budget\": ...").
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "policy/flags.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "tokenizer/chat_template.h"

namespace vatp::api {

struct RequestDefaults {
  int max_tokens = 128;
  runtime::SamplerParams sampling;
  policy::PolicyFlags kv;
};

struct ParsedRequest {
  nlohmann::json id;                               // as given (null when absent)
  std::optional<std::string> prompt;               // raw text, or
  std::optional<std::vector<int32_t>> prompt_ids;  // token ids as given (no BOS added), or
  std::vector<tokenizer::ChatMessage> messages;    // a conversation for the chat template
  int max_tokens = 128;
  bool ignore_eos = false;
  runtime::SamplerParams sampling;
  policy::PolicyFlags kv;
  policy::PolicyConfig kv_policy;               // kv resolved (preset + overrides), values checked
  bool kv_scope_context = false;                // kv.scope "context"
  std::optional<policy::Budget> kv_min_budget;  // kv.min_budget (KV pressure may cut to it)
};

// invalid_argument naming the field; the caller adds file and line.
Result<ParsedRequest> parse_request(const nlohmann::json& j, const RequestDefaults& d);

// The engine request: the prompt tokenized (text with BOS if the vocabulary adds it,
// not parsing special tokens; a conversation through `chat` with special tokens parsed
// — `chat` may be null when there are no messages) or the given ids checked against the
// vocabulary; sampling, policy and limits copied.
Result<runtime::Request> engine_request(const ParsedRequest& r, const tokenizer::Tokenizer& tok,
                                        const tokenizer::ChatFormat* chat);

}  // namespace vatp::api
