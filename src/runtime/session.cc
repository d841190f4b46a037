#include "runtime/session.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/check.h"
#include "core/timer.h"

namespace vatp::runtime {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kNone: return "none";
    case StopReason::kEndOfGeneration: return "eog";
    case StopReason::kMaxTokens: return "max_tokens";
    case StopReason::kCallback: return "callback";
  }
  return "?";
}

Result<std::unique_ptr<Session>> Session::create(const model::Model& model, const tokenizer::Tokenizer& tok,
                                                 ThreadPool& pool, const SessionOptions& opts_in) {
  SessionOptions opts = opts_in;
  if (opts.n_ctx <= 0) return invalid_argument("context size must be > 0, got " + std::to_string(opts.n_ctx));
  if (opts.n_batch <= 0)
    return invalid_argument("batch size must be > 0, got " + std::to_string(opts.n_batch));
  VATP_RETURN_IF_ERROR(validate(opts.sampling));
  if (tok.n_vocab() != model.config().n_vocab) {
    return invalid_argument("tokenizer has " + std::to_string(tok.n_vocab()) +
                            " tokens but the model's vocabulary is " +
                            std::to_string(model.config().n_vocab));
  }
  opts.n_batch = std::min(opts.n_batch, opts.n_ctx);
  if (opts.kv_rerotate && opts.kv_policy.evict && opts.kv_policy.schedule == policy::Schedule::kChunked &&
      opts.kv_policy.scorer == policy::Scorer::kWindowAttention) {
    // The prompt window is given in original positions, which rerotation renumbers
    // after every chunk.
    return invalid_argument("--kv-rerotate cannot be combined with a windowed scorer (" +
                            opts.kv_policy.name + ") under the chunked schedule; use oneshot or continuous");
  }
  // With an evicting policy the real cache is sized by begin_policy() once the prompt
  // length is known; allocating n_ctx slots here would defeat the memory bound.
  const int initial_capacity = opts.kv_policy.evict ? 1 : opts.n_ctx;
  VATP_ASSIGN_OR_RETURN(kvcache::KvCache cache, model.make_cache(initial_capacity, opts.kv_type));
  return std::unique_ptr<Session>(new Session(model, tok, pool, opts, std::move(cache)));
}

Session::Session(const model::Model& model, const tokenizer::Tokenizer& tok, ThreadPool& pool,
                 const SessionOptions& opts, kvcache::KvCache cache)
    : model_(model),
      tok_(tok),
      pool_(pool),
      opts_(opts),
      cache_(std::move(cache)),
      sampler_(model.config().n_vocab, opts.sampling),
      logits_(model.config().n_vocab, 0.0f),
      positions_(opts.n_batch) {
  scratch_.reserve(model.config(), opts.n_batch, pool.size(), opts.n_ctx);
  if (opts.kv_rerotate) scratch_.enable_key_rerotation(model.config());
  scratch_.tap = opts.tap;
  update_kv_stats();
}

void Session::reset() {
  cache_.clear();
  sampler_.reset();
  evictor_.reset();
  n_past_ = 0;
  stats_ = SessionStats{};
  std::fill(logits_.begin(), logits_.end(), 0.0f);
  update_kv_stats();
}

void Session::update_kv_stats() {
  stats_.kv_bytes_allocated = static_cast<int64_t>(cache_.bytes_allocated());
  stats_.kv_bytes_used = static_cast<int64_t>(cache_.kv_bytes_used());
  stats_.kv_bytes_full = static_cast<int64_t>(cache_.kv_bytes_per_token()) * n_past_;
}

Status Session::check_fits(int64_t n_prompt, int n_predict) const {
  const int64_t ctx = opts_.n_ctx;
  const int64_t start = n_past_;
  // Rerotation with a policy that evicts every decode step keeps positions below the
  // budget: only the prompt must fit.
  const bool unbounded = opts_.kv_rerotate && opts_.kv_policy.evict &&
                         policy::evicts_at(opts_.kv_policy, policy::Phase::kDecodeStep);
  if (start + n_prompt >= ctx || (!unbounded && start + n_prompt + n_predict > ctx)) {
    return out_of_range(
        "the prompt (" + std::to_string(n_prompt) + " tokens" +
        (start > 0 ? ", after " + std::to_string(start) + " already in the cache" : std::string()) +
        ") plus " + std::to_string(n_predict) + " tokens to generate do not fit in the context of " +
        std::to_string(ctx) + " tokens (raise -c or shorten the prompt / -n)");
  }
  return Status::ok();
}

Status Session::eval(std::span<const int32_t> ids, float* logits, int64_t n_logit_rows) {
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
    if (cache_.min_length() != base) {
      return internal_error("--kv-rerotate needs every KV head to hold the same number of tokens");
    }
  }
  if (base + m > opts_.n_ctx) {
    return out_of_range("context full: " + std::to_string(base) + " + " + std::to_string(m) + " tokens > " +
                        std::to_string(opts_.n_ctx));
  }
  const int32_t n_vocab = model_.config().n_vocab;
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab)
      return out_of_range("token id " + std::to_string(id) + " outside the vocabulary");
  }
  for (int64_t i = 0; i < m; ++i) positions_[i] = static_cast<int32_t>(base + i);
  const bool decoding = evictor_ && n_past_ >= prompt_len_;
  const model::AttentionStatsRequest* req = stats_override_;
  if (req == nullptr && evictor_) req = evictor_->request(decoding);
  VATP_RETURN_IF_ERROR(
      model_.forward(ids.data(), positions_.data(), m, cache_, logits, n_logit_rows, scratch_, pool_, req));
  n_past_ += m;
  return Status::ok();
}

Status Session::prefill_chunk(std::span<const int32_t> ids, bool want_logits) {
  Timer t;
  VATP_RETURN_IF_ERROR(eval(ids, logits_.data(), want_logits ? 1 : 0));
  stats_.prefill_seconds += t.seconds();
  stats_.n_prompt += static_cast<int64_t>(ids.size());
  update_kv_stats();
  return Status::ok();
}

Status Session::prefill(std::span<const int32_t> ids) {
  const size_t n = ids.size();
  // With the chunked schedule the policy evicts after every `chunk` prompt tokens.
  const size_t chunk = evictor_ ? static_cast<size_t>(evictor_->prefill_chunk()) : n;
  for (size_t c0 = 0; c0 < n; c0 += chunk) {
    const size_t c1 = std::min(n, c0 + chunk);
    for (size_t begin = c0; begin < c1; begin += static_cast<size_t>(opts_.n_batch)) {
      const size_t len = std::min(c1 - begin, static_cast<size_t>(opts_.n_batch));
      VATP_RETURN_IF_ERROR(prefill_chunk(ids.subspan(begin, len), begin + len == n));
    }
    if (c1 < n) VATP_RETURN_IF_ERROR(evict(policy::Phase::kPrefillChunk));
  }
  if (evictor_) {
    evictor_->end_prefill(cache_);
    VATP_RETURN_IF_ERROR(evict(policy::Phase::kPrefillEnd));
  }
  return Status::ok();
}

Status Session::begin_policy(int64_t prompt_len) {
  evictor_.reset();
  prompt_len_ = prompt_len;
  if (!opts_.kv_policy.evict) return Status::ok();
  VATP_ASSIGN_OR_RETURN(KvEvictor e, KvEvictor::create(opts_.kv_policy, prompt_len, opts_.n_ctx));
  if (n_past_ != 0) return invalid_argument("a KV policy must be set up before the first token");
  // The cache holds the policy's peak, not the context: this is where memory is saved.
  const int64_t cap = std::min<int64_t>(e.capacity(), opts_.n_ctx);
  VATP_ASSIGN_OR_RETURN(cache_, model_.make_cache(static_cast<int>(cap), opts_.kv_type, e.per_query_head()));
  evictor_.emplace(std::move(e));
  update_kv_stats();
  return Status::ok();
}

Status Session::evict(policy::Phase phase) {
  if (!evictor_) return Status::ok();
  Timer t;
  VATP_ASSIGN_OR_RETURN(int64_t removed, evictor_->maybe_evict(phase, cache_));
  stats_.tokens_evicted += removed;
  if (opts_.kv_rerotate && removed > 0) cache_.renumber_positions();
  stats_.scoring_seconds += t.seconds();
  update_kv_stats();
  return Status::ok();
}

int32_t Session::sample_next() {
  Timer t;
  for (int32_t id : banned_next_) {
    if (id >= 0 && id < n_vocab()) logits_[static_cast<size_t>(id)] = -INFINITY;
  }
  banned_next_.clear();
  const int32_t id = sampler_.sample(logits_.data());
  sampler_.accept(id);
  stats_.sample_seconds += t.seconds();
  return id;
}

Status Session::decode_step(int32_t token) {
  Timer t;
  const int32_t one[1] = {token};
  VATP_RETURN_IF_ERROR(eval(one, logits_.data(), 1));
  stats_.decode_seconds += t.seconds();
  stats_.n_decoded += 1;
  VATP_RETURN_IF_ERROR(evict(policy::Phase::kDecodeStep));
  update_kv_stats();
  return Status::ok();
}

Result<std::vector<int32_t>> Session::generate(std::span<const int32_t> prompt, int n_predict,
                                               const TokenCallback& on_token) {
  if (n_predict < 0) return invalid_argument("n_predict must be >= 0, got " + std::to_string(n_predict));
  if (prompt.empty()) return invalid_argument("the prompt is empty (no tokens to start from)");
  VATP_RETURN_IF_ERROR(check_fits(static_cast<int64_t>(prompt.size()), n_predict));
  VATP_RETURN_IF_ERROR(begin_policy(static_cast<int64_t>(prompt.size())));
  VATP_RETURN_IF_ERROR(prefill(prompt));
  return continue_generation(prompt, n_predict, on_token);
}

Status Session::prefill_shared(std::span<const int32_t> prompt, const model::AttentionStatsRequest& req) {
  if (n_past_ != 0) return invalid_argument("prefill_shared needs an empty session");
  if (opts_.kv_policy.evict) return invalid_argument("prefill_shared needs a session without a KV policy");
  if (prompt.empty()) return invalid_argument("the prompt is empty (no tokens to start from)");
  VATP_RETURN_IF_ERROR(check_fits(static_cast<int64_t>(prompt.size()), 0));
  evictor_.reset();
  if (req.reduce == model::GroupReduce::PerHead && cache_.stat_rows() == 1) {
    VATP_ASSIGN_OR_RETURN(cache_, model_.make_cache(opts_.n_ctx, opts_.kv_type, /*per_query_head=*/true));
  }
  prompt_len_ = static_cast<int64_t>(prompt.size());
  stats_override_ = &req;
  const Status st = prefill(prompt);
  stats_override_ = nullptr;
  return st;
}

Status Session::fork_policy(const Session& src, const policy::PolicyConfig& cfg) {
  if (&src.model_ != &model_ || src.opts_.n_ctx != opts_.n_ctx || src.opts_.kv_type != opts_.kv_type ||
      src.opts_.kv_rerotate != opts_.kv_rerotate) {
    return invalid_argument("fork_policy: the sessions differ in model, context, KV type or rerotation");
  }
  reset();
  opts_.kv_policy = cfg;
  cache_ = src.cache_;
  n_past_ = src.n_past_;
  prompt_len_ = src.prompt_len_;
  logits_ = src.logits_;
  stats_.n_prompt = src.stats_.n_prompt;
  stats_.prefill_seconds = src.stats_.prefill_seconds;
  if (cfg.evict) {
    VATP_ASSIGN_OR_RETURN(KvEvictor e, KvEvictor::create(cfg, prompt_len_, opts_.n_ctx));
    if (policy::evicts_at(cfg, policy::Phase::kPrefillChunk)) {
      return invalid_argument("fork_policy: policy " + cfg.name + " evicts during the prefill (chunked)");
    }
    evictor_.emplace(std::move(e));
    evictor_->end_prefill(cache_);
    VATP_RETURN_IF_ERROR(evict(policy::Phase::kPrefillEnd));
  }
  update_kv_stats();
  return Status::ok();
}

Result<std::vector<int32_t>> Session::continue_generation(std::span<const int32_t> prompt, int n_predict,
                                                          const TokenCallback& on_token) {
  if (n_predict < 0) return invalid_argument("n_predict must be >= 0, got " + std::to_string(n_predict));
  if (n_past_ + n_predict > opts_.n_ctx) VATP_RETURN_IF_ERROR(check_fits(0, n_predict));
  for (int32_t id : prompt) sampler_.accept(id);

  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(n_predict));
  tokenizer::StreamingDetokenizer detok(tok_, /*special=*/false);
  stats_.stop = StopReason::kMaxTokens;  // also the n_predict == 0 case
  for (int i = 0; i < n_predict; ++i) {
    const int32_t id = sample_next();
    out.push_back(id);
    stats_.n_generated += 1;
    const bool eog = tok_.is_eog(id);
    const bool go_on = !on_token || on_token(id, eog ? std::string() : detok.push(id));
    if (eog) {
      stats_.stop = StopReason::kEndOfGeneration;
      break;
    }
    if (!go_on) {
      stats_.stop = StopReason::kCallback;
      break;
    }
    // The last token is not fed back: nothing would read its logits.
    if (i + 1 == n_predict) break;
    VATP_RETURN_IF_ERROR(decode_step(id));
  }
  if (on_token) {
    const std::string rest = detok.flush();
    if (!rest.empty()) on_token(kFlushId, rest);
  }
  return out;
}

}  // namespace vatp::runtime
