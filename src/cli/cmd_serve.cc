// vatp serve: the OpenAI-compatible HTTP server (src/server/, docs/server.md). This file
// holds the flags and the process's life: listen, load the model (503 meanwhile),
// serve, and on SIGINT/SIGTERM stop taking requests, let running ones finish for up to
// --shutdown-timeout seconds, cancel the rest and exit 0.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "cli/command.h"
#include "cli/eval_common.h"
#include "cli/generation_flags.h"
#include "cli/stop_signal.h"
#include "core/malloc_policy.h"
#include "core/timer.h"
#include "runtime/engine.h"
#include "server/http_server.h"
#include "server/scheduler.h"
#include "tokenizer/chat_template.h"

namespace vatp::cli {
namespace {

struct ServeFlags {
  ModelFlags model;
  EngineFlags engine;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key, api_key_file;
  std::string max_body = "8MiB";
  int http_threads = 0;  // 0: 2 × --parallel + 8
  double shutdown_timeout = 30.0;
  std::optional<int> prompt_cache;  // held sequences for prompt reuse; none: --parallel
  std::string alias;                // the model name in /v1/models (default: the file name)
  std::string chat_template;
  server::ServerOptions so;  // defaults (sampling, kv) filled by the flags
};

Result<std::string> read_api_key(const ServeFlags& f) {
  if (!f.api_key.empty() && !f.api_key_file.empty())
    return invalid_argument("give --api-key or --api-key-file, not both");
  if (f.api_key_file.empty()) return f.api_key;
  std::ifstream in(f.api_key_file);
  if (!in) return not_found("--api-key-file: cannot read " + f.api_key_file);
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty())
    return invalid_argument("--api-key-file: " + f.api_key_file + " holds no key on its first line");
  return key;
}

// Everything checked before the socket is bound or the model is read.
Result<server::ServerOptions> server_options(const ServeFlags& f) {
  if (f.model.model.empty()) return invalid_argument("-m MODEL.gguf is required");
  if (f.port < 0 || f.port > 65535)
    return invalid_argument("--port must be in 0..65535, got " + std::to_string(f.port));
  if (f.shutdown_timeout < 0) return invalid_argument("--shutdown-timeout must be >= 0");
  if (f.prompt_cache && *f.prompt_cache < 0)
    return invalid_argument("--prompt-cache must be >= 0, got " + std::to_string(*f.prompt_cache));
  VATP_RETURN_IF_ERROR(engine_options(f.engine, 1).status());
  VATP_RETURN_IF_ERROR(runtime::validate(f.so.defaults.sampling));
  VATP_RETURN_IF_ERROR(policy::config_from_flags(f.so.defaults.kv).status().with_context("--kv-* flags"));
  if (f.so.defaults.max_tokens < 0) return invalid_argument("-n must be >= 0");
  server::ServerOptions o = f.so;
  o.host = f.host;
  o.port = f.port;
  VATP_ASSIGN_OR_RETURN(o.api_key, read_api_key(f));
  VATP_ASSIGN_OR_RETURN(const int64_t body, parse_bytes("--max-body", f.max_body));
  if (body < 1) return invalid_argument("--max-body must be at least 1 byte");
  o.max_body = static_cast<size_t>(body);
  o.http_threads = f.http_threads > 0 ? f.http_threads : 2 * f.engine.parallel + 8;
  if (!f.alias.empty()) {
    o.model_name = f.alias;
  } else {
    const size_t slash = f.model.model.find_last_of('/');
    o.model_name = slash == std::string::npos ? f.model.model : f.model.model.substr(slash + 1);
  }
  return o;
}

// Waits for SIGINT/SIGTERM, then drains: no new requests, running ones get up to the
// grace period, the rest are cancelled.
void wait_and_drain(server::HttpServer& http, server::Scheduler* sched, double grace) {
  while (stop_signal() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::fprintf(stderr, "vatp serve: signal %d, finishing %lld running request(s) (up to %.0f s)\n",
               stop_signal(), static_cast<long long>(sched ? sched->in_flight() : 0), grace);
  http.refuse_new();
  Timer t;
  while (sched && sched->in_flight() > 0 && t.seconds() < grace)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (sched && sched->in_flight() > 0) {
    sched->cancel_all();
    while (sched->in_flight() > 0 && t.seconds() < grace + 5)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  http.stop();
}

Status run_serve(const ServeFlags& f) {
  VATP_ASSIGN_OR_RETURN(server::ServerOptions so, server_options(f));
  std::signal(SIGPIPE, SIG_IGN);  // a vanished client is a failed write, not a dead server
  keep_large_blocks_in_own_mappings();
  catch_stop_signals();
  server::Metrics metrics;
  server::HttpServer http(so, metrics);
  VATP_RETURN_IF_ERROR(http.bind());
  std::thread listener([&http] { http.serve(); });
  std::fprintf(stderr, "vatp serve: listening on http://%s:%d (loading %s)\n", so.host.c_str(), http.port(),
               f.model.model.c_str());
  // The model loads while /health says 503; a load failure ends the process.
  auto fail = [&](const Status& st) {
    http.stop();
    listener.join();
    return st;
  };
  Result<LoadedModel> lm = load_model(f.model);
  if (!lm.is_ok()) return fail(lm.status());
  Result<runtime::EngineOptions> eo = engine_options(f.engine, lm->model->config().n_ctx_train);
  if (!eo.is_ok()) return fail(eo.status());
  eo->max_held = f.prompt_cache.value_or(eo->parallel);
  Result<std::unique_ptr<runtime::Engine>> engine =
      runtime::Engine::create(*lm->model, *lm->tok, *lm->pool, *eo);
  if (!engine.is_ok()) return fail(engine.status());
  Result<tokenizer::ChatFormat> chat = tokenizer::chat_format_for(lm->model->gguf(), f.chat_template);
  if (!chat.is_ok()) return fail(chat.status());
  auto sched = std::make_unique<server::Scheduler>(**engine, metrics, stderr);
  server::ModelContext ctx;
  ctx.tok = lm->tok.get();
  ctx.chat = *chat;
  ctx.scheduler = sched.get();
  ctx.n_ctx = (*eo).n_ctx;
  ctx.default_policy = f.so.defaults.kv.policy;
  http.attach(std::move(ctx));
  std::fprintf(stderr, "vatp serve: ready (%s, context %d, %d parallel, KV memory %s)\n",
               so.model_name.c_str(), (*eo).n_ctx, (*eo).parallel,
               f.engine.kv_memory == "0" ? "unbounded" : f.engine.kv_memory.c_str());
  wait_and_drain(http, sched.get(), f.shutdown_timeout);
  listener.join();
  sched.reset();  // joins the scheduler thread before the engine goes
  std::fprintf(stderr, "vatp serve: stopped\n");
  clear_stop_signal();  // SIGTERM is how a server is meant to end: exit 0
  return Status::ok();
}

}  // namespace

void add_serve_command(CLI::App& app, CommandFn& selected) {
  auto fl = std::make_shared<ServeFlags>();
  fl->so.defaults.max_tokens = 512;
  CLI::App* cmd =
      app.add_subcommand("serve", "OpenAI-compatible HTTP server; each request chooses its KV policy");
  add_model_flags(cmd, fl->model);
  add_engine_flags(cmd, fl->engine);
  cmd->add_option("--host", fl->host, "Address to listen on (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", fl->port, "TCP port (default 8080; 0: any free port, printed)");
  cmd->add_option("--api-key", fl->api_key, "Require Authorization: Bearer KEY (all endpoints but /health)");
  cmd->add_option("--api-key-file", fl->api_key_file, "Read the key from the first line of this file");
  cmd->add_option("--max-body", fl->max_body, "Largest request body, e.g. 8MiB (default); larger gets 413");
  cmd->add_option("--http-threads", fl->http_threads,
                  "Connections served at once (default 2 x --parallel + 8)");
  cmd->add_option("--shutdown-timeout", fl->shutdown_timeout,
                  "Seconds running requests get to finish after SIGINT/SIGTERM (default 30)");
  cmd->add_option("--prompt-cache", fl->prompt_cache,
                  "Finished conversations whose KV caches stay for prompt reuse, within --kv-memory "
                  "(default: --parallel; 0: off)");
  cmd->add_option("--alias", fl->alias, "Model name for /v1/models and responses (default: the file name)");
  cmd->add_option("--chat-template", fl->chat_template, "Template for chat requests (default: the model's)");
  cmd->add_option("-n,--n-predict", fl->so.defaults.max_tokens, "Default max_tokens (default 512)");
  add_sampling_flags(cmd, fl->so.defaults.sampling);
  add_kv_policy_flags(cmd, fl->so.defaults.kv);
  cmd->callback([fl, &selected] { selected = [fl] { return run_serve(*fl); }; });
}

}  // namespace vatp::cli
