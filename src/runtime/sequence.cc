#include "runtime/sequence.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/timer.h"

namespace vatp::runtime {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kNone: return "none";
    case StopReason::kEndOfGeneration: return "eog";
    case StopReason::kMaxTokens: return "max_tokens";
    case StopReason::kCallback: return "callback";
    case StopReason::kStopString: return "stop";
    case StopReason::kCancelled: return "cancelled";
  }
  return "?";
}

Status validate(const SequenceOptions& opts) {
  if (opts.n_ctx <= 0) return invalid_argument("context size must be > 0, got " + std::to_string(opts.n_ctx));
  if (opts.n_batch <= 0)
    return invalid_argument("batch size must be > 0, got " + std::to_string(opts.n_batch));
  VATP_RETURN_IF_ERROR(validate(opts.sampling));
  if (opts.kv_rerotate && opts.kv_policy.evict && opts.kv_policy.schedule == policy::Schedule::kChunked &&
      opts.kv_policy.scorer == policy::Scorer::kWindowAttention) {
    // The prompt window is given in original positions, which rerotation renumbers
    // after every chunk.
    return invalid_argument("--kv-rerotate cannot be combined with a windowed scorer (" +
                            opts.kv_policy.name + ") under the chunked schedule; use oneshot or continuous");
  }
  return Status::ok();
}

Result<Sequence> Sequence::create(const model::Model& model, const SequenceOptions& opts_in,
                                  int initial_capacity, bool statistics) {
  SequenceOptions opts = opts_in;
  VATP_RETURN_IF_ERROR(validate(opts));
  opts.n_batch = std::min(opts.n_batch, opts.n_ctx);
  // With an evicting policy the real cache is sized by begin_policy() once the prompt
  // length is known; allocating n_ctx slots here would defeat the memory bound.
  int cap = initial_capacity > 0 ? std::min(initial_capacity, opts.n_ctx) : opts.n_ctx;
  if (opts.kv_policy.evict) cap = 1;
  kvcache::KvCacheConfig cc = model.cache_config(cap, opts.kv_type);
  cc.statistics = statistics || opts.kv_policy.evict;
  VATP_ASSIGN_OR_RETURN(kvcache::KvCache cache, kvcache::KvCache::create(cc));
  return Sequence(model, opts, std::move(cache));
}

Sequence::Sequence(const model::Model& model, const SequenceOptions& opts, kvcache::KvCache cache)
    : model_(&model),
      opts_(opts),
      cache_(std::move(cache)),
      sampler_(model.config().n_vocab, opts.sampling),
      logits_(static_cast<size_t>(model.config().n_vocab), 0.0f) {
  update_kv_stats();
}

namespace {

// The evictor's peak, tightened by a known generation length: a one-shot policy's cache
// grows from its budget by one slot per generated token, not up to the context. With
// n_appended tokens kept whole after the prompt (nothing evicted after it): the prompt's
// own peak (budget + chunk when chunked, else the whole prompt), or the budget plus what
// is appended and generated, whichever is more.
int64_t peak_slots(const KvEvictor& e, int64_t prompt_len, int n_predict, int64_t n_ctx, int64_t n_appended) {
  if (n_appended > 0) {
    const policy::PolicyConfig& c = e.config();
    const int64_t during =
        c.schedule == policy::Schedule::kChunked ? e.split().total + std::max(c.chunk, 1) : prompt_len;
    return std::min(n_ctx, std::max(during, e.split().total + n_appended + std::max(n_predict, 0)));
  }
  int64_t cap = std::min<int64_t>(e.capacity(), n_ctx);
  if (n_predict >= 0 && e.config().schedule == policy::Schedule::kOneShot)
    cap = std::min(cap, std::max(prompt_len, e.split().total + n_predict));
  return cap;
}

}  // namespace

Result<Sequence::CachePlan> Sequence::plan_cache(const SequenceOptions& opts, int64_t prompt_len,
                                                 int n_predict, int64_t n_question) {
  if (!opts.kv_policy.evict)
    return CachePlan{static_cast<int>(std::min<int64_t>(prompt_len + n_predict, opts.n_ctx)), false, false};
  const int64_t context = prompt_len - n_question;
  VATP_ASSIGN_OR_RETURN(KvEvictor e, KvEvictor::create(opts.kv_policy, context, opts.n_ctx));
  return CachePlan{static_cast<int>(peak_slots(e, context, n_predict, opts.n_ctx, n_question)),
                   e.per_query_head()};
}

void Sequence::reset() {
  cache_.clear();
  sampler_.reset();
  evictor_.reset();
  evict_after_prompt_ = true;
  n_past_ = 0;
  stats_ = SessionStats{};
  std::fill(logits_.begin(), logits_.end(), 0.0f);
  update_kv_stats();
}

void Sequence::update_kv_stats() {
  stats_.kv_bytes_allocated = static_cast<int64_t>(cache_.bytes_allocated());
  stats_.kv_bytes_used = static_cast<int64_t>(cache_.kv_bytes_used());
  stats_.kv_bytes_full = static_cast<int64_t>(cache_.kv_bytes_per_token()) * n_past_;
}

bool decode_unbounded(const SequenceOptions& opts) {
  return opts.kv_rerotate && opts.kv_policy.evict &&
         policy::evicts_at(opts.kv_policy, policy::Phase::kDecodeStep);
}

Status check_context_fits(const SequenceOptions& opts, int64_t start, int64_t n_prompt, int n_predict) {
  const int64_t ctx = opts.n_ctx;
  if (start + n_prompt >= ctx || (!decode_unbounded(opts) && start + n_prompt + n_predict > ctx)) {
    return out_of_range(
        "the prompt (" + std::to_string(n_prompt) + " tokens" +
        (start > 0 ? ", after " + std::to_string(start) + " already in the cache" : std::string()) +
        ") plus " + std::to_string(n_predict) + " tokens to generate do not fit in the context of " +
        std::to_string(ctx) + " tokens (raise -c or shorten the prompt / -n)");
  }
  return Status::ok();
}

Status Sequence::check_fits(int64_t n_prompt, int n_predict) const {
  // With rerotation positions are cache positions (prepare_rows): the tokens held count,
  // not those seen (the same before the first eviction).
  const int64_t start = opts_.kv_rerotate ? cache_.max_length() : n_past_;
  return check_context_fits(opts_, start, n_prompt, n_predict);
}

Status Sequence::begin_policy(int64_t prompt_len, int n_predict, int64_t n_appended) {
  evictor_.reset();
  prompt_len_ = prompt_len;
  evict_after_prompt_ = n_appended == 0;
  if (!opts_.kv_policy.evict) return Status::ok();
  VATP_ASSIGN_OR_RETURN(KvEvictor e, KvEvictor::create(opts_.kv_policy, prompt_len, opts_.n_ctx));
  if (n_past_ != 0) return invalid_argument("a KV policy must be set up before the first token");
  // The cache holds the policy's peak, not the context: this is where memory is saved.
  const int64_t cap = peak_slots(e, prompt_len, n_predict, opts_.n_ctx, n_appended);
  VATP_ASSIGN_OR_RETURN(cache_, model_->make_cache(static_cast<int>(cap), opts_.kv_type, e.per_query_head()));
  evictor_.emplace(std::move(e));
  update_kv_stats();
  return Status::ok();
}

Status Sequence::resize_cache(int slots) {
  if (n_past_ != 0) return invalid_argument("the cache can only be resized before the first token");
  kvcache::KvCacheConfig cc = cache_.config();
  cc.capacity = slots;
  VATP_ASSIGN_OR_RETURN(cache_, kvcache::KvCache::create(cc));
  update_kv_stats();
  return Status::ok();
}

Result<int> Sequence::plan_continuation(const SequenceOptions& opts, int64_t held, int64_t start,
                                        int64_t n_new, int n_predict) {
  const int64_t ctx = opts.n_ctx;
  if (!opts.kv_policy.evict) return static_cast<int>(std::min(ctx, start + n_new + n_predict));
  VATP_ASSIGN_OR_RETURN(KvEvictor e, KvEvictor::create(opts.kv_policy, start + n_new, ctx));
  const policy::PolicyConfig& c = e.config();
  const int64_t budget = e.split().total;
  // The prefill appends the turn onto what is held; the chunked schedule evicts back to
  // the budget after every chunk of it, the others only at its end.
  const int64_t prefill = c.schedule == policy::Schedule::kChunked
                              ? std::min(held + n_new, std::max(held, budget) + std::max(c.chunk, 1))
                              : held + n_new;
  // Decoding starts from at most the budget and grows by a slot per token: up to one over
  // the budget (it evicts every step), or (one-shot) by every generated token.
  const int64_t start_len = std::min(held + n_new, budget);
  const int64_t grown = start_len + std::max(n_predict, 1);
  const int64_t decode = c.schedule == policy::Schedule::kOneShot ? grown : std::min(grown, budget + 1);
  return static_cast<int>(std::min(ctx, std::max(prefill, decode)));
}

Result<int> Sequence::plan_compression(const policy::PolicyConfig& cfg, int n_remaining) const {
  if (!evictor_) return invalid_argument("only a sequence with an evicting policy can be compressed");
  VATP_ASSIGN_OR_RETURN(KvEvictor e, KvEvictor::create(cfg, prompt_len_, opts_.n_ctx));
  // From the budget: a chunk at a time (chunked), every token left (one-shot, decoding:
  // it never evicts again), or one slot over it (continuous).
  const policy::Schedule s = cfg.schedule;
  const int64_t over = s == policy::Schedule::kChunked   ? std::max(cfg.chunk, 1)
                       : s == policy::Schedule::kOneShot ? std::max(n_remaining, 1)
                                                         : 1;
  return static_cast<int>(std::min<int64_t>(opts_.n_ctx, e.split().total + over));
}

int64_t Sequence::cache_bytes_at(int slots) const {
  kvcache::KvCacheConfig cc = cache_.config();
  cc.capacity = slots;
  return static_cast<int64_t>(kvcache::KvCache::bytes_for(cc));
}

Status Sequence::shrink_cache(int slots) {
  if (slots >= cache_.capacity()) return Status::ok();
  VATP_ASSIGN_OR_RETURN(cache_, cache_.with_capacity(slots));
  update_kv_stats();
  return Status::ok();
}

Status Sequence::compress(const policy::PolicyConfig& cfg, int slots) {
  if (!evictor_) return invalid_argument("only a sequence with an evicting policy can be compressed");
  Timer t;
  VATP_ASSIGN_OR_RETURN(KvEvictor e, KvEvictor::create(cfg, prompt_len_, opts_.n_ctx));
  VATP_ASSIGN_OR_RETURN(int64_t removed, e.maybe_evict(policy::Phase::kPrefillEnd, cache_));
  if (cache_.max_length() > slots)
    return internal_error("compressed to " + std::to_string(cache_.max_length()) + " tokens, above " +
                          std::to_string(slots) + " slots");
  if (opts_.kv_rerotate && removed > 0) cache_.renumber_positions();
  VATP_RETURN_IF_ERROR(shrink_cache(slots));
  evictor_.emplace(std::move(e));
  stats_.tokens_evicted += removed;
  stats_.kv_compressions += 1;
  stats_.scoring_seconds += t.seconds();
  update_kv_stats();
  return Status::ok();
}

Status Sequence::rewind(int64_t n) {
  if (evictor_ || stats_.tokens_evicted > 0)
    return invalid_argument("only a full cache can be rewound (a policy has evicted from this one)");
  if (n < 0 || n > n_past_)
    return out_of_range("cannot rewind " + std::to_string(n_past_) + " tokens to " + std::to_string(n));
  std::vector<kvcache::HeadKeep> keep;
  const kvcache::KvCacheConfig& c = cache_.config();
  for (int l = 0; l < c.n_layers; ++l) {
    for (int h = 0; h < c.n_kv_heads; ++h) {
      kvcache::HeadKeep hk{l, h, {}};
      const int32_t* pos = cache_.pos(l, h);
      for (int s = 0; s < cache_.length(l, h); ++s) {
        if (pos[s] < n) hk.keep.push_back(s);
      }
      keep.push_back(std::move(hk));
    }
  }
  VATP_RETURN_IF_ERROR(cache_.apply(keep));
  n_past_ = n;
  prompt_len_ = std::min(prompt_len_, n);
  update_kv_stats();
  return Status::ok();
}

Status Sequence::continue_with(const SequenceOptions& next, int64_t n_new, int capacity) {
  if (next.n_ctx != opts_.n_ctx || next.n_batch != opts_.n_batch || next.kv_type != opts_.kv_type ||
      next.kv_rerotate != opts_.kv_rerotate || next.kv_policy != opts_.kv_policy) {
    return invalid_argument("a held sequence continues only with its own context, KV type and policy");
  }
  VATP_RETURN_IF_ERROR(validate(next));
  sampler_ = Sampler(model_->config().n_vocab, next.sampling);
  opts_.sampling = next.sampling;
  banned_next_.clear();
  stats_ = SessionStats{};
  evictor_.reset();  // begin_turn resolves the policy against the whole prompt
  VATP_RETURN_IF_ERROR(begin_turn(n_new));
  if (cache_.capacity() < capacity) {
    VATP_ASSIGN_OR_RETURN(cache_, cache_.with_capacity(capacity));
  }
  update_kv_stats();
  return Status::ok();
}

int64_t Sequence::positions_left() const {
  if (decode_unbounded(opts_)) return INT64_MAX;
  return opts_.n_ctx - (opts_.kv_rerotate ? cache_.max_length() : n_past_);
}

Status Sequence::begin_turn(int64_t n) {
  if (n_past_ == 0) {
    VATP_RETURN_IF_ERROR(begin_policy(n));
    if (cache_.capacity() != opts_.n_ctx) VATP_RETURN_IF_ERROR(resize_cache(opts_.n_ctx));
  } else if (opts_.kv_policy.evict && !evictor_) {
    VATP_ASSIGN_OR_RETURN(KvEvictor e, KvEvictor::create(opts_.kv_policy, n_past_ + n, opts_.n_ctx));
    // The statistics rows per slot are fixed when the cache is allocated.
    if (!cache_.has_statistics())
      return invalid_argument("policy " + opts_.kv_policy.name +
                              " needs a cache with attention statistics; this one was made without");
    if (e.per_query_head() != (cache_.stat_rows() > 1))
      return invalid_argument(
          "policy " + opts_.kv_policy.name +
          " needs a cache with a different --kv-group layout; reset the conversation first");
    evictor_.emplace(std::move(e));
  }
  prompt_len_ = n_past_ + n;
  if (evictor_) evictor_->begin_turn(cache_, (opts_.kv_rerotate ? cache_.max_length() : n_past_) + n);
  return Status::ok();
}

Status Sequence::set_policy(const policy::PolicyConfig& cfg) {
  SequenceOptions next = opts_;
  next.kv_policy = cfg;
  VATP_RETURN_IF_ERROR(validate(next));
  opts_ = next;
  evictor_.reset();  // begin_turn creates the new one
  return Status::ok();
}

int64_t Sequence::prefill_piece(int64_t done, int64_t prompt_len) const {
  int64_t end = prompt_len;
  // With the chunked schedule the policy evicts after every `chunk` prompt tokens.
  if (evictor_) {
    const int64_t chunk = evictor_->prefill_chunk();
    end = std::min(prompt_len, (done / chunk + 1) * chunk);
  }
  return std::min<int64_t>(end - done, opts_.n_batch);
}

Status Sequence::prepare_rows(std::span<const int32_t> ids, int32_t* positions, bool want_logits,
                              int64_t row0, model::BatchSeq& out) {
  const int64_t m = static_cast<int64_t>(ids.size());
  if (m <= 0 || m > opts_.n_batch) {
    return invalid_argument("a forward call takes 1.." + std::to_string(opts_.n_batch) + " tokens, got " +
                            std::to_string(m));
  }
  // Positions: the token count so far, or with rerotation the cache length (every
  // head holds the same number of tokens: budgets are per head and equal).
  int64_t base = n_past_;
  if (opts_.kv_rerotate) {
    base = cache_.max_length();
    if (cache_.min_length() != base)
      return internal_error("--kv-rerotate needs every KV head to hold the same number of tokens");
  }
  if (base + m > opts_.n_ctx) {
    return out_of_range("context full: " + std::to_string(base) + " + " + std::to_string(m) + " tokens > " +
                        std::to_string(opts_.n_ctx));
  }
  const int32_t n_vocab = model_->config().n_vocab;
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab)
      return out_of_range("token id " + std::to_string(id) + " outside the vocabulary");
  }
  if (cache_.free_slots() < m) {  // a cache plan too small: this sequence fails, not the batch
    return internal_error("the KV cache has room for " + std::to_string(cache_.free_slots()) +
                          " more tokens, " + std::to_string(m) + " needed");
  }
  for (int64_t i = 0; i < m; ++i) positions[i] = static_cast<int32_t>(base + i);
  const bool decoding = evictor_ && n_past_ >= prompt_len_;
  const model::AttentionStatsRequest* req = stats_override_;
  if (req == nullptr && evictor_) req = evictor_->request(decoding);
  out = model::BatchSeq{&cache_, row0, m, req, want_logits ? 1 : 0};
  return Status::ok();
}

void Sequence::end_prefill() {
  if (evictor_) evictor_->end_prefill(cache_);
}

Status Sequence::evict(policy::Phase phase) {
  if (!evictor_ || (phase == policy::Phase::kDecodeStep && !evict_after_prompt_)) return Status::ok();
  Timer t;
  VATP_ASSIGN_OR_RETURN(int64_t removed, evictor_->maybe_evict(phase, cache_));
  stats_.tokens_evicted += removed;
  if (opts_.kv_rerotate && removed > 0) cache_.renumber_positions();
  stats_.scoring_seconds += t.seconds();
  update_kv_stats();
  return Status::ok();
}

int32_t Sequence::sample_next() {
  Timer t;
  const int32_t n_vocab = model_->config().n_vocab;
  for (int32_t id : banned_next_) {
    if (id >= 0 && id < n_vocab) logits_[static_cast<size_t>(id)] = -INFINITY;
  }
  banned_next_.clear();
  const int32_t id = sampler_.sample(logits_.data());
  sampler_.accept(id);
  stats_.sample_seconds += t.seconds();
  return id;
}

Executor::Executor(const model::Model& model, ThreadPool& pool, int max_rows, int kv_capacity,
                   bool kv_rerotate, model::TensorTap tap)
    : model_(model), pool_(pool), kv_capacity_(kv_capacity) {
  scratch_.reserve(model.config(), max_rows, pool.size(), kv_capacity);
  if (kv_rerotate) scratch_.enable_key_rerotation(model.config());
  scratch_.tap = std::move(tap);
}

}  // namespace vatp::runtime
