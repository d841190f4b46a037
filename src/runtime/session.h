// A generation session: one sequence (runtime/sequence.h: KV cache, policy, sampler)
// run on its own executor (scratch, thread pool), for the front ends that drive one
// sequence at a time; the Engine (runtime/engine.h) runs many per step. Prefill runs in chunks
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
#include "runtime/sequence.h"
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
  void ban_next_tokens(std::span<const int32_t> ids) { seq_.ban_next_tokens(ids); }
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

  // Multi-turn conversations (vatp chat, docs/chat.md): each turn's new tokens extend
  // the same sequence, so earlier turns stay in the (compressed) cache and only `ids` is
  // prefilled, at positions n_past().. . The policy's end-of-prefill eviction runs after
  // every turn (Sequence::begin_turn: fractional budgets, cache size). Then
  // continue_generation(ids, ...) answers; the reply's last sampled token is not in the
  // cache: the next turn's ids start with it. Single-shot callers are unaffected.
  Status append_turn(std::span<const int32_t> ids);
  // The policy for the turns from the next append_turn on; nothing is evicted now.
  Status set_policy(const policy::PolicyConfig& cfg);
  // Positions left for prompt + generated tokens (INT64_MAX: unbounded, see check_fits).
  int64_t positions_left() const { return seq_.positions_left(); }
  const policy::PolicyConfig& policy() const { return opts_.kv_policy; }

  // Sweeps share one prefill among policies whose schedule does not evict during the
  // prefill. prefill_shared runs the whole prompt with no policy on an empty session,
  // gathering the statistics `req` asks for (the union of the policies' requests).
  // fork_policy then makes this (empty) session a copy of `src` under `cfg`: same cache,
  // positions and logits, then the policy's end-of-prefill eviction — the state a
  // prefill under `cfg` would have left (same logits; tests/eval/sweep_test.cc).
  Status prefill_shared(std::span<const int32_t> prompt, const model::AttentionStatsRequest& req);
  // The rest of a shared prefill: `tail` after the tokens already run (a copy of another
  // session's shared prefix, copy_sequence_from), gathering what `req` asks for.
  Status continue_shared(std::span<const int32_t> tail, const model::AttentionStatsRequest& req);
  // This session's sequence becomes a copy of `src`'s (same model, context, KV type).
  Status copy_sequence_from(const Session& src);
  Status fork_policy(const Session& src, const policy::PolicyConfig& cfg);
  // The same fork as a Sequence of its own (this session is the source) sampling with
  // `sampling`, for the engine (Engine::submit_prefilled).
  Result<Sequence> fork_sequence(const policy::PolicyConfig& cfg, const SamplerParams& sampling) const;

  // Empties the cache, restarts the sampler (same seed) and zeroes the stats.
  void reset();

  int64_t n_past() const { return seq_.n_past(); }
  int n_ctx() const { return opts_.n_ctx; }
  int n_batch() const { return opts_.n_batch; }
  int n_vocab() const { return model_.config().n_vocab; }
  const float* last_logits() const { return seq_.logits(); }  // [n_vocab]
  const SessionStats& stats() const { return seq_.stats(); }
  SessionStats& mutable_stats() { return seq_.mutable_stats(); }  // for KV policies layered on top
  const kvcache::KvCache& cache() const { return seq_.cache(); }
  kvcache::KvCache& cache() { return seq_.cache(); }
  Sampler& sampler() { return seq_.sampler(); }
  const model::Model& model() const { return model_; }
  const tokenizer::Tokenizer& tokenizer() const { return tok_; }

  // Sets up the KV policy for a prompt of prompt_len tokens: validates the settings,
  // re-allocates the cache for the budget and prepares eviction. generate() calls it;
  // callers driving prefill/decode_step themselves call it first. No-op for "full".
  // With n_predict >= 0 a one-shot policy's cache is sized for budget + n_predict.
  Status begin_policy(int64_t prompt_len, int n_predict = -1, int64_t n_appended = 0);
  const KvEvictor* evictor() const { return seq_.evictor(); }
  const Sequence& sequence() const { return seq_; }

 private:
  Status evict(policy::Phase phase) { return seq_.evict(phase); }
  Session(const model::Model& model, const tokenizer::Tokenizer& tok, ThreadPool& pool,
          const SessionOptions& opts, Sequence seq);

  const model::Model& model_;
  const tokenizer::Tokenizer& tok_;
  SessionOptions opts_;
  Executor exec_;
  Sequence seq_;
  std::vector<int32_t> positions_;  // [n_batch] positions of the chunk being run
};

}  // namespace vatp::runtime
