// The OpenAI request bodies of POST /v1/chat/completions and /v1/completions, read into
// the shared request schema (api/request_json.h) plus what only the server handles:
// streaming, stop strings, the model name. docs/server.md lists every field.
//
// OpenAI fields vatp cannot honour are refused rather than ignored: n other than 1,
// non-zero frequency/presence penalties. `kv` may also come
// inside `extra_body` (clients that do not merge extra_body into the body send it so).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/request_json.h"
#include "core/status.h"

namespace vatp::server {

enum class Endpoint { kChat, kCompletions };

struct OpenAiRequest {
  api::ParsedRequest req;
  std::string model;  // as given ("" when absent); echoed in the response
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::vector<std::string> stop;
  // Log-probabilities: -1 none; else with this many alternatives per token (chat:
  // logprobs true + top_logprobs; completions: logprobs N).
  int logprobs = -1;
  bool echo = false;  // completions: the prompt comes back before the completion
  // Prompt reuse (llama-server's field): continue a conversation the server holds, and
  // be held for the next request. On by default.
  bool cache_prompt = true;
  // Completions with a list of several prompts (lm-eval batches them): one request
  // each, in order, answered as choices[i] (`req` is the first). Empty for one prompt.
  std::vector<api::ParsedRequest> batch;
};

// The most prompts one completions request may carry.
inline constexpr size_t kMaxBatchPrompts = 64;

// The most alternatives per token a request may ask for (vLLM's default limit).
inline constexpr int kMaxTopLogprobs = 20;

// invalid_argument naming the field for anything malformed or unsupported.
Result<OpenAiRequest> parse_openai_request(const nlohmann::json& body, Endpoint ep,
                                           const api::RequestDefaults& defaults);

}  // namespace vatp::server
