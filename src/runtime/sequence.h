// One sequence's state (one request): its KV cache, KV policy (evictor), sampler,
// positions, logits and counters. It owns no forward-pass resources: an Executor (one
// sequence at a time, as Session does) or the Engine (many per step) runs its rows.
//
// Positions: n_past() counts the tokens processed since the start; token i of the
// sequence sits at position i whatever the cache later evicts (with --kv-rerotate: the
// cache length, renumbered after every eviction).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/status.h"
#include "kvcache/kv_cache.h"
#include "model/batch.h"
#include "model/model.h"
#include "policy/policy.h"
#include "runtime/kv_evictor.h"
#include "runtime/sampler.h"

namespace vatp::runtime {

struct SequenceOptions {
  int n_ctx = 4096;   // positions the sequence may reach (prompt + generated)
  int n_batch = 256;  // prompt tokens per forward call; clamped to n_ctx
  kvcache::KvType kv_type = kvcache::KvType::F16;
  SamplerParams sampling;
  policy::PolicyConfig kv_policy;
  bool kv_rerotate = false;  // see SessionOptions::kv_rerotate
};

// Why generation stopped.
enum class StopReason { kNone, kEndOfGeneration, kMaxTokens, kCallback, kStopString, kCancelled };
// "none", "eog", "max_tokens", "callback", "stop", "cancelled"
const char* stop_reason_name(StopReason r);

// Counters since the start. Extensible: KV policies add to the last group.
struct SessionStats {
  int64_t n_prompt = 0;     // tokens run through prefill
  int64_t n_generated = 0;  // tokens sampled (a final end-of-generation token included)
  int64_t n_decoded = 0;    // decode steps (sampled tokens fed back)
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;  // decode forward passes (batched: the steps it took part in)
  double sample_seconds = 0.0;  // time inside the sampler
  StopReason stop = StopReason::kNone;

  int64_t kv_bytes_allocated = 0;  // the cache as allocated (K/V + per-slot metadata)
  int64_t kv_bytes_used = 0;       // K/V bytes of the live slots
  int64_t kv_bytes_full = 0;       // K/V bytes a full cache of n_past tokens would hold
  int64_t tokens_evicted = 0;      // (KV policies) slots removed, summed over layers and heads
  int64_t kv_compressions = 0;     // times KV pressure cut its budget (Sequence::compress)
  double scoring_seconds = 0.0;    // (KV policies) time choosing and applying evictions

  double prefill_tok_per_s() const { return prefill_seconds > 0 ? n_prompt / prefill_seconds : 0.0; }
  double decode_tok_per_s() const { return decode_seconds > 0 ? n_decoded / decode_seconds : 0.0; }
};

// Checks the options that need no prompt: sizes > 0, sampling ranges, rerotation
// combinations.
Status validate(const SequenceOptions& opts);

// Rerotation with a policy that evicts every decode step keeps positions below the
// budget, so generation is not bounded by the context.
bool decode_unbounded(const SequenceOptions& opts);
// out_of_range unless n_prompt tokens after `start` positions, plus n_predict generated
// ones (unless decode_unbounded), fit in opts.n_ctx (and the prompt alone leaves room).
Status check_context_fits(const SequenceOptions& opts, int64_t start, int64_t n_prompt, int n_predict);

class Sequence {
 public:
  // With an evicting policy the cache is sized by begin_policy() once the prompt length
  // is known; a full cache gets `initial_capacity` slots (n_ctx when 0). statistics =
  // false: a full cache without attention statistics and norms, for a sequence that will
  // never get a policy (the engine's full-cache requests; a policy set later is refused).
  static Result<Sequence> create(const model::Model& model, const SequenceOptions& opts,
                                 int initial_capacity = 0, bool statistics = true);

  // The cache this sequence needs at its peak for a prompt of prompt_len tokens and
  // n_predict generated ones: slots per (layer, KV head) = the policy's budget + chunk,
  // or prompt + n_predict for a full cache (at most n_ctx). Validates the policy.
  struct CachePlan {
    int slots = 0;
    bool per_query_head = false;
    bool statistics = true;  // false for a full cache: nothing scores it
  };
  // With n_question > 0 (Request::n_question) the policy governs the first
  // prompt_len - n_question tokens and the rest, with the generation, come on top.
  static Result<CachePlan> plan_cache(const SequenceOptions& opts, int64_t prompt_len, int n_predict,
                                      int64_t n_question = 0);

  // out_of_range unless n_prompt more tokens plus n_predict generated ones fit in the
  // context after n_past() (and the prompt alone leaves room).
  Status check_fits(int64_t n_prompt, int n_predict) const;
  // Sets up the KV policy for a prompt of prompt_len tokens (validation, cache sized for
  // the budget; with n_predict >= 0 a one-shot policy's cache holds budget + n_predict
  // rather than growing to n_ctx). Before the first token only. No-op for "full".
  // n_appended: tokens that will follow the prompt uncompressed before generation (the
  // question of Request::n_question); the cache holds them and n_predict beside the budget,
  // and nothing is evicted after the prompt (evict() ignores the decode steps).
  Status begin_policy(int64_t prompt_len, int n_predict = -1, int64_t n_appended = 0);
  // Re-allocates a full cache for exactly `slots` slots (before the first token).
  Status resize_cache(int slots);

  // Prompt reuse (the engine's held conversations). The cache a continuation needs at its
  // peak: a sequence whose cache holds `held` tokens per head (at most) after `start`
  // positions, extended by n_new prompt tokens and n_predict generated ones. A policy's
  // budget resolves against the whole prompt (start + n_new), as a fresh request's does.
  static Result<int> plan_continuation(const SequenceOptions& opts, int64_t held, int64_t start,
                                       int64_t n_new, int n_predict);
  // KV pressure (EngineOptions::kv_pressure): the cache this sequence needs from now on
  // if its policy's budget became `cfg`'s (policy::with_token_budget), with n_remaining
  // tokens still to generate; then compress() evicts down to that budget now, by the
  // policy's own scores, and cuts the cache to `slots`. The policy it continues with is
  // `cfg`; options().kv_policy stays what the request asked for.
  Result<int> plan_compression(const policy::PolicyConfig& cfg, int n_remaining) const;
  // What this sequence's cache (its layout) takes at `slots` slots per (layer, head).
  int64_t cache_bytes_at(int slots) const;
  // Cuts the cache to `slots` (at least what it holds) when it has more; a copy.
  Status shrink_cache(int slots);
  Status compress(const policy::PolicyConfig& cfg, int slots);
  // Keeps the first n tokens only (a full cache: no policy ever evicted from it).
  Status rewind(int64_t n);
  // Makes this (finished) sequence the start of a new request with `opts` (the same
  // context, batch, KV type and policy; its own sampling): a fresh sampler, zeroed
  // counters, a policy re-resolved against the whole prompt (begin_turn of n_new tokens),
  // and a cache of at least `capacity` slots.
  Status continue_with(const SequenceOptions& opts, int64_t n_new, int capacity);

  // Multi-turn (Session::append_turn): the next n tokens are one turn's prompt. The first
  // turn sets the policy up (a fractional budget resolves against that turn) with a cache
  // of n_ctx slots, since later turns' lengths are unknown; a policy switched in by
  // set_policy() mid-conversation resolves against the conversation up to the end of the
  // turn it takes effect in. Rows of the turn gather the prefill statistics.
  Status begin_turn(int64_t n);
  // The policy for the turns from the next begin_turn on; the cache is not touched now.
  Status set_policy(const policy::PolicyConfig& cfg);
  // Positions still free for prompt + generated tokens (INT64_MAX when rerotation with a
  // decode-evicting policy keeps positions bounded).
  int64_t positions_left() const;

  // Describes the forward rows for `ids` (1..n_batch tokens at positions from n_past())
  // and writes their positions; `want_logits`: the last row's logits. The caller runs
  // the batch, then calls commit(ids.size()).
  Status prepare_rows(std::span<const int32_t> ids, int32_t* positions, bool want_logits, int64_t row0,
                      model::BatchSeq& out);
  void commit(int64_t n_tokens) { n_past_ += n_tokens; }

  // End of the prompt (windowed scorers' prefill scale), then the policy's evictions.
  void end_prefill();
  Status evict(policy::Phase phase);

  // Picks the next token from logits() and records it in the sampler's history.
  int32_t sample_next();
  // The next sample_next() cannot pick these ids (their logits become −inf once).
  void ban_next_tokens(std::span<const int32_t> ids) { banned_next_.assign(ids.begin(), ids.end()); }

  void reset();  // empties the cache, restarts the sampler (same seed), zeroes the stats
  void update_kv_stats();

  int64_t n_past() const { return n_past_; }
  int64_t prompt_len() const { return prompt_len_; }
  void set_prompt_len(int64_t n) { prompt_len_ = n; }
  const SequenceOptions& options() const { return opts_; }
  SequenceOptions& mutable_options() { return opts_; }
  float* logits() { return logits_.data(); }
  const float* logits() const { return logits_.data(); }
  const SessionStats& stats() const { return stats_; }
  SessionStats& mutable_stats() { return stats_; }
  const kvcache::KvCache& cache() const { return cache_; }
  kvcache::KvCache& cache() { return cache_; }
  void set_cache(kvcache::KvCache c) { cache_ = std::move(c); }
  Sampler& sampler() { return sampler_; }
  const KvEvictor* evictor() const { return evictor_ ? &*evictor_ : nullptr; }
  KvEvictor* mutable_evictor() { return evictor_ ? &*evictor_ : nullptr; }
  void set_evictor(std::optional<KvEvictor> e) { evictor_ = std::move(e); }
  // Prompt tokens per forward call: n_batch, cut at the chunked schedule's boundaries.
  int64_t prefill_piece(int64_t done, int64_t prompt_len) const;
  // Overrides the policy's statistics request (sweeps' shared prefill); nullptr: none.
  void set_stats_override(const model::AttentionStatsRequest* r) { stats_override_ = r; }

 private:
  Sequence(const model::Model& model, const SequenceOptions& opts, kvcache::KvCache cache);
  // Rerotation with a policy that evicts every decode step: positions stay below the budget.

  const model::Model* model_;
  SequenceOptions opts_;
  kvcache::KvCache cache_;
  Sampler sampler_;
  int64_t n_past_ = 0;
  int64_t prompt_len_ = 0;
  bool evict_after_prompt_ = true;  // false with tokens appended whole (begin_policy)
  SessionStats stats_;
  std::vector<float> logits_;         // [n_vocab] logits of the last processed token
  std::vector<int32_t> banned_next_;  // ids sample_next() must not pick, once
  std::optional<KvEvictor> evictor_;
  const model::AttentionStatsRequest* stats_override_ = nullptr;
};

// Shared forward-pass resources: model, thread pool, scratch for the largest step.
// Runs a Batch of any sequences' rows.
class Executor {
 public:
  // max_rows: rows per step; kv_capacity: the largest cache any sequence will have.
  Executor(const model::Model& model, ThreadPool& pool, int max_rows, int kv_capacity, bool kv_rerotate,
           model::TensorTap tap = {});
  Status run(const model::Batch& batch) { return model_.forward(batch, scratch_, pool_); }
  const model::Model& model() const { return model_; }
  ThreadPool& pool() { return pool_; }
  int max_rows() const { return scratch_.max_m(); }
  int kv_capacity() const { return kv_capacity_; }

 private:
  const model::Model& model_;
  ThreadPool& pool_;
  model::ForwardScratch scratch_;
  int kv_capacity_;
};

}  // namespace vatp::runtime
