#include "server/openai_request.h"

#include <string_view>

namespace vatp::server {
namespace {

using nlohmann::json;

Status field_error(const std::string& name, const std::string& what) {
  return invalid_argument("field \"" + name + "\": " + what);
}

// `extra_body: {...}` merged into the body; a key in both is ambiguous.
Status merge_extra_body(json& body) {
  if (!body.contains("extra_body")) return Status::ok();
  json extra = std::move(body["extra_body"]);
  body.erase("extra_body");
  if (!extra.is_object()) return field_error("extra_body", "must be an object");
  for (auto& [k, v] : extra.items()) {
    if (body.contains(k)) return field_error("extra_body." + k, "also given outside extra_body");
    body[k] = std::move(v);
  }
  return Status::ok();
}

Result<std::vector<std::string>> parse_stop(const json& v) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string()) return field_error("stop[" + std::to_string(i) + "]", "must be a string");
      out.push_back(v[i].get<std::string>());
    }
  } else {
    return field_error("stop", "must be a string or a list of strings");
  }
  if (out.size() > 16) return field_error("stop", "at most 16 stop strings");
  for (const std::string& s : out)
    if (s.empty()) return field_error("stop", "stop strings must not be empty");
  return out;
}

Result<int> top_count(const json& v, const char* name) {
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxTopLogprobs)
    return field_error(name, "must be an integer in 0.." + std::to_string(kMaxTopLogprobs));
  return static_cast<int>(v.get<int64_t>());
}

// Chat: logprobs true|false, top_logprobs N (needs logprobs). Completions: logprobs N,
// echo true|false.
Status take_logprob_fields(const json& logprobs, const json& top, const json& echo, Endpoint ep,
                           OpenAiRequest& r) {
  if (ep == Endpoint::kChat) {
    if (!echo.is_null()) return field_error("echo", "not a chat field (use /v1/completions)");
    if (!logprobs.is_null() && !logprobs.is_boolean())
      return field_error("logprobs", "must be true or false");
    const bool on = logprobs.is_boolean() && logprobs.get<bool>();
    if (!top.is_null()) {
      if (!on) return field_error("top_logprobs", "needs \"logprobs\": true");
      VATP_ASSIGN_OR_RETURN(r.logprobs, top_count(top, "top_logprobs"));
    } else if (on) {
      r.logprobs = 0;
    }
  } else {
    if (!top.is_null()) return field_error("top_logprobs", "not a completions field (use \"logprobs\": N)");
    if (!echo.is_null() && !echo.is_boolean()) return field_error("echo", "must be true or false");
    r.echo = echo.is_boolean() && echo.get<bool>();
    if (!logprobs.is_null()) {
      VATP_ASSIGN_OR_RETURN(r.logprobs, top_count(logprobs, "logprobs"));
    }
  }
  return Status::ok();
}

// The fields the shared schema does not know, taken out of `body` and checked.
Status take_server_fields(json& body, Endpoint ep, OpenAiRequest& r) {
  auto take = [&](const char* key) {
    json v;
    if (body.contains(key)) {
      v = std::move(body[key]);
      body.erase(key);
    }
    return v;
  };
  if (json v = take("model"); !v.is_null()) {
    if (!v.is_string()) return field_error("model", "must be a string");
    r.model = v.get<std::string>();
  }
  if (json v = take("stream"); !v.is_null()) {
    if (!v.is_boolean()) return field_error("stream", "must be true or false");
    r.stream = v.get<bool>();
  }
  if (json v = take("stream_options"); !v.is_null()) {
    if (!v.is_object()) return field_error("stream_options", "must be an object");
    for (const auto& [k, x] : v.items()) {
      if (k != "include_usage") return field_error("stream_options." + k, "unknown field");
      if (!x.is_boolean()) return field_error("stream_options.include_usage", "must be true or false");
      r.include_usage = x.get<bool>();
    }
  }
  VATP_ASSIGN_OR_RETURN(r.stop, parse_stop(take("stop")));
  if (json v = take("n"); !v.is_null() && !(v.is_number_integer() && v.get<int64_t>() == 1))
    return field_error("n", "only n = 1 is supported");
  if (json v = take("user"); !v.is_null() && !v.is_string()) return field_error("user", "must be a string");
  if (json v = take("cache_prompt"); !v.is_null()) {
    if (!v.is_boolean()) return field_error("cache_prompt", "must be true or false");
    r.cache_prompt = v.get<bool>();
  }
  for (const char* key : {"frequency_penalty", "presence_penalty"}) {
    json v = take(key);
    if (v.is_null()) continue;
    if (!v.is_number()) return field_error(key, "must be a number");
    if (v.get<double>() != 0.0)
      return field_error(key, "is not supported (use repeat_penalty); only 0 is accepted");
  }
  json logprobs = take("logprobs"), top = take("top_logprobs"), echo = take("echo");
  return take_logprob_fields(logprobs, top, echo, ep, r);
}

// Chat content may be a string or a list of {"type": "text", "text": ...} parts.
Status flatten_content(json& messages) {
  if (!messages.is_array()) return Status::ok();  // the schema reports it
  for (size_t i = 0; i < messages.size(); ++i) {
    json& m = messages[i];
    if (!m.is_object() || !m.contains("content") || !m["content"].is_array()) continue;
    std::string text;
    const json& parts = m["content"];
    for (size_t p = 0; p < parts.size(); ++p) {
      const std::string name = "messages[" + std::to_string(i) + "].content[" + std::to_string(p) + "]";
      if (!parts[p].is_object() || parts[p].value("type", json()) != "text" || !parts[p].contains("text") ||
          !parts[p]["text"].is_string())
        return field_error(name, "only {\"type\": \"text\", \"text\": string} parts are supported");
      text += parts[p]["text"].get<std::string>();
    }
    m["content"] = text;
  }
  return Status::ok();
}

// Completions: a prompt is a string, a list of token ids, or a list of those (one
// request each: r.batch). A list of one is that prompt.
Status read_prompts(json& body, const api::RequestDefaults& d, OpenAiRequest& r) {
  if (!body.contains("prompt") || !body["prompt"].is_array()) return Status::ok();
  json& p = body["prompt"];
  if (p.empty() || p[0].is_number_integer()) return Status::ok();  // token ids: the schema checks them
  for (size_t i = 0; i < p.size(); ++i) {
    if (!p[i].is_string() && !p[i].is_array())
      return field_error("prompt[" + std::to_string(i) + "]", "must be a string or a list of token ids");
  }
  if (p.size() == 1) {
    body["prompt"] = json(p[0]);
    return Status::ok();
  }
  if (p.size() > kMaxBatchPrompts)
    return field_error("prompt", "at most " + std::to_string(kMaxBatchPrompts) +
                                     " prompts per request, got " + std::to_string(p.size()));
  const json prompts = std::move(p);
  for (size_t i = 0; i < prompts.size(); ++i) {
    body["prompt"] = prompts[i];
    Result<api::ParsedRequest> one = api::parse_request(body, d);
    if (!one.is_ok()) return one.status().with_context("prompt[" + std::to_string(i) + "]");
    r.batch.push_back(std::move(one).value());
  }
  body["prompt"] = prompts[0];
  return Status::ok();
}

}  // namespace

Result<OpenAiRequest> parse_openai_request(const json& body_in, Endpoint ep, const api::RequestDefaults& d) {
  if (!body_in.is_object())
    return invalid_argument(std::string("the body must be a JSON object, got ") + body_in.type_name());
  json body = body_in;
  OpenAiRequest r;
  VATP_RETURN_IF_ERROR(merge_extra_body(body));
  VATP_RETURN_IF_ERROR(take_server_fields(body, ep, r));
  body.erase("id");  // a client's id is not ours to echo
  if (ep == Endpoint::kChat) {
    if (body.contains("prompt")) return field_error("prompt", "not a chat field (use /v1/completions)");
    if (!body.contains("messages")) return field_error("messages", "required");
    VATP_RETURN_IF_ERROR(flatten_content(body["messages"]));
  } else {
    if (body.contains("messages"))
      return field_error("messages", "not a completions field (use /v1/chat/completions)");
    if (!body.contains("prompt")) return field_error("prompt", "required");
    VATP_RETURN_IF_ERROR(read_prompts(body, d, r));
  }
  if (!r.batch.empty()) {
    r.req = r.batch.front();
    return r;
  }
  VATP_ASSIGN_OR_RETURN(r.req, api::parse_request(body, d));
  return r;
}

}  // namespace vatp::server
