#include "server/scheduler.h"

#include <algorithm>

namespace vatp::server {
namespace {

Event make_event(Event::Kind kind) {
  Event e;
  e.kind = kind;
  return e;
}

Event text_event(std::string text) {
  Event e = make_event(Event::Kind::kText);
  e.text = std::move(text);
  return e;
}

Event error_event(Status st) {
  Event e = make_event(Event::Kind::kError);
  e.status = std::move(st);
  return e;
}

}  // namespace

void Channel::post(Event e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_one();
}

std::optional<Event> Channel::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

struct Scheduler::Pending {
  runtime::Request req;
  SubmitOptions opts;
  std::shared_ptr<Channel> channel;
  Timer since_arrival;
};

namespace {

// A request's log-probabilities, recorded as the engine runs it: the prompt's from its
// prefill rows (echo), each generated token's from the logits it is sampled from.
struct LogprobRecorder {
  int n_top = -1;  // alternatives per token; -1: not recording
  bool prompt_too = false;
  int n_vocab = 0;
  std::vector<int32_t> prompt;
  std::vector<float> logits;  // a copy: sampling may change the engine's in place
  std::vector<TokenLogprobs> prompt_logprobs, logprobs;
  size_t posted = 0;  // logprobs[0, posted) went out with text events

  static TokenLogprobs score(const float* l, int n_vocab, int32_t id, int n_top) {
    const runtime::LogNormalizer z = runtime::log_normalizer(l, n_vocab);
    TokenLogprobs t;
    t.id = id;
    t.logprob = runtime::token_logprob(l, z, id);
    t.top = runtime::top_logprobs(l, n_vocab, z, n_top);
    return t;
  }
  // Row i predicts prompt[i + 1]; the last row's token is generated (on_token).
  void on_prompt_logits(int64_t i, const float* l) {
    if (i == 0) prompt_logprobs.push_back(TokenLogprobs{prompt[0], std::nullopt, {}});
    const size_t next = static_cast<size_t>(i) + 1;
    if (next < prompt.size()) prompt_logprobs.push_back(score(l, n_vocab, prompt[next], n_top));
  }
  void on_logits(const float* l) { logits.assign(l, l + n_vocab); }
  void on_token(int32_t id) {
    if (id != runtime::kFlushId && !logits.empty())
      logprobs.push_back(score(logits.data(), n_vocab, id, n_top));
  }
  // The generated tokens' log-probabilities not yet sent with a piece of text.
  std::vector<TokenLogprobs> take_unposted() {
    std::vector<TokenLogprobs> out(logprobs.begin() + static_cast<std::ptrdiff_t>(posted), logprobs.end());
    posted = logprobs.size();
    return out;
  }
  // Installs the engine callbacks that feed this recorder (it must outlive the request).
  void attach(runtime::Request& r) {
    if (n_top < 0) return;
    r.on_logits = [this](const float* l) { on_logits(l); };
    if (!prompt_too) return;
    prompt = r.prompt;
    r.on_prompt_logits = [this](int64_t i, const float* l) { on_prompt_logits(i, l); };
  }
};

}  // namespace

// A request the engine holds, and what the token callback needs (scheduler thread only).
struct Scheduler::Live {
  int64_t id = 0;
  std::shared_ptr<Channel> channel;
  runtime::StopMatcher stop;
  Timer since_arrival;
  double last_token_at = -1.0;
  LogprobRecorder logprobs;
  bool cache_prompt = false;
  bool prompt_logprobs_early = false;  // still to post (SubmitOptions::prompt_logprobs_early)
  explicit Live(std::vector<std::string> s) : stop(std::move(s)) {}
};

Scheduler::Scheduler(runtime::Engine& engine, Metrics& metrics, std::FILE* log)
    : engine_(engine), metrics_(metrics), log_(log), thread_([this] { loop(); }) {}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

std::shared_ptr<Channel> Scheduler::submit(runtime::Request r, SubmitOptions opts) {
  auto p = std::make_unique<Pending>();
  p->req = std::move(r);
  p->opts = std::move(opts);
  p->channel = std::make_shared<Channel>();
  std::shared_ptr<Channel> ch = p->channel;
  in_flight_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(std::move(p));
  }
  cv_.notify_one();
  return ch;
}

void Scheduler::cancel_all() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_all_ = true;
  }
  cv_.notify_one();
}

void Scheduler::loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Idle: sleep until a submission; with work, wake every 50 ms to notice cancels.
      cv_.wait_for(lock, std::chrono::milliseconds(engine_.idle() ? 50 : 0),
                   [&] { return stop_ || cancel_all_ || !inbox_.empty() || !snapshot_requests_.empty(); });
      if (stop_) break;
    }
    take_submissions();
    answer_snapshots();
    cancel_abandoned();
    Result<bool> more = engine_.step();
    if (!more.is_ok()) {
      // A step failure fails its sequences (Engine reports them as completions).
      metrics_.add_rejected(500);
    }
    deliver_completions();
    publish_gauges();
  }
  for (auto& l : live_) engine_.cancel(l->id);
  deliver_completions();
  answer_snapshots();
}

std::optional<Scheduler::Snapshot> Scheduler::snapshot(std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<Snapshot>>();
  std::future<Snapshot> f = p->get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return std::nullopt;
    snapshot_requests_.push_back(std::move(p));
  }
  cv_.notify_one();
  if (f.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return f.get();
}

void Scheduler::answer_snapshots() {
  std::vector<std::shared_ptr<std::promise<Snapshot>>> asks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    asks.swap(snapshot_requests_);
  }
  if (asks.empty()) return;
  Snapshot snap;
  snap.sequences = engine_.sequences();
  snap.kv_pool_used = engine_.kv_pool().used();
  snap.kv_pool_limit = engine_.kv_pool().limit();
  for (auto& a : asks) a->set_value(snap);
}

void Scheduler::take_submissions() {
  std::deque<std::unique_ptr<Pending>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(inbox_);
  }
  for (auto& p : batch) start(std::move(p));
}

void Scheduler::start(std::unique_ptr<Pending> p) {
  auto live = std::make_unique<Live>(std::move(p->opts.stop));
  live->channel = p->channel;
  live->since_arrival = p->since_arrival;
  live->cache_prompt = p->req.cache_prompt;
  live->prompt_logprobs_early = p->opts.prompt_logprobs_early && p->opts.prompt_logprobs;
  live->logprobs.n_top = p->opts.logprobs;
  live->logprobs.prompt_too = p->opts.prompt_logprobs;
  live->logprobs.n_vocab = engine_.n_vocab();
  live->logprobs.attach(p->req);
  Live* l = live.get();
  Metrics& m = metrics_;
  p->req.on_token = [l, &m](int32_t id, std::string_view piece) {
    if (l->prompt_logprobs_early) {  // the prefill is done: the prompt's are complete
      l->prompt_logprobs_early = false;
      Event e = text_event("");
      e.prompt_logprobs = std::move(l->logprobs.prompt_logprobs);
      l->channel->post(std::move(e));
    }
    l->logprobs.on_token(id);
    const double now = l->since_arrival.seconds();
    if (l->last_token_at < 0) {
      m.observe_first_token(now);
    } else {
      m.observe_inter_token(now - l->last_token_at);
    }
    l->last_token_at = now;
    std::string out = l->stop.push(piece);
    if (!out.empty()) {
      Event e = text_event(std::move(out));
      e.logprobs = l->logprobs.take_unposted();
      l->channel->post(std::move(e));
    }
    // A vanished client is cancelled before the next step (cancel_abandoned), which also
    // keeps its sequence from being held for prompt reuse.
    return !l->stop.stopped();
  };
  const int64_t n_prompt = static_cast<int64_t>(p->req.prompt.size());
  if (engine_.n_waiting() >= engine_.options().max_queue) {
    Event e =
        error_event(resource_exhausted("the queue is full (" + std::to_string(engine_.options().max_queue) +
                                       " requests waiting); retry later"));
    e.queue_full = true;
    p->channel->post(std::move(e));
    in_flight_.fetch_sub(1);
    return;
  }
  Result<int64_t> id = engine_.submit(std::move(p->req));
  if (!id.is_ok()) {
    p->channel->post(error_event(id.status()));
    in_flight_.fetch_sub(1);
    return;
  }
  metrics_.add_prompt_tokens(n_prompt);
  l->id = *id;
  p->channel->post(make_event(Event::Kind::kAccepted));
  live_.push_back(std::move(live));
}

void Scheduler::cancel_abandoned() {
  bool all = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all = cancel_all_;
    cancel_all_ = false;
  }
  for (auto& l : live_) {
    if (all) l->channel->cancel();
    if (l->channel->cancelled()) engine_.cancel(l->id);
  }
}

namespace {

std::string finish_reason(const runtime::Completion& c, bool stopped) {
  if (stopped) return "stop";
  switch (c.stats.stop) {
    case runtime::StopReason::kMaxTokens: return "length";
    case runtime::StopReason::kCancelled:
    case runtime::StopReason::kCallback: return "abort";
    default: return "stop";
  }
}

}  // namespace

void Scheduler::log_finished(const runtime::Completion& c, const std::string& outcome, double seconds) const {
  if (!log_) return;
  const runtime::SessionStats& s = c.stats;
  std::fprintf(log_,
               "vatp serve: request %lld %s: prompt %lld (%lld cached), completion %zu tokens, KV %.1f of "
               "%.1f KiB (%lld evicted), %.2f s\n",
               static_cast<long long>(c.id), outcome.c_str(), static_cast<long long>(s.n_prompt + c.n_cached),
               static_cast<long long>(c.n_cached), c.tokens.size(),
               static_cast<double>(s.kv_bytes_used) / 1024.0, static_cast<double>(s.kv_bytes_full) / 1024.0,
               static_cast<long long>(s.tokens_evicted), seconds);
  std::fflush(log_);
}

void Scheduler::deliver_completions() {
  for (runtime::Completion& c : engine_.take_completed()) {
    auto it = std::find_if(live_.begin(), live_.end(), [&](const auto& l) { return l->id == c.id; });
    if (it == live_.end()) continue;
    Live& l = **it;
    metrics_.add_generation_tokens(static_cast<int64_t>(c.tokens.size()));
    if (!c.status.is_ok()) {
      metrics_.finish("error", c.stats.tokens_evicted, c.stats.kv_bytes_used, c.stats.kv_bytes_full,
                      l.since_arrival.seconds());
      log_finished(c, "error: " + c.status.message(), l.since_arrival.seconds());
      l.channel->post(error_event(c.status));
    } else {
      std::string tail = l.stop.flush();
      if (!tail.empty()) {
        Event e = text_event(std::move(tail));
        e.logprobs = l.logprobs.take_unposted();
        l.channel->post(std::move(e));
      }
      const bool cancelled = l.channel->cancelled();
      if (l.cache_prompt) metrics_.add_prefix_cache(c.stats.n_prompt + c.n_cached, c.n_cached);
      Event done = make_event(Event::Kind::kDone);
      done.text = l.stop.text();
      done.finish_reason = finish_reason(c, l.stop.stopped() && !cancelled);
      metrics_.finish(done.finish_reason, c.stats.tokens_evicted, c.stats.kv_bytes_used,
                      c.stats.kv_bytes_full, l.since_arrival.seconds());
      log_finished(c, done.finish_reason, l.since_arrival.seconds());
      done.completion = std::move(c);
      done.prompt_logprobs = std::move(l.logprobs.prompt_logprobs);
      done.logprobs = std::move(l.logprobs.logprobs);
      l.channel->post(std::move(done));
    }
    live_.erase(it);
    in_flight_.fetch_sub(1);
  }
}

void Scheduler::publish_gauges() {
  EngineGauges g;
  g.running = engine_.n_running();
  g.waiting = engine_.n_waiting();
  g.kv_pool_used = engine_.kv_pool().used();
  g.kv_pool_limit = engine_.kv_pool().limit();
  g.kv_allocated = engine_.kv_bytes_allocated();
  g.held = engine_.n_held();
  g.compressions = engine_.stats().compressions;
  metrics_.set_gauges(g);
}

}  // namespace vatp::server
