// libFuzzer target for the server's request bodies (POST /v1/chat/completions and
// /v1/completions): any bytes, as either endpoint's body, parse into a checked request
// or are refused with a message; the accepted ones keep the invariants the HTTP side
// relies on (one prompt form per endpoint, logprobs in range, batches of 2..64 prompts
// only for completions,
// kv.scope "context" only with a conversation ending with the user's turn).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/json_text.h"
#include "server/openai_request.h"

namespace {

void check(const nlohmann::json& body, vatp::server::Endpoint ep) {
  using vatp::server::Endpoint;
  const vatp::api::RequestDefaults d;
  auto r = vatp::server::parse_openai_request(body, ep, d);
  if (!r.is_ok()) {
    if (r.status().message().empty()) __builtin_trap();
    return;
  }
  const bool has_prompt = r->req.prompt || r->req.prompt_ids;
  if (ep == Endpoint::kChat && (has_prompt || r->req.messages.empty() || r->echo)) __builtin_trap();
  if (ep == Endpoint::kCompletions && (!has_prompt || !r->req.messages.empty())) __builtin_trap();
  if (r->req.prompt_ids && r->req.prompt_ids->empty()) __builtin_trap();
  if (r->logprobs < -1 || r->logprobs > vatp::server::kMaxTopLogprobs) __builtin_trap();
  if (r->batch.size() == 1 || r->batch.size() > vatp::server::kMaxBatchPrompts) __builtin_trap();
  if (!r->batch.empty() && ep == Endpoint::kChat) __builtin_trap();
  for (const auto& b : r->batch)
    if (!b.prompt && !b.prompt_ids) __builtin_trap();
  if (r->req.kv_scope_context && (r->req.messages.size() < 2 || r->req.messages.back().role != "user"))
    __builtin_trap();
  if (r->stop.size() > 16 || r->req.max_tokens < 0) __builtin_trap();
  for (const auto& s : r->stop)
    if (s.empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vatp::Result<nlohmann::json> j = vatp::parse_json_text(text);
  if (!j.is_ok()) return 0;
  check(*j, vatp::server::Endpoint::kChat);
  check(*j, vatp::server::Endpoint::kCompletions);
  return 0;
}
