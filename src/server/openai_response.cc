#include "server/openai_response.h"

namespace vatp::server {

using nlohmann::json;

std::string finish_of(const Event& e) { return e.finish_reason.empty() ? "stop" : e.finish_reason; }

json kv_json(const runtime::SessionStats& s, int64_t bytes_reserved) {
  return {{"bytes_held", s.kv_bytes_used},           {"bytes_full_cache", s.kv_bytes_full},
          {"bytes_allocated", s.kv_bytes_allocated}, {"bytes_reserved", bytes_reserved},
          {"tokens_evicted", s.tokens_evicted},      {"compressions", s.kv_compressions}};
}

json usage_json(const runtime::Completion& c, const std::string& policy) {
  const runtime::SessionStats& s = c.stats;
  const int64_t completion = static_cast<int64_t>(c.tokens.size());
  json kv = kv_json(s, c.kv_bytes_reserved);
  kv["policy"] = policy;
  const int64_t prompt = s.n_prompt + c.n_cached;  // prefilled now + continued from a held cache
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", c.n_cached}}},
          {"kv", kv}};
}

namespace {

const char* state_name(runtime::SequenceInfo::State s) {
  switch (s) {
    case runtime::SequenceInfo::State::kWaiting: return "waiting";
    case runtime::SequenceInfo::State::kPrefill: return "prefill";
    case runtime::SequenceInfo::State::kDecode: return "decode";
    case runtime::SequenceInfo::State::kHeld: return "held";
  }
  return "unknown";
}

}  // namespace

json slot_json(const runtime::SequenceInfo& i) {
  return {{"id", i.id},
          {"state", state_name(i.state)},
          {"policy", i.policy},
          {"prompt_tokens", i.n_prompt},
          {"prompt_done", i.prompt_done},
          {"generated", i.n_generated},
          {"seconds", i.seconds},
          {"kv", kv_json(i.stats, i.kv_bytes_reserved)}};
}

json envelope(const ResponseInfo& r, bool chunk) {
  const bool chat = r.ep == Endpoint::kChat;
  return {{"id", r.id},
          {"object", chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
          {"created", r.created},
          {"model", r.model}};
}

json choice_json(const ResponseInfo& r, const std::string& text, const json& finish, bool chunk) {
  json c = {{"index", 0}, {"finish_reason", finish}, {"logprobs", nullptr}};
  if (r.ep == Endpoint::kCompletions) {
    c["text"] = text;
  } else if (chunk) {
    c["delta"] = finish.is_null() ? json{{"content", text}} : json::object();
  } else {
    c["message"] = {{"role", "assistant"}, {"content", text}};
  }
  return c;
}

namespace {

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char ch : s) b.push_back(static_cast<int>(ch));
  return b;
}

json chat_logprobs(const tokenizer::Tokenizer& tok, const std::vector<TokenLogprobs>& generated) {
  json content = json::array();
  for (const TokenLogprobs& t : generated) {
    json top = json::array();
    for (const runtime::TokenLogprob& a : t.top) {
      const std::string piece = tok.token_to_piece(a.id, /*special=*/true);
      top.push_back({{"token", piece}, {"logprob", a.logprob}, {"bytes", bytes_of(piece)}});
    }
    const std::string piece = tok.token_to_piece(t.id, /*special=*/true);
    content.push_back({{"token", piece},
                       {"logprob", t.logprob.value_or(0.0)},
                       {"bytes", bytes_of(piece)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}, {"refusal", nullptr}};
}

// Offsets are byte positions of each token's piece in the concatenated pieces.
json completion_logprobs(const tokenizer::Tokenizer& tok, const std::vector<TokenLogprobs>& prompt,
                         const std::vector<TokenLogprobs>& generated, int64_t* text_offset) {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  int64_t& offset = *text_offset;
  auto add = [&](const TokenLogprobs& t) {
    const std::string piece = tok.token_to_piece(t.id, /*special=*/true);
    tokens.push_back(piece);
    offsets.push_back(offset);
    offset += static_cast<int64_t>(piece.size());
    if (!t.logprob) {
      lps.push_back(nullptr);
      tops.push_back(nullptr);
      return;
    }
    lps.push_back(*t.logprob);
    json top = json::object();
    for (const runtime::TokenLogprob& a : t.top) top[tok.token_to_piece(a.id, /*special=*/true)] = a.logprob;
    tops.push_back(top);
  };
  for (const TokenLogprobs& t : prompt) add(t);
  for (const TokenLogprobs& t : generated) add(t);
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

}  // namespace

json logprobs_json(const ResponseInfo& r, const std::vector<TokenLogprobs>& prompt,
                   const std::vector<TokenLogprobs>& generated) {
  int64_t offset = 0;
  if (r.ep == Endpoint::kChat) return chat_logprobs(*r.tok, generated);
  return completion_logprobs(*r.tok, prompt, generated, &offset);
}

json chunk_logprobs(const ResponseInfo& r, const std::vector<TokenLogprobs>& tokens, int64_t* text_offset) {
  if (r.ep == Endpoint::kChat) return chat_logprobs(*r.tok, tokens);
  return completion_logprobs(*r.tok, {}, tokens, text_offset);
}

json final_response(const ResponseInfo& r, const Event& done) {
  json j = envelope(r, false);
  json choice = choice_json(r, r.echo ? r.echo_text + done.text : done.text, finish_of(done), false);
  if (r.logprobs >= 0) choice["logprobs"] = logprobs_json(r, done.prompt_logprobs, done.logprobs);
  j["choices"] = json::array({choice});
  j["usage"] = usage_json(done.completion, r.policy);
  return j;
}

json error_body(const Status& st) {
  return {{"error", {{"message", st.message()}, {"type", "server_error"}, {"code", "internal_error"}}}};
}

}  // namespace vatp::server
