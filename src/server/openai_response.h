// The OpenAI response bodies: chat.completion / text_completion objects, their
// streaming chunks, usage (with vatp's usage.kv) and logprobs in both endpoints'
// shapes. Pure functions of the finished request; the transport is http_server.cc.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/openai_request.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace vatp::server {

// What the response of one request needs besides its events.
struct ResponseInfo {
  Endpoint ep = Endpoint::kChat;
  std::string id;  // chatcmpl-N / cmpl-N
  std::string model;
  int64_t created = 0;
  bool include_usage = false;
  std::string policy;
  int logprobs = -1;                          // as asked (OpenAiRequest::logprobs)
  bool echo = false;                          // completions: the prompt text comes first
  std::string echo_text;                      // that text
  const tokenizer::Tokenizer* tok = nullptr;  // renders the tokens of logprobs
};

// vatp's KV figures of one sequence: {bytes_held, bytes_full_cache, bytes_allocated,
// bytes_reserved, tokens_evicted} (usage.kv adds the policy; /slots shows it beside).
nlohmann::json kv_json(const runtime::SessionStats& s, int64_t bytes_reserved);
nlohmann::json usage_json(const runtime::Completion& c, const std::string& policy);
// One entry of GET /slots.
nlohmann::json slot_json(const runtime::SequenceInfo& i);
// id, object, created, model.
nlohmann::json envelope(const ResponseInfo& r, bool chunk);
// One choice: text (completions), delta (chat chunk) or message (chat).
nlohmann::json choice_json(const ResponseInfo& r, const std::string& text, const nlohmann::json& finish,
                           bool chunk);
// The whole non-streaming body from the kDone event.
nlohmann::json final_response(const ResponseInfo& r, const Event& done);
// choices[0].logprobs: completions {tokens, token_logprobs, top_logprobs, text_offset}
// over the prompt (echo) then the completion; chat {content: [{token, logprob, bytes,
// top_logprobs}]}.
nlohmann::json logprobs_json(const ResponseInfo& r, const std::vector<TokenLogprobs>& prompt,
                             const std::vector<TokenLogprobs>& generated);
// The logprobs of one streaming chunk (its tokens only); completions' text_offset
// continues from *text_offset, which advances past these tokens' pieces.
nlohmann::json chunk_logprobs(const ResponseInfo& r, const std::vector<TokenLogprobs>& tokens,
                              int64_t* text_offset);
// {"error": {...}} for a failure after the request was accepted (streamed or in the body).
nlohmann::json error_body(const Status& st);

std::string finish_of(const Event& e);

}  // namespace vatp::server
