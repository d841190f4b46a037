// The server's one scheduler thread: it alone touches the engine (runtime/engine.h is
// single-threaded). HTTP threads hand it requests and read each request's events from a
// Channel; they never block the engine, and the engine never waits on a socket.
//
// A request's life: submit() → the scheduler calls Engine::submit on its thread and
// posts kAccepted (or kError with the refusal) → kText pieces as tokens come (stop
// strings already cut, runtime/stop_strings.h) → kDone with the completion. A client
// that goes away calls Channel::cancel(); the scheduler cancels the sequence before its
// next step, which returns its KV memory at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/timer.h"
#include "runtime/engine.h"
#include "runtime/logprobs.h"
#include "runtime/stop_strings.h"
#include "server/metrics.h"

namespace vatp::server {

// One token's log-probability and its most likely alternatives (OpenAI's logprobs).
struct TokenLogprobs {
  int32_t id = 0;
  std::optional<double> logprob;  // none for the prompt's first token: nothing predicts it
  std::vector<runtime::TokenLogprob> top;
};

struct SubmitOptions {
  std::vector<std::string> stop;
  int logprobs = -1;             // >= 0: each generated token's, with this many alternatives
  bool prompt_logprobs = false;  // and the prompt's (echo), with as many
  // Streaming: the prompt's go out in a text event of their own once the prefill is done
  // (before the first token's), not with kDone.
  bool prompt_logprobs_early = false;
};

struct Event {
  enum class Kind { kAccepted, kText, kDone, kError };
  Kind kind = Kind::kText;
  std::string text;                // kText: a piece; kDone: the whole output (stop strings cut)
  Status status;                   // kError
  bool queue_full = false;         // kError: refused because --max-queue requests wait (503)
  std::string finish_reason;       // kDone: "stop" | "length"
  runtime::Completion completion;  // kDone
  // When asked for: kDone: the prompt's (echo; unless they came early) and every generated
  // token's; kText: those of the tokens whose text this piece releases (streaming sends
  // them with it), or (prompt_logprobs_early) the prompt's, once, with no text.
  std::vector<TokenLogprobs> prompt_logprobs, logprobs;
};

// One request's events, from the scheduler thread to its HTTP thread.
class Channel {
 public:
  void post(Event e);
  // The next event, or nullopt after `timeout` with none.
  std::optional<Event> next(std::chrono::milliseconds timeout);
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  std::atomic<bool> cancelled_{false};
};

class Scheduler {
 public:
  // The engine and metrics must outlive the scheduler; the thread starts here. With a
  // `log`, every finished request writes one line there (id, outcome, tokens, KV, time).
  Scheduler(runtime::Engine& engine, Metrics& metrics, std::FILE* log = nullptr);
  ~Scheduler();  // stops the thread (cancelling what is left)
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request (its callbacks are set here); events arrive on the returned channel.
  std::shared_ptr<Channel> submit(runtime::Request r, SubmitOptions opts);
  // Requests submitted and not yet done (for shutdown: wait until 0).
  int64_t in_flight() const { return in_flight_.load(); }
  // Cancels every request still in flight (end of the shutdown grace period).
  void cancel_all();
  // The engine's sequences and pool, as the scheduler thread sees them between two
  // steps (so within one step's time); nullopt if none came within `timeout`.
  struct Snapshot {
    std::vector<runtime::SequenceInfo> sequences;
    int64_t kv_pool_used = 0, kv_pool_limit = 0;
  };
  std::optional<Snapshot> snapshot(std::chrono::milliseconds timeout);

 private:
  struct Pending;
  struct Live;
  void loop();
  void take_submissions();
  void start(std::unique_ptr<Pending> p);
  void cancel_abandoned();
  void deliver_completions();
  void publish_gauges();
  void answer_snapshots();
  void log_finished(const runtime::Completion& c, const std::string& outcome, double seconds) const;

  runtime::Engine& engine_;
  Metrics& metrics_;
  std::FILE* log_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Pending>> inbox_;
  std::vector<std::shared_ptr<std::promise<Snapshot>>> snapshot_requests_;
  bool stop_ = false, cancel_all_ = false;
  std::atomic<int64_t> in_flight_{0};
  std::vector<std::unique_ptr<Live>> live_;  // scheduler thread only
  std::thread thread_;
};

}  // namespace vatp::server
