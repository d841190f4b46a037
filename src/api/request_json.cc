#include "api/request_json.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace vatp::api {
namespace {

using nlohmann::json;

Status field_error(const std::string& name, const std::string& what) {
  return invalid_argument("field \"" + name + "\": " + what);
}

Status check_known(const json& j, const std::set<std::string>& known, const std::string& prefix) {
  for (const auto& [k, v] : j.items()) {
    if (known.count(k) == 0) return field_error(prefix + k, "unknown field");
  }
  return Status::ok();
}

Result<double> get_number(const json& v, const std::string& name) {
  if (!v.is_number()) return field_error(name, std::string("must be a number, got ") + v.type_name());
  const double x = v.get<double>();
  if (!std::isfinite(x)) return field_error(name, "must be finite");
  return x;
}

Result<int64_t> get_integer(const json& v, const std::string& name, int64_t lo, int64_t hi) {
  if (!v.is_number_integer())
    return field_error(name, std::string("must be an integer, got ") + v.type_name());
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
    return field_error(name, "must be at most " + std::to_string(hi));
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    return field_error(name, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  return x;
}

// "budget": 512 (tokens) or 0.25 (a fraction) or "25%"; the other kv fields: strings or
// integers, as their --kv-* flags take them.
Result<std::string> kv_value(const json& v, const std::string& name) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float() && (name == "kv.budget" || name == "kv.min_budget")) {
    const double x = v.get<double>();
    if (!std::isfinite(x)) return field_error(name, "must be finite");
    std::string s = json(x).dump();
    if (s.find('.') == std::string::npos && s.find('e') == std::string::npos) s += ".0";
    return s;
  }
  return field_error(name, std::string("must be a string or an integer, got ") + v.type_name());
}

Status parse_kv(const json& kv, policy::PolicyFlags& f, ParsedRequest& r) {
  if (!kv.is_object()) return field_error("kv", std::string("must be an object, got ") + kv.type_name());
  static const std::set<std::string> known = {"policy",   "budget", "sinks", "recent",
                                              "schedule", "chunk",  "group", "value_norm",
                                              "window",   "seed",   "scope", "min_budget"};
  VATP_RETURN_IF_ERROR(check_known(kv, known, "kv."));
  if (kv.contains("min_budget")) {
    VATP_ASSIGN_OR_RETURN(const std::string text, kv_value(kv["min_budget"], "kv.min_budget"));
    Result<policy::Budget> b = policy::parse_budget(text);
    if (!b.is_ok()) return field_error("kv.min_budget", b.status().message());
    r.kv_min_budget = *b;
  }
  bool& scope_context = r.kv_scope_context;
  if (kv.contains("scope")) {
    const json& sc = kv["scope"];
    if (!sc.is_string() || (sc.get<std::string>() != "whole" && sc.get<std::string>() != "context"))
      return field_error("kv.scope", "must be \"whole\" or \"context\"");
    scope_context = sc.get<std::string>() == "context";
  }
  const std::pair<const char*, std::optional<std::string>*> opt[] = {
      {"budget", &f.budget},     {"sinks", &f.sinks}, {"recent", &f.recent},
      {"schedule", &f.schedule}, {"chunk", &f.chunk}, {"group", &f.group},
      {"window", &f.window},     {"seed", &f.seed},   {"value_norm", &f.value_norm}};
  if (kv.contains("policy")) {
    if (!kv["policy"].is_string()) return field_error("kv.policy", "must be a string");
    f.policy = kv["policy"].get<std::string>();
  }
  for (const auto& [key, dst] : opt) {
    if (!kv.contains(key)) continue;
    VATP_ASSIGN_OR_RETURN(*dst, kv_value(kv[key], std::string("kv.") + key));
  }
  return Status::ok();
}

Result<std::vector<tokenizer::ChatMessage>> parse_messages(const json& m) {
  if (!m.is_array() || m.empty()) return field_error("messages", "must be a non-empty list of messages");
  std::vector<tokenizer::ChatMessage> out;
  for (size_t i = 0; i < m.size(); ++i) {
    const std::string name = "messages[" + std::to_string(i) + "]";
    const json& e = m[i];
    if (!e.is_object()) return field_error(name, "must be an object {\"role\", \"content\"}");
    VATP_RETURN_IF_ERROR(check_known(e, {"role", "content", "name"}, name + "."));
    if (!e.contains("role") || !e["role"].is_string()) return field_error(name + ".role", "must be a string");
    if (!e.contains("content") || !e["content"].is_string())
      return field_error(name + ".content", "must be a string");
    const std::string role = e["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant")
      return field_error(name + ".role", "must be system, user or assistant, got \"" + role + "\"");
    out.push_back({role, e["content"].get<std::string>()});
  }
  return out;
}

Status parse_sampling(const json& j, runtime::SamplerParams& s) {
  const std::pair<const char*, float*> reals[] = {{"temperature", &s.temp},
                                                  {"top_p", &s.top_p},
                                                  {"min_p", &s.min_p},
                                                  {"repeat_penalty", &s.repeat_penalty}};
  for (const auto& [key, dst] : reals) {
    if (!j.contains(key)) continue;
    VATP_ASSIGN_OR_RETURN(double x, get_number(j[key], key));
    *dst = static_cast<float>(x);
  }
  constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();
  if (j.contains("top_k")) {
    VATP_ASSIGN_OR_RETURN(int64_t k, get_integer(j["top_k"], "top_k", -1, kIntMax));
    s.top_k = static_cast<int>(k);
  }
  if (j.contains("repeat_last_n")) {
    VATP_ASSIGN_OR_RETURN(int64_t n, get_integer(j["repeat_last_n"], "repeat_last_n", 0, kIntMax));
    s.repeat_last_n = static_cast<int>(n);
  }
  if (j.contains("seed")) {
    VATP_ASSIGN_OR_RETURN(int64_t sd, get_integer(j["seed"], "seed", 0, std::numeric_limits<int64_t>::max()));
    s.seed = static_cast<uint64_t>(sd);
  }
  return runtime::validate(s);
}

// A string, or a non-empty list of token ids (range-checked by engine_request, which
// knows the vocabulary).
Status parse_prompt(const json& p, ParsedRequest& r) {
  if (p.is_string()) {
    r.prompt = p.get<std::string>();
    return Status::ok();
  }
  if (!p.is_array() || p.empty())
    return field_error("prompt", "must be a string or a non-empty list of token ids");
  std::vector<int32_t> ids;
  ids.reserve(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    VATP_ASSIGN_OR_RETURN(int64_t id, get_integer(p[i], "prompt[" + std::to_string(i) + "]", 0, INT32_MAX));
    ids.push_back(static_cast<int32_t>(id));
  }
  r.prompt_ids = std::move(ids);
  return Status::ok();
}

}  // namespace

Result<ParsedRequest> parse_request(const json& j, const RequestDefaults& d) {
  if (!j.is_object())
    return invalid_argument(std::string("a request must be a JSON object, got ") + j.type_name());
  static const std::set<std::string> known = {
      "id",    "prompt", "messages", "max_tokens", "max_completion_tokens", "temperature",   "top_p",
      "top_k", "min_p",  "seed",     "kv",         "repeat_penalty",        "repeat_last_n", "ignore_eos"};
  VATP_RETURN_IF_ERROR(check_known(j, known, ""));
  ParsedRequest r;
  r.max_tokens = d.max_tokens;
  r.sampling = d.sampling;
  r.kv = d.kv;
  if (j.contains("id")) r.id = j["id"];
  const bool has_prompt = j.contains("prompt"), has_messages = j.contains("messages");
  if (has_prompt == has_messages) return invalid_argument("give exactly one of \"prompt\" and \"messages\"");
  if (has_prompt) {
    VATP_RETURN_IF_ERROR(parse_prompt(j["prompt"], r));
  } else {
    VATP_ASSIGN_OR_RETURN(r.messages, parse_messages(j["messages"]));
  }
  if (j.contains("max_tokens") && j.contains("max_completion_tokens"))
    return invalid_argument("give \"max_tokens\" or \"max_completion_tokens\", not both");
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (!j.contains(key)) continue;
    VATP_ASSIGN_OR_RETURN(int64_t n, get_integer(j[key], key, 0, 1 << 24));
    r.max_tokens = static_cast<int>(n);
  }
  if (j.contains("ignore_eos")) {
    if (!j["ignore_eos"].is_boolean()) return field_error("ignore_eos", "must be true or false");
    r.ignore_eos = j["ignore_eos"].get<bool>();
  }
  VATP_RETURN_IF_ERROR(parse_sampling(j, r.sampling));
  if (j.contains("kv")) VATP_RETURN_IF_ERROR(parse_kv(j["kv"], r.kv, r));
  if (r.kv_scope_context && (r.messages.size() < 2 || r.messages.back().role != "user")) {
    return field_error("kv.scope",
                       "\"context\" needs \"messages\" ending with the user's question after "
                       "the conversation to compress (at least two messages)");
  }
  Result<policy::PolicyConfig> cfg = policy::config_from_flags(r.kv);
  if (!cfg.is_ok()) return cfg.status().with_context("field \"kv\"");
  r.kv_policy = std::move(cfg).value();
  return r;
}

namespace {

std::vector<int32_t> encode_chat(const tokenizer::Tokenizer& tok, const tokenizer::ChatFormat& chat,
                                 const std::vector<tokenizer::ChatMessage>& msgs, bool generation_prompt) {
  const std::string text = tokenizer::apply_chat_template(chat, msgs, generation_prompt);
  return tok.encode(text, /*add_special=*/true, /*parse_special=*/true);
}

// kv.scope "context": the tokens of the last message (and the assistant's header after
// it) are those the conversation before it does not already have. The template must
// render that conversation as a token prefix of the whole; otherwise there is no clean
// cut and the request is refused rather than split somewhere arbitrary.
Result<int64_t> question_tokens(const ParsedRequest& r, const tokenizer::Tokenizer& tok,
                                const tokenizer::ChatFormat& chat, const std::vector<int32_t>& whole) {
  const std::vector<tokenizer::ChatMessage> before(r.messages.begin(), r.messages.end() - 1);
  const std::vector<int32_t> context = encode_chat(tok, chat, before, false);
  if (context.size() >= whole.size() || !std::equal(context.begin(), context.end(), whole.begin()))
    return field_error("kv.scope",
                       "the chat template does not render the conversation before the last message as a "
                       "prefix of the whole, so the question cannot be split off (use \"scope\": \"whole\")");
  return static_cast<int64_t>(whole.size() - context.size());
}

}  // namespace

Result<runtime::Request> engine_request(const ParsedRequest& r, const tokenizer::Tokenizer& tok,
                                        const tokenizer::ChatFormat* chat) {
  runtime::Request out;
  if (r.prompt_ids) {
    for (size_t i = 0; i < r.prompt_ids->size(); ++i) {
      if ((*r.prompt_ids)[i] >= tok.n_vocab())
        return field_error("prompt[" + std::to_string(i) + "]",
                           "token id " + std::to_string((*r.prompt_ids)[i]) + " outside the vocabulary (0.." +
                               std::to_string(tok.n_vocab() - 1) + ")");
    }
    out.prompt = *r.prompt_ids;
  } else if (r.prompt) {
    out.prompt = tok.encode(*r.prompt, /*add_special=*/true, /*parse_special=*/false);
  } else {
    if (chat == nullptr) return invalid_argument("messages need a chat template and none was given");
    out.prompt = encode_chat(tok, *chat, r.messages, true);
    if (r.kv_scope_context) {
      VATP_ASSIGN_OR_RETURN(out.n_question, question_tokens(r, tok, *chat, out.prompt));
    }
  }
  out.max_tokens = r.max_tokens;
  out.sampling = r.sampling;
  out.kv_policy = r.kv_policy;
  out.min_budget = r.kv_min_budget;
  out.ignore_eos = r.ignore_eos;
  return out;
}

}  // namespace vatp::api
