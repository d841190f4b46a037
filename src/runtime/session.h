// A generation session: one model, one KV cache, one sampler. Prefill runs in chunks
// of at most n_batch tokens (prefill_chunk), generation one token per decode_step;
// the two are separate so that KV policies can act between prefill chunks, after
// prefill, and after each decode step.
//
// Positions: n_past() counts the tokens processed since reset(); token i of the
// sequence sits at position i whatever the cache later evicts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "kvcache/kv_cache.h"
#include "model/model.h"
#include "policy/policy.h"
#include "runtime/kv_evictor.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace vatp::runtime {

struct SessionOptions {
  int n_ctx = 4096;   // KV cache capacity in tokens (prompt + generated)
  int n_batch = 256;  // prefill chunk size (rows per forward call); clamped to n_ctx
  kvcache::KvType kv_type = kvcache::KvType::F16;
  SamplerParams sampling;
  // KV compression (src/policy). With an evicting policy, generate() sizes the cache
  // for the policy's budget (not n_ctx) once the prompt length is known.
  policy::PolicyConfig kv_policy;
  // StreamingLLM's cache positions: after every eviction the kept tokens are renumbered
  // 0..n-1 and keys are rotated at those positions (stored unrotated, rotated when
  // attended, so no rounding accumulates); new tokens take position n. With a policy
  // that evicts while decoding, generation can then run past n_ctx.
  bool kv_rerotate = false;
  // Observer of every forward call's intermediate tensors (model::TensorTap); empty: off.
  model::TensorTap tap;
};

// Why generation stopped.
enum class StopReason { kNone, kEndOfGeneration, kMaxTokens, kCallback };
const char* stop_reason_name(StopReason r);  // "none", "eog", "max_tokens", "callback"

// Counters since the last reset(). Extensible: KV policies add to the last group.
struct SessionStats {
  int64_t n_prompt = 0;     // tokens run through prefill
  int64_t n_generated = 0;  // tokens sampled (a final end-of-generation token included)
  int64_t n_decoded = 0;    // decode_step calls (sampled tokens fed back)
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;  // decode_step forward passes
  double sample_seconds = 0.0;  // time inside the sampler
  StopReason stop = StopReason::kNone;

  int64_t kv_bytes_allocated = 0;  // the cache as allocated (K/V + per-slot metadata)
  int64_t kv_bytes_used = 0;       // K/V bytes of the live slots
  int64_t kv_bytes_full = 0;       // K/V bytes a full cache of n_past tokens would hold
  int64_t tokens_evicted = 0;      // (KV policies) slots removed, summed over layers and heads
  double scoring_seconds = 0.0;    // (KV policies) time choosing and applying evictions

  double prefill_tok_per_s() const { return prefill_seconds > 0 ? n_prompt / prefill_seconds : 0.0; }
  double decode_tok_per_s() const { return decode_seconds > 0 ? n_decoded / decode_seconds : 0.0; }
};

// Called for every sampled token with its id and the complete UTF-8 text it finishes
// (possibly empty: a character split over byte tokens waits for its last byte; an
// end-of-generation token is reported with empty text, then generation stops). After
// the loop, text still held back is delivered once with id == kFlushId. Return false
// to stop generating.
using TokenCallback = std::function<bool(int32_t id, std::string_view piece)>;
inline constexpr int32_t kFlushId = -1;

class Session {
 public:
  // Allocates the KV cache (n_ctx slots), forward scratch for n_batch rows and the
  // sampler. Model, tokenizer and pool must outlive the session.
  static Result<std::unique_ptr<Session>> create(const model::Model& model, const tokenizer::Tokenizer& tok,
                                                 ThreadPool& pool, const SessionOptions& opts);

  // out_of_range unless a prompt of n_prompt tokens plus n_predict generated tokens
  // fit in the context after the n_past() tokens already processed (and the prompt
  // alone leaves room). Nothing is computed.
  Status check_fits(int64_t n_prompt, int n_predict) const;

  // Runs ids through the model in chunks of n_batch (prefill_chunk) and leaves the
  // logits of the last token in last_logits().
  Status prefill(std::span<const int32_t> ids);
  // One chunk (1..n_batch tokens) at positions n_past().. ; if want_logits the logits
  // of its last token land in last_logits().
  Status prefill_chunk(std::span<const int32_t> ids, bool want_logits);
  // Picks the next token from last_logits() and records it in the sampler's history.
  int32_t sample_next();
  // The next sample_next() cannot pick these ids (their logits become −inf for that one
  // draw): HF's min_length, e.g. LongBench samsum's "no stop token first".
  void ban_next_tokens(std::span<const int32_t> ids) { banned_next_.assign(ids.begin(), ids.end()); }
  // Feeds one token at position n_past() and leaves its logits in last_logits().
  Status decode_step(int32_t token);

  // The forward pass underneath: 1..n_batch tokens at positions n_past().., logits of
  // the LAST n_logit_rows of them into logits ([n_logit_rows][n_vocab]). For callers
  // that need many rows (perplexity).
  Status eval(std::span<const int32_t> ids, float* logits, int64_t n_logit_rows);

  // check_fits, then prefill, then { sample; callback; stop on EOG, n_predict tokens or
  // a false callback; decode_step }. Prompt tokens enter the repeat-penalty history.
  // Returns the generated ids (a final EOG token included). Stats accumulate.
  Result<std::vector<int32_t>> generate(std::span<const int32_t> prompt, int n_predict,
                                        const TokenCallback& on_token);

  // Decoding after a prefill done elsewhere (prefill, or fork_policy): prompt ids enter
  // the repeat-penalty history, then the loop of generate().
  Result<std::vector<int32_t>> continue_generation(std::span<const int32_t> prompt, int n_predict,
                                                   const TokenCallback& on_token);

  // Sweeps share one prefill among policies whose schedule does not evict during the
  // prefill. prefill_shared runs the whole prompt with no policy on an empty session,
  // gathering the statistics `req` asks for (the union of the policies' requests).
  // fork_policy then makes this (empty) session a copy of `src` under `cfg`: same cache,
  // positions and logits, then the policy's end-of-prefill eviction — the state a
  // prefill under `cfg` would have left (same logits; tests/eval/sweep_test.cc).
  Status prefill_shared(std::span<const int32_t> prompt, const model::AttentionStatsRequest& req);
  Status fork_policy(const Session& src, const policy::PolicyConfig& cfg);

  // Empties the cache, restarts the sampler (same seed) and zeroes the stats.
  void reset();

  int64_t n_past() const { return n_past_; }
  int n_ctx() const { return opts_.n_ctx; }
  int n_batch() const { return opts_.n_batch; }
  int n_vocab() const { return model_.config().n_vocab; }
  const float* last_logits() const { return logits_.data(); }  // [n_vocab]
  const SessionStats& stats() const { return stats_; }
  SessionStats& mutable_stats() { return stats_; }  // for KV policies layered on top
  const kvcache::KvCache& cache() const { return cache_; }
  kvcache::KvCache& cache() { return cache_; }
  Sampler& sampler() { return sampler_; }
  const model::Model& model() const { return model_; }
  const tokenizer::Tokenizer& tokenizer() const { return tok_; }

  // Sets up the KV policy for a prompt of prompt_len tokens: validates the settings,
  // re-allocates the cache for the budget and prepares eviction. generate() calls it;
  // callers driving prefill/decode_step themselves call it first. No-op for "full".
  Status begin_policy(int64_t prompt_len);
  const KvEvictor* evictor() const { return evictor_ ? &*evictor_ : nullptr; }

 private:
  Status evict(policy::Phase phase);
  Session(const model::Model& model, const tokenizer::Tokenizer& tok, ThreadPool& pool,
          const SessionOptions& opts, kvcache::KvCache cache);
  void update_kv_stats();

  const model::Model& model_;
  const tokenizer::Tokenizer& tok_;
  ThreadPool& pool_;
  SessionOptions opts_;
  kvcache::KvCache cache_;
  model::ForwardScratch scratch_;
  Sampler sampler_;
  int64_t n_past_ = 0;
  SessionStats stats_;
  std::vector<float> logits_;         // [n_vocab] logits of the last processed token
  std::vector<int32_t> positions_;    // [n_batch] positions of the chunk being run
  std::vector<int32_t> banned_next_;  // ids sample_next() must not pick, once
  std::optional<KvEvictor> evictor_;
  int64_t prompt_len_ = 0;
  const model::AttentionStatsRequest* stats_override_ = nullptr;  // prefill_shared only
};

}  // namespace vatp::runtime
