// `vatp serve`'s HTTP side (cpp-httplib): routes, authentication, OpenAI request and
// response shapes, streaming as server-sent events. HTTP threads parse, tokenize, queue
// on the Scheduler and stream its events; they never touch the engine. docs/server.md.
//
// The server listens before the model is loaded: /health answers 503 until attach()
// and every model endpoint answers 503 meanwhile.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "api/request_json.h"
#include "core/status.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/scheduler.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace vatp::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port (see HttpServer::port)
  std::string api_key;              // empty: no authentication
  size_t max_body = 8u << 20;       // bytes; larger bodies get 413
  int http_threads = 32;            // concurrent connections served
  api::RequestDefaults defaults;    // the command line's sampling and --kv-* flags
  std::string model_name = "vatp";  // what /v1/models lists and responses echo
};

// What the model endpoints need once the model is loaded (all outlive the server).
struct ModelContext {
  const tokenizer::Tokenizer* tok = nullptr;
  tokenizer::ChatFormat chat;
  Scheduler* scheduler = nullptr;
  int64_t n_ctx = 0;
  std::string default_policy;  // the --kv-* flags' policy name, for usage.kv
};

class HttpServer {
 public:
  HttpServer(ServerOptions opts, Metrics& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the socket; io_error naming host and port if that fails.
  Status bind();
  int port() const { return port_; }
  // Serves until stop(); blocking (run it on its own thread).
  void serve();
  // The model is ready: /health turns 200 and the model endpoints work.
  void attach(ModelContext ctx);
  // Shutdown, first phase: new generation requests get 503, running ones go on.
  void refuse_new() { draining_.store(true); }
  void stop();

 private:
  void middleware();
  void routes();
  // The model context, or nullptr (after a 503) while loading.
  std::shared_ptr<ModelContext> model_or_503(httplib::Response& res) const;
  void generate(Endpoint ep, const httplib::Request& req, httplib::Response& res);
  void slots(const httplib::Request& req, httplib::Response& res);
  void tokenize(const httplib::Request& req, httplib::Response& res);
  void detokenize(const httplib::Request& req, httplib::Response& res);
  ServerOptions opts_;
  Metrics& metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::shared_ptr<ModelContext> model_;  // set once by attach(), read by HTTP threads
  std::atomic<bool> ready_{false}, draining_{false};
  int port_ = 0;
};

}  // namespace vatp::server
