#include "server/http_server.h"

#include <httplib.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/json_text.h"
#include "core/timer.h"
#include "policy/flags.h"
#include "policy/registry.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace vatp::server {
namespace embedded {
extern const unsigned char k_index[];  // web/index.html (cmake/embed.cmake)
extern const std::size_t k_index_size;
}  // namespace embedded

namespace {

using nlohmann::json;

// GET /v1/kv/policies: the registry's presets (name, description, resolved settings)
// and scorers, so clients (the web page) offer exactly what `kv.policy` accepts.
json policies_json() {
  json presets = json::array(), scorers = json::array();
  for (const policy::PresetInfo& p : policy::presets()) {
    Result<policy::PolicyConfig> c = policy::preset(p.name);
    presets.push_back({{"name", p.name},
                       {"description", p.description},
                       {"settings", c.is_ok() ? policy::describe(*c) : c.status().message()}});
  }
  for (const policy::ScorerInfo& sc : policy::scorers())
    scorers.push_back({{"name", sc.name}, {"description", sc.description}});
  return {{"object", "list"}, {"presets", presets}, {"scorers", scorers}};
}

// OpenAI's error shape: {"error": {"message", "type", "code", "param"}}.
void send_error(httplib::Response& res, int status, const std::string& type, const std::string& code,
                const std::string& message) {
  json e = {{"error", {{"message", message}, {"type", type}, {"code", code}, {"param", nullptr}}}};
  res.status = status;
  res.set_content(e.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_json(httplib::Response& res, const json& j) {
  res.status = 200;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

// Constant-time comparison: the time taken does not depend on where the key differs.
// `key` is not empty; the time depends on the length of `given` only.
bool same_key(const std::string& given, const std::string& key) {
  size_t diff = given.size() ^ key.size();
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i]) ^ static_cast<unsigned char>(key[i % key.size()]);
  return diff == 0;
}

// The HTTP status, OpenAI error type and code for a refused generation request.
void send_status_error(httplib::Response& res, const Status& st, bool queue_full) {
  if (queue_full) {
    res.set_header("Retry-After", "1");
    return send_error(res, 503, "server_error", "queue_full", st.message());
  }
  switch (st.code()) {
    case StatusCode::kOutOfRange:
      return send_error(res, 400, "invalid_request_error", "context_length_exceeded", st.message());
    case StatusCode::kResourceExhausted:
      return send_error(res, 400, "invalid_request_error", "kv_memory_exceeded", st.message());
    case StatusCode::kInvalidArgument:
      return send_error(res, 400, "invalid_request_error", "invalid_value", st.message());
    default: return send_error(res, 500, "server_error", "internal_error", st.message());
  }
}

// A queued generation: how to render it, its events, and the guard that cancels it.
struct Generation {
  ResponseInfo info;
  std::shared_ptr<Channel> channel;
  // Cancels the sequence when the response is dropped before it finished (the client
  // went away): the provider lambdas own it.
  struct CancelOnDrop {
    explicit CancelOnDrop(std::shared_ptr<Channel> c) : ch(std::move(c)) {}
    CancelOnDrop(const CancelOnDrop&) = delete;
    CancelOnDrop& operator=(const CancelOnDrop&) = delete;
    ~CancelOnDrop() { ch->cancel(); }
    std::shared_ptr<Channel> ch;
  };
  std::shared_ptr<CancelOnDrop> guard;
};

std::string sse(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

bool write(httplib::DataSink& sink, const std::string& s) { return sink.write(s.data(), s.size()); }

// Adds one choice's usage into the sum of a batched request's.
void add_usage(json& sum, const json& u) {
  if (sum.is_null()) {
    sum = u;
    return;
  }
  for (const char* k : {"prompt_tokens", "completion_tokens", "total_tokens"})
    sum[k] = sum[k].get<int64_t>() + u[k].get<int64_t>();
  for (auto& [k, v] : sum["kv"].items()) {
    if (v.is_number_integer()) v = v.get<int64_t>() + u["kv"][k].get<int64_t>();
  }
}

// One choice of an SSE response (one prompt): what it has sent so far and how its chunks
// look. Each method returns the chunk to send.
struct SseChoice {
  const ResponseInfo* g;
  size_t index = 0;
  size_t sent_logprobs = 0;  // generated tokens whose logprobs went out with a chunk
  int64_t text_offset = 0;   // completions' logprobs.text_offset of the next token
  // Completions echo + logprobs: the prompt's logprobs exist once the prefill is done, so
  // the echo chunk waits for them (the first event carries them).
  bool echo_pending = false;
  bool done = false;

  json chunk(json choice) const {
    choice["index"] = index;
    json j = envelope(*g, true);
    j["choices"] = json::array({std::move(choice)});
    return j;
  }
  // Chat opens with the assistant's role; completions with echo with the prompt.
  std::optional<json> opening() {
    if (g->ep == Endpoint::kChat) {
      return chunk({{"delta", {{"role", "assistant"}, {"content", ""}}},
                    {"finish_reason", nullptr},
                    {"logprobs", nullptr}});
    }
    if (!g->echo) return std::nullopt;
    if (g->logprobs >= 0) {
      echo_pending = true;
      return std::nullopt;
    }
    if (g->echo_text.empty()) return std::nullopt;
    return chunk(choice_json(*g, g->echo_text, nullptr, true));
  }
  json echo(const std::vector<TokenLogprobs>& prompt) {
    echo_pending = false;
    json c = choice_json(*g, g->echo_text, nullptr, true);
    c["logprobs"] = chunk_logprobs(*g, prompt, &text_offset);
    return chunk(std::move(c));
  }
  json text(const Event& e) {
    json c = choice_json(*g, e.text, nullptr, true);
    if (g->logprobs >= 0) c["logprobs"] = chunk_logprobs(*g, e.logprobs, &text_offset);
    sent_logprobs += e.logprobs.size();
    return chunk(std::move(c));
  }
  // The finish chunk, with the logprobs of tokens a stop string withheld (never sent
  // with a piece).
  json finish(const Event& e) {
    done = true;
    json c = choice_json(*g, "", finish_of(e), true);
    if (g->logprobs >= 0 && sent_logprobs < e.logprobs.size()) {
      const std::vector<TokenLogprobs> rest(e.logprobs.begin() + static_cast<std::ptrdiff_t>(sent_logprobs),
                                            e.logprobs.end());
      c["logprobs"] = chunk_logprobs(*g, rest, &text_offset);
    }
    json j = chunk(std::move(c));
    if (g->include_usage) j["usage"] = nullptr;
    return j;
  }
};

// The chunks one event of choice `c` makes.
std::vector<json> chunks_for(SseChoice& c, const Event& e) {
  std::vector<json> out;
  if (c.echo_pending && (!e.prompt_logprobs.empty() || e.kind == Event::Kind::kDone))
    out.push_back(c.echo(e.prompt_logprobs));
  if (e.kind == Event::Kind::kText && (!e.text.empty() || !e.logprobs.empty())) out.push_back(c.text(e));
  if (e.kind == Event::Kind::kDone) out.push_back(c.finish(e));
  return out;
}

// SSE for one prompt or several (completions; choice i is prompt i, their chunks
// interleaved as they come): the opening chunks, a chunk per text piece, each finish
// chunk, the summed usage if asked, then [DONE]. An error in any ends the response
// (the others are cancelled when it is dropped). While nothing comes, an SSE comment
// every second finds a vanished client.
bool stream_events(const std::vector<std::shared_ptr<Generation>>& gens, httplib::DataSink& sink) {
  const ResponseInfo& g = gens.front()->info;
  std::vector<SseChoice> cs;
  for (size_t i = 0; i < gens.size(); ++i) cs.push_back(SseChoice{&gens[i]->info, i});
  for (SseChoice& c : cs) {
    if (std::optional<json> o = c.opening(); o && !write(sink, sse(*o))) return false;
  }
  const auto wait = std::chrono::milliseconds(gens.size() == 1 ? 1000 : 20);
  json usage;
  size_t open = gens.size();
  Timer quiet;
  while (open > 0) {
    for (size_t i = 0; i < gens.size() && open > 0; ++i) {
      if (cs[i].done) continue;
      std::optional<Event> e = gens[i]->channel->next(wait);
      if (!e) continue;
      quiet.reset();
      if (e->kind == Event::Kind::kError) {
        const Status st =
            gens.size() > 1 ? e->status.with_context("prompt[" + std::to_string(i) + "]") : e->status;
        write(sink, sse(error_body(st)));
        open = 0;
        usage = nullptr;
        break;
      }
      for (const json& j : chunks_for(cs[i], *e)) {
        if (!write(sink, sse(j))) return false;
      }
      if (e->kind == Event::Kind::kDone) {
        add_usage(usage, usage_json(e->completion, g.policy));
        --open;
      }
    }
    if (quiet.seconds() >= 1.0) {
      if (!write(sink, ": keep-alive\n\n")) return false;
      quiet.reset();
    }
  }
  if (g.include_usage && !usage.is_null()) {
    json u = envelope(g, true);
    u["choices"] = json::array();
    u["usage"] = std::move(usage);
    write(sink, sse(u));
  }
  write(sink, "data: [DONE]\n\n");
  sink.done();
  return true;
}

// Non-streaming: the JSON body at the end. While waiting, a space every half second
// (JSON allows leading whitespace) finds a vanished client so its sequence is cancelled.
bool respond_when_done(const Generation& gen, httplib::DataSink& sink) {
  const ResponseInfo& g = gen.info;
  while (true) {
    std::optional<Event> e = gen.channel->next(std::chrono::milliseconds(500));
    if (!e) {
      if (!write(sink, " ")) return false;
      continue;
    }
    if (e->kind == Event::Kind::kText) continue;
    const json body = e->kind == Event::Kind::kDone ? final_response(g, *e) : error_body(e->status);
    write(sink, body.dump(-1, ' ', false, json::error_handler_t::replace));
    sink.done();
    return true;
  }
}

}  // namespace

HttpServer::HttpServer(ServerOptions opts, Metrics& metrics)
    : opts_(std::move(opts)), metrics_(metrics), http_(std::make_unique<httplib::Server>()) {
  routes();
}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::bind() {
  if (opts_.port == 0) {
    port_ = http_->bind_to_any_port(opts_.host);
    if (port_ <= 0) return io_error("cannot listen on " + opts_.host + " (any port)");
    return Status::ok();
  }
  if (!http_->bind_to_port(opts_.host, opts_.port))
    return io_error("cannot listen on " + opts_.host + ":" + std::to_string(opts_.port) +
                    " (in use, or not an address of this machine?)");
  port_ = opts_.port;
  return Status::ok();
}

void HttpServer::serve() { http_->listen_after_bind(); }

void HttpServer::attach(ModelContext ctx) {
  std::atomic_store(&model_, std::make_shared<ModelContext>(std::move(ctx)));
  ready_.store(true);
}

void HttpServer::stop() {
  if (http_) http_->stop();
}

// Limits, authentication, and the error and exception handlers every route shares.
void HttpServer::middleware() {
  httplib::Server& s = *http_;
  const int threads = std::max(opts_.http_threads, 4);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(opts_.max_body);
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);

  // /health and the page itself (static; it sends the key the user types) need no key.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (opts_.api_key.empty() || req.path == "/health" || req.path == "/")
      return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.rfind(prefix, 0) == 0 && same_key(auth.substr(prefix.size()), opts_.api_key))
      return httplib::Server::HandlerResponse::Unhandled;
    metrics_.add_rejected(401);
    send_error(res, 401, "invalid_request_error", "invalid_api_key",
               auth.empty() ? "missing API key (Authorization: Bearer KEY)" : "invalid API key");
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    metrics_.add_rejected(res.status);
    if (res.status == 413) {
      send_error(res, 413, "invalid_request_error", "body_too_large",
                 "the request body is over --max-body (" + std::to_string(opts_.max_body) + " bytes)");
    } else if (res.status == 404) {
      send_error(res, 404, "invalid_request_error", "not_found", "no such endpoint");
    } else {
      send_error(res, res.status, "invalid_request_error", "http_error",
                 "HTTP error " + std::to_string(res.status));
    }
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, "server_error", "internal_error", what);
  });
}

void HttpServer::routes() {
  middleware();
  httplib::Server& s = *http_;
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(reinterpret_cast<const char*>(embedded::k_index), embedded::k_index_size,
                    "text/html; charset=utf-8");
  });
  s.Get("/v1/kv/policies",
        [](const httplib::Request&, httplib::Response& res) { send_json(res, policies_json()); });
  s.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (!ready_.load()) return send_error(res, 503, "server_error", "loading", "the model is loading");
    send_json(res, {{"status", "ok"}});
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4");
  });
  s.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    send_json(
        res,
        {{"object", "list"},
         {"data",
          json::array(
              {{{"id", opts_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "vatp"}}})}});
  });
  auto gen = [this](Endpoint ep) {
    return [this, ep](const httplib::Request& req, httplib::Response& res) { generate(ep, req, res); };
  };
  s.Post("/v1/chat/completions", gen(Endpoint::kChat));
  s.Post("/v1/completions", gen(Endpoint::kCompletions));
  s.Get("/slots", [this](const httplib::Request& req, httplib::Response& res) { slots(req, res); });
  s.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) { tokenize(req, res); });
  s.Post("/detokenize",
         [this](const httplib::Request& req, httplib::Response& res) { detokenize(req, res); });
}

std::shared_ptr<ModelContext> HttpServer::model_or_503(httplib::Response& res) const {
  std::shared_ptr<ModelContext> m = std::atomic_load(&model_);
  if (!m) {
    res.set_header("Retry-After", "5");
    send_error(res, 503, "server_error", "loading", "the model is loading");
  }
  return m;
}

namespace {

// The body as an OpenAiRequest, or the 400 already sent.
std::optional<OpenAiRequest> parse_or_400(const httplib::Request& req, Endpoint ep,
                                          const api::RequestDefaults& defaults, Metrics& metrics,
                                          httplib::Response& res) {
  Result<json> body = parse_json_text(req.body);
  if (!body.is_ok()) {
    metrics.add_rejected(400);
    send_error(res, 400, "invalid_request_error", "invalid_json", body.status().message());
    return std::nullopt;
  }
  Result<OpenAiRequest> r = parse_openai_request(*body, ep, defaults);
  if (!r.is_ok()) {
    metrics.add_rejected(400);
    send_error(res, 400, "invalid_request_error", "invalid_value", r.status().message());
    return std::nullopt;
  }
  return std::move(r).value();
}

// The text echo puts before the completion: the prompt as given, or its ids decoded.
std::string echo_text(bool echo, const api::ParsedRequest& r, const tokenizer::Tokenizer& tok) {
  if (!echo) return {};
  if (r.prompt) return *r.prompt;
  if (!r.prompt_ids) return {};
  Result<std::string> text = tok.decode(*r.prompt_ids, /*special=*/true);
  return text.is_ok() ? *text : std::string();
}

// What every response chunk of this request carries (its id, model, options).
ResponseInfo response_info(Endpoint ep, const OpenAiRequest& r, const ModelContext& m,
                           const std::string& alias) {
  static std::atomic<int64_t> next_id{1};
  ResponseInfo info;
  info.ep = ep;
  info.id = std::string(ep == Endpoint::kChat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id.fetch_add(1));
  info.model = r.model.empty() ? alias : r.model;
  info.created = static_cast<int64_t>(std::time(nullptr));
  info.include_usage = r.include_usage;
  info.policy = r.req.kv.policy;
  info.logprobs = r.logprobs;
  info.echo = r.echo;
  info.tok = m.tok;
  return info;
}

// Several prompts (completions): one body when all are done, choices in prompt order,
// usage summed; a space every half second meanwhile, as for one prompt.
bool respond_batch_when_done(const std::vector<std::shared_ptr<Generation>>& gens, httplib::DataSink& sink) {
  json choices = json::array(), usage;
  for (size_t i = 0; i < gens.size(); ++i) {
    while (true) {
      std::optional<Event> e = gens[i]->channel->next(std::chrono::milliseconds(500));
      if (!e) {
        if (!write(sink, " ")) return false;
        continue;
      }
      if (e->kind == Event::Kind::kText) continue;
      if (e->kind == Event::Kind::kError) {
        write(sink, error_body(e->status.with_context("prompt[" + std::to_string(i) + "]")).dump());
        sink.done();
        return true;
      }
      json one = final_response(gens[i]->info, *e);
      json c = std::move(one["choices"][0]);
      c["index"] = i;
      choices.push_back(std::move(c));
      add_usage(usage, one["usage"]);
      break;
    }
  }
  json body = envelope(gens[0]->info, false);
  body["choices"] = std::move(choices);
  body["usage"] = std::move(usage);
  write(sink, body.dump(-1, ' ', false, json::error_handler_t::replace));
  sink.done();
  return true;
}

}  // namespace

// Parse, tokenize, queue; then answer when the scheduler has accepted or refused it, so
// a refusal gets its HTTP status even for a streaming request.
void HttpServer::generate(Endpoint ep, const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<ModelContext> m = model_or_503(res);
  if (!m) return;
  if (draining_.load()) {
    metrics_.add_rejected(503);
    return send_error(res, 503, "server_error", "shutting_down", "the server is shutting down");
  }
  std::optional<OpenAiRequest> r = parse_or_400(req, ep, opts_.defaults, metrics_, res);
  if (!r) return;
  const ResponseInfo info = response_info(ep, *r, *m, opts_.model_name);
  std::vector<std::shared_ptr<Generation>> gens;
  const std::vector<api::ParsedRequest> one{r->req};
  const std::vector<api::ParsedRequest>& prompts = r->batch.empty() ? one : r->batch;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Result<runtime::Request> rq = api::engine_request(prompts[i], *m->tok, &m->chat);
    if (!rq.is_ok()) {
      metrics_.add_rejected(400);
      const Status st =
          prompts.size() > 1 ? rq.status().with_context("prompt[" + std::to_string(i) + "]") : rq.status();
      return send_error(res, 400, "invalid_request_error", "invalid_value", st.message());
    }
    rq->cache_prompt = r->cache_prompt;
    auto g = std::make_shared<Generation>();
    g->info = info;
    g->info.echo_text = echo_text(r->echo, prompts[i], *m->tok);
    const bool prompt_logprobs = r->echo && r->logprobs >= 0;
    g->channel = m->scheduler->submit(
        std::move(rq).value(),
        SubmitOptions{r->stop, r->logprobs, prompt_logprobs, prompt_logprobs && r->stream});
    g->guard = std::make_shared<Generation::CancelOnDrop>(g->channel);
    gens.push_back(std::move(g));
  }
  // Every prompt accepted, or the first refusal answers (the others are cancelled).
  for (const auto& g : gens) {
    std::optional<Event> first;
    while (!(first = g->channel->next(std::chrono::milliseconds(1000)))) {
    }
    if (first->kind == Event::Kind::kError) {
      const int status = first->queue_full ? 503 : first->status.code() == StatusCode::kInternal ? 500 : 400;
      metrics_.add_rejected(status);
      return send_status_error(res, first->status, first->queue_full);
    }
  }
  if (r->stream) {
    res.set_chunked_content_provider(
        "text/event-stream", [gens](size_t, httplib::DataSink& sink) { return stream_events(gens, sink); });
    res.set_header("Cache-Control", "no-cache");
  } else if (gens.size() > 1) {
    res.set_chunked_content_provider("application/json", [gens](size_t, httplib::DataSink& sink) {
      return respond_batch_when_done(gens, sink);
    });
  } else {
    res.set_chunked_content_provider("application/json", [g = gens.front()](size_t, httplib::DataSink& sink) {
      return respond_when_done(*g, sink);
    });
  }
}

// GET /slots → {"slots": [...], "kv_pool": {"reserved_bytes", "limit_bytes"}}: every
// request the engine holds, running ones first.
void HttpServer::slots(const httplib::Request&, httplib::Response& res) {
  std::shared_ptr<ModelContext> m = model_or_503(res);
  if (!m) return;
  std::optional<Scheduler::Snapshot> snap = m->scheduler->snapshot(std::chrono::seconds(30));
  if (!snap) return send_error(res, 503, "server_error", "busy", "no snapshot from the scheduler in 30 s");
  json list = json::array();
  for (const runtime::SequenceInfo& i : snap->sequences) list.push_back(slot_json(i));
  send_json(res,
            {{"slots", list},
             {"kv_pool", {{"reserved_bytes", snap->kv_pool_used}, {"limit_bytes", snap->kv_pool_limit}}}});
}

// POST /tokenize {"content": "...", "add_special": bool} → {"tokens": [...]}
void HttpServer::tokenize(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<ModelContext> m = model_or_503(res);
  if (!m) return;
  Result<json> body = parse_json_text(req.body);
  if (!body.is_ok())
    return send_error(res, 400, "invalid_request_error", "invalid_json", body.status().message());
  const json& b = *body;
  if (!b.is_object() || !b.contains("content") || !b["content"].is_string())
    return send_error(res, 400, "invalid_request_error", "invalid_value",
                      "field \"content\": must be a string");
  bool add_special = false;
  if (b.contains("add_special")) {
    if (!b["add_special"].is_boolean())
      return send_error(res, 400, "invalid_request_error", "invalid_value",
                        "field \"add_special\": must be true or false");
    add_special = b["add_special"].get<bool>();
  }
  send_json(res, {{"tokens",
                   m->tok->encode(b["content"].get<std::string>(), add_special, /*parse_special=*/true)}});
}

// POST /detokenize {"tokens": [...]} → {"content": "..."}
void HttpServer::detokenize(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<ModelContext> m = model_or_503(res);
  if (!m) return;
  Result<json> body = parse_json_text(req.body);
  if (!body.is_ok())
    return send_error(res, 400, "invalid_request_error", "invalid_json", body.status().message());
  const json& b = *body;
  if (!b.is_object() || !b.contains("tokens") || !b["tokens"].is_array())
    return send_error(res, 400, "invalid_request_error", "invalid_value",
                      "field \"tokens\": must be a list of token ids");
  std::vector<int32_t> ids;
  for (const json& t : b["tokens"]) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= m->tok->n_vocab())
      return send_error(
          res, 400, "invalid_request_error", "invalid_value",
          "field \"tokens\": ids must be integers in 0.." + std::to_string(m->tok->n_vocab() - 1));
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  Result<std::string> text = m->tok->decode(ids, /*special=*/true);
  if (!text.is_ok())
    return send_error(res, 400, "invalid_request_error", "invalid_value", text.status().message());
  send_json(res, {{"content", *text}});
}

}  // namespace vatp::server
