// The batched engine: many sequences per forward pass (continuous batching) under a
// byte bound on their KV caches.
//
// Each step() runs one forward call holding the next token of every decoding sequence
// plus prefill pieces of admitted ones, up to batch_tokens rows (chunked prefill: a long
// prompt never stalls the others' decoding); then each sequence samples, evicts at its
// own policy's schedule points and finishes or goes on. Sequences in one step may use
// different policies and budgets.
//
// Admission is FIFO: the oldest waiting request is admitted once its cache's peak size
// (Sequence::plan_cache) fits in the pool; the ones behind it wait. A request that can
// never fit, or arrives at a full queue, is refused at submit().
//
// Prompt reuse: a finished request that asked for it (Request::cache_prompt) leaves its
// sequence held — cache (compressed or not), policy and the tokens it covers — up to
// max_held of them, counted in the pool. A later request whose prompt extends a held
// sequence's tokens (with the same policy) continues that sequence: only the new part is
// prefilled, as a turn of a multi-turn Session (Sequence::continue_with). A full cache is
// also continued from a common prefix of at least half its tokens (rewound to it). Held
// sequences are dropped least recently used first when a request needs their memory.
//
// KV pressure (kv_pressure = kCompress): when the queue head does not fit, running
// sequences whose request allows it (Request::min_budget) are compressed to that budget —
// their policy's own scores decide what goes — largest saving first, just enough that the
// newcomer fits (held sequences are dropped before anyone is compressed). What a
// compressed sequence generates then depends on the load: it opted in.
//
// Batch invariance: a sequence's pieces are cut by its own settings only (n_batch and
// its policy's chunk), never by what else is in the step, and every kernel gives a row
// the same bits whatever else is in the batch, so a sequence's tokens and logits are
// bit-identical to a Session running it alone with the same n_batch (tests/runtime/
// engine_test.cc).
//
// Single-threaded: one thread calls submit/cancel/step (the server's scheduler thread).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "model/model.h"
#include "runtime/kv_pool.h"
#include "runtime/sequence.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace vatp::runtime {

struct EngineOptions {
  int n_ctx = 4096;        // positions per sequence (prompt + generated)
  int parallel = 8;        // sequences running at once
  int batch_tokens = 512;  // prefill rows per step, beside one decode row per sequence
  int n_batch = 256;       // one sequence's prompt tokens per forward call (<= batch_tokens)
  int64_t kv_memory = 0;   // bytes for all live caches (K/V + metadata); 0: no limit
  int max_queue = 1024;    // requests waiting for admission
  kvcache::KvType kv_type = kvcache::KvType::F16;
  bool kv_rerotate = false;  // (prompt reuse is off with rerotation: positions are renumbered)
  int max_held = 0;          // finished sequences held for prompt reuse; 0: none
  enum class KvPressure { kQueue, kCompress } kv_pressure = KvPressure::kQueue;
  std::optional<policy::Budget> default_min_budget;  // for requests without min_budget
};

struct Request {
  std::vector<int32_t> prompt;
  int max_tokens = 128;
  SamplerParams sampling;
  policy::PolicyConfig kv_policy;
  bool ignore_eos = false;  // end-of-generation tokens do not stop it (benchmarks)
  // Prompt reuse: continue a held sequence this prompt extends, and be held when done.
  // (Never with n_question or on_prompt_logits, which need the whole prompt run.)
  bool cache_prompt = false;
  // KV pressure may cut the policy's budget down to this (tokens, or a fraction of the
  // prompt); none: never (unless EngineOptions::default_min_budget). An evicting policy
  // and the whole prompt compressed (n_question 0) only.
  std::optional<policy::Budget> min_budget;
  // HF's min_length (LongBench): while fewer than min_tokens are generated, these ids
  // cannot be sampled.
  int min_tokens = 0;
  std::vector<int32_t> banned_before_min;
  // The question-agnostic protocol (kv.scope "context", kvpress's): the last n_question
  // prompt tokens are the question. With an evicting policy the context before them is
  // compressed as if it were the whole prompt (per chunk with the chunked schedule, and
  // at its end); the question and the generated tokens are then appended uncompressed.
  // 0: the whole prompt is compressed (the VATP paper's protocol).
  int64_t n_question = 0;
  TokenCallback on_token;  // optional: each token's text as it comes; false stops
  // Optional: the logits each token is sampled from ([n_vocab], before sampling).
  std::function<void(const float* logits)> on_logits;
  // Optional: the logits at every prompt position, in order, as the prefill computes
  // them: (i, logits) predicts prompt[i + 1] (the last one, the first generated token).
  // Costs the output projection for every prompt row (echo + logprobs, scoring).
  std::function<void(int64_t i, const float* logits)> on_prompt_logits;
};

struct Completion {
  int64_t id = 0;
  Status status;                // ok, or why this request failed
  std::vector<int32_t> tokens;  // generated ids (a final end-of-generation token included)
  std::string text;             // their text (special tokens not rendered)
  SessionStats stats;
  int64_t kv_bytes_reserved = 0;  // what the pool held for it
  int64_t n_cached = 0;           // prompt tokens a held sequence already had (not prefilled)
  // The cache right after the prompt (its evictions done): K/V bytes live, and what a
  // full cache of the prompt holds.
  int64_t prompt_kv_used = 0, prompt_kv_full = 0;
  double queue_seconds = 0.0;    // submit → admission
  double prefill_seconds = 0.0;  // admission → first token
  double decode_seconds = 0.0;   // first token → done
};

// One request the engine holds, as /slots shows it.
struct SequenceInfo {
  int64_t id = 0;
  // kHeld: finished, its cache kept for prompt reuse (n_prompt: the tokens it covers).
  enum class State { kWaiting, kPrefill, kDecode, kHeld } state = State::kWaiting;
  int64_t n_prompt = 0, prompt_done = 0, n_generated = 0;
  SessionStats stats;             // its sequence's figures so far (zero while waiting)
  int64_t kv_bytes_reserved = 0;  // what the pool holds for it (0 while waiting)
  std::string policy;             // the preset name
  double seconds = 0.0;           // since submit (waiting) or admission
};

struct EngineStats {
  int64_t steps = 0;
  int64_t rows = 0;  // forward rows summed over steps
  int64_t decode_rows = 0;
  int64_t prefill_rows = 0;
  double forward_seconds = 0.0;
  int64_t compressions = 0;  // running sequences compressed under KV pressure
};

class Engine {
 public:
  // Model, tokenizer and pool must outlive the engine.
  static Result<std::unique_ptr<Engine>> create(const model::Model& model, const tokenizer::Tokenizer& tok,
                                                ThreadPool& pool, const EngineOptions& opts);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates and queues a request; its id. invalid_argument / out_of_range for a bad
  // request (empty or too long a prompt, bad policy or sampling settings),
  // resource_exhausted if its cache can never fit in the pool or the queue is full.
  Result<int64_t> submit(Request r);
  // A request whose prompt is already run: `seq` holds it (n_past == prompt size, its
  // logits those of the last prompt token, its policy set up and the prompt's eviction
  // done), e.g. a sweep's fork of a shared prefill (Session::fork_sequence). It waits
  // for admission as any request, then starts decoding; its cache is first cut to what
  // it can reach (its tokens + max_tokens). The same errors as submit().
  Result<int64_t> submit_prefilled(Request r, Sequence seq);
  // Ends a waiting or running request now (stop reason "cancelled"; its memory is
  // returned at once). False if the id is unknown or already done.
  bool cancel(int64_t id);
  // One scheduling step (admission + one forward call). Ok and false when there is
  // nothing to do. A failure of one sequence fails only that request.
  Result<bool> step();
  // Requests finished since the last call, in the order they finished.
  std::vector<Completion> take_completed();

  bool idle() const { return queue_.empty() && active_.empty(); }
  int n_waiting() const { return static_cast<int>(queue_.size()); }
  int n_running() const { return static_cast<int>(active_.size()); }
  const KvPool& kv_pool() const { return kv_pool_; }
  // Every running, waiting and held sequence, in that order (running: admission order;
  // held: least recently used first).
  std::vector<SequenceInfo> sequences() const;
  // Bytes the running and held sequences' caches allocate now (≤ kv_pool().used()).
  int64_t kv_bytes_allocated() const;
  int n_held() const { return static_cast<int>(held_.size()); }
  const EngineStats& stats() const { return stats_; }
  const EngineOptions& options() const { return opts_; }
  int n_vocab() const { return model_.config().n_vocab; }

 private:
  struct Waiting;
  struct Active;
  struct Held;
  struct Reuse;
  Engine(const model::Model& model, const tokenizer::Tokenizer& tok, ThreadPool& pool,
         const EngineOptions& opts);
  SequenceOptions sequence_options(const Request& r) const;
  void admit();
  Status start(Waiting& w);
  Status start_prefilled(Waiting& w);
  std::optional<Reuse> find_reuse(const Waiting& w) const;
  bool make_room(int64_t bytes, const Held* keep);
  bool compress_for(int64_t bytes, const Held* keep);
  Status resume(Waiting& w, std::unique_ptr<Held> h, const Reuse& r);
  void add_active(Waiting& w, Sequence seq, int64_t bytes, int64_t n_cached);
  Status check_request(const Request& r) const;
  Result<int64_t> enqueue(std::unique_ptr<Waiting> w);
  int32_t sample(Active& a);
  void hold(Active& a);
  void drop_oldest_held();
  Status build_step();
  void after_forward(Active& a, double step_seconds);
  int64_t piece_end(const Active& a) const;
  Status after_prefill_piece(Active& a, double step_seconds);
  void after_sample(Active& a, int32_t id);
  void finish(Active& a, StopReason why, Status status = Status::ok());
  void fail_batch(const Status& st);
  void reap();

  const model::Model& model_;
  const tokenizer::Tokenizer& tok_;
  EngineOptions opts_;
  Executor exec_;
  KvPool kv_pool_;
  int64_t next_id_ = 1;
  std::deque<std::unique_ptr<Waiting>> queue_;
  std::vector<std::unique_ptr<Active>> active_;  // admission order
  std::vector<std::unique_ptr<Held>> held_;      // least recently used first
  std::vector<Completion> completed_;
  EngineStats stats_;
  // The step being built: rows and which sequences they belong to.
  std::vector<int32_t> tokens_, positions_;
  std::vector<model::BatchSeq> seqs_;
  std::vector<Active*> in_step_;
  std::vector<float> logits_;  // [parallel × n_vocab]
};

}  // namespace vatp::runtime
