#include "runtime/session.h"

#include <algorithm>
#include <string>

#include "core/timer.h"

namespace vatp::runtime {

Result<std::unique_ptr<Session>> Session::create(const model::Model& model, const tokenizer::Tokenizer& tok,
                                                 ThreadPool& pool, const SessionOptions& opts_in) {
  SessionOptions opts = opts_in;
  if (tok.n_vocab() != model.config().n_vocab) {
    return invalid_argument("tokenizer has " + std::to_string(tok.n_vocab()) +
                            " tokens but the model's vocabulary is " +
                            std::to_string(model.config().n_vocab));
  }
  const SequenceOptions so{opts.n_ctx,    opts.n_batch,   opts.kv_type,
                           opts.sampling, opts.kv_policy, opts.kv_rerotate};
  VATP_ASSIGN_OR_RETURN(Sequence seq, Sequence::create(model, so));
  opts.n_batch = seq.options().n_batch;
  return std::unique_ptr<Session>(new Session(model, tok, pool, opts, std::move(seq)));
}

Session::Session(const model::Model& model, const tokenizer::Tokenizer& tok, ThreadPool& pool,
                 const SessionOptions& opts, Sequence seq)
    : model_(model),
      tok_(tok),
      opts_(opts),
      exec_(model, pool, opts.n_batch, opts.n_ctx, opts.kv_rerotate, opts.tap),
      seq_(std::move(seq)),
      positions_(static_cast<size_t>(opts.n_batch)) {}

void Session::reset() { seq_.reset(); }

Status Session::check_fits(int64_t n_prompt, int n_predict) const {
  return seq_.check_fits(n_prompt, n_predict);
}

Status Session::eval(std::span<const int32_t> ids, float* logits, int64_t n_logit_rows) {
  model::BatchSeq bs;
  VATP_RETURN_IF_ERROR(seq_.prepare_rows(ids, positions_.data(), false, 0, bs));
  bs.n_logit_rows = n_logit_rows;
  const model::Batch b{ids.data(), positions_.data(), bs.n_rows, std::span<const model::BatchSeq>(&bs, 1),
                       logits};
  VATP_RETURN_IF_ERROR(exec_.run(b));
  seq_.commit(bs.n_rows);
  return Status::ok();
}

Status Session::prefill_chunk(std::span<const int32_t> ids, bool want_logits) {
  Timer t;
  VATP_RETURN_IF_ERROR(eval(ids, seq_.logits(), want_logits ? 1 : 0));
  SessionStats& st = seq_.mutable_stats();
  st.prefill_seconds += t.seconds();
  st.n_prompt += static_cast<int64_t>(ids.size());
  seq_.update_kv_stats();
  return Status::ok();
}

Status Session::prefill(std::span<const int32_t> ids) {
  const int64_t n = static_cast<int64_t>(ids.size());
  for (int64_t done = 0; done < n;) {
    const int64_t len = seq_.prefill_piece(done, n);
    VATP_RETURN_IF_ERROR(
        prefill_chunk(ids.subspan(static_cast<size_t>(done), static_cast<size_t>(len)), done + len == n));
    done += len;
    const KvEvictor* e = seq_.evictor();
    if (e != nullptr && done < n && done % e->prefill_chunk() == 0)
      VATP_RETURN_IF_ERROR(evict(policy::Phase::kPrefillChunk));
  }
  if (seq_.evictor() != nullptr) {
    seq_.end_prefill();
    VATP_RETURN_IF_ERROR(evict(policy::Phase::kPrefillEnd));
  }
  return Status::ok();
}

Status Session::begin_policy(int64_t prompt_len, int n_predict, int64_t n_appended) {
  return seq_.begin_policy(prompt_len, n_predict, n_appended);
}

int32_t Session::sample_next() { return seq_.sample_next(); }

Status Session::decode_step(int32_t token) {
  Timer t;
  const int32_t one[1] = {token};
  VATP_RETURN_IF_ERROR(eval(one, seq_.logits(), 1));
  SessionStats& st = seq_.mutable_stats();
  st.decode_seconds += t.seconds();
  st.n_decoded += 1;
  VATP_RETURN_IF_ERROR(evict(policy::Phase::kDecodeStep));
  seq_.update_kv_stats();
  return Status::ok();
}

Result<std::vector<int32_t>> Session::generate(std::span<const int32_t> prompt, int n_predict,
                                               const TokenCallback& on_token) {
  if (n_predict < 0) return invalid_argument("n_predict must be >= 0, got " + std::to_string(n_predict));
  if (prompt.empty()) return invalid_argument("the prompt is empty (no tokens to start from)");
  VATP_RETURN_IF_ERROR(check_fits(static_cast<int64_t>(prompt.size()), n_predict));
  VATP_RETURN_IF_ERROR(begin_policy(static_cast<int64_t>(prompt.size()), n_predict));
  VATP_RETURN_IF_ERROR(prefill(prompt));
  return continue_generation(prompt, n_predict, on_token);
}

Status Session::append_turn(std::span<const int32_t> ids) {
  if (ids.empty()) return invalid_argument("the turn is empty (no tokens to add)");
  VATP_RETURN_IF_ERROR(check_fits(static_cast<int64_t>(ids.size()), 0));
  VATP_RETURN_IF_ERROR(seq_.begin_turn(static_cast<int64_t>(ids.size())));
  return prefill(ids);
}

Status Session::set_policy(const policy::PolicyConfig& cfg) {
  VATP_RETURN_IF_ERROR(seq_.set_policy(cfg));
  opts_.kv_policy = cfg;
  return Status::ok();
}

Status Session::prefill_shared(std::span<const int32_t> prompt, const model::AttentionStatsRequest& req) {
  if (seq_.n_past() != 0) return invalid_argument("prefill_shared needs an empty session");
  if (opts_.kv_policy.evict) return invalid_argument("prefill_shared needs a session without a KV policy");
  if (prompt.empty()) return invalid_argument("the prompt is empty (no tokens to start from)");
  VATP_RETURN_IF_ERROR(check_fits(static_cast<int64_t>(prompt.size()), 0));
  seq_.set_evictor(std::nullopt);
  if (req.reduce == model::GroupReduce::PerHead && seq_.cache().stat_rows() == 1) {
    VATP_ASSIGN_OR_RETURN(kvcache::KvCache c,
                          model_.make_cache(opts_.n_ctx, opts_.kv_type, /*per_query_head=*/true));
    seq_.set_cache(std::move(c));
  }
  seq_.set_prompt_len(static_cast<int64_t>(prompt.size()));
  seq_.set_stats_override(&req);
  const Status st = prefill(prompt);
  seq_.set_stats_override(nullptr);
  return st;
}

Status Session::continue_shared(std::span<const int32_t> tail, const model::AttentionStatsRequest& req) {
  if (seq_.n_past() == 0) return invalid_argument("continue_shared needs a prefix already run");
  if (seq_.evictor() != nullptr)
    return invalid_argument("continue_shared needs a session without a KV policy");
  if (tail.empty()) return invalid_argument("continue_shared: no tokens to add");
  VATP_RETURN_IF_ERROR(check_fits(static_cast<int64_t>(tail.size()), 0));
  seq_.set_prompt_len(seq_.n_past() + static_cast<int64_t>(tail.size()));
  seq_.set_stats_override(&req);
  const Status st = prefill(tail);
  seq_.set_stats_override(nullptr);
  return st;
}

Status Session::copy_sequence_from(const Session& src) {
  if (&src.model_ != &model_ || src.opts_.n_ctx != opts_.n_ctx || src.opts_.kv_type != opts_.kv_type ||
      src.opts_.kv_rerotate != opts_.kv_rerotate) {
    return invalid_argument(
        "copy_sequence_from: the sessions differ in model, context, KV type or rerotation");
  }
  seq_ = src.seq_;
  seq_.set_stats_override(nullptr);
  return Status::ok();
}

Result<Sequence> Session::fork_sequence(const policy::PolicyConfig& cfg,
                                        const SamplerParams& sampling) const {
  SequenceOptions so = seq_.options();
  so.kv_policy = cfg;
  so.sampling = sampling;
  VATP_ASSIGN_OR_RETURN(Sequence s, Sequence::create(model_, so, /*initial_capacity=*/1));
  s.set_cache(seq_.cache());
  s.commit(seq_.n_past());
  s.set_prompt_len(seq_.prompt_len());
  std::copy(seq_.logits(), seq_.logits() + n_vocab(), s.logits());
  s.mutable_stats().n_prompt = seq_.stats().n_prompt;
  s.mutable_stats().prefill_seconds = seq_.stats().prefill_seconds;
  if (cfg.evict) {
    VATP_ASSIGN_OR_RETURN(KvEvictor e, KvEvictor::create(cfg, s.prompt_len(), so.n_ctx));
    if (policy::evicts_at(cfg, policy::Phase::kPrefillChunk)) {
      return invalid_argument("fork_policy: policy " + cfg.name + " evicts during the prefill (chunked)");
    }
    s.set_evictor(std::move(e));
    s.end_prefill();
    VATP_RETURN_IF_ERROR(s.evict(policy::Phase::kPrefillEnd));
  }
  s.update_kv_stats();
  return s;
}

Status Session::fork_policy(const Session& src, const policy::PolicyConfig& cfg) {
  if (&src.model_ != &model_ || src.opts_.n_ctx != opts_.n_ctx || src.opts_.kv_type != opts_.kv_type ||
      src.opts_.kv_rerotate != opts_.kv_rerotate) {
    return invalid_argument("fork_policy: the sessions differ in model, context, KV type or rerotation");
  }
  VATP_ASSIGN_OR_RETURN(seq_, src.fork_sequence(cfg, opts_.sampling));
  opts_.kv_policy = cfg;
  return Status::ok();
}

Result<std::vector<int32_t>> Session::continue_generation(std::span<const int32_t> prompt, int n_predict,
                                                          const TokenCallback& on_token) {
  if (n_predict < 0) return invalid_argument("n_predict must be >= 0, got " + std::to_string(n_predict));
  if (seq_.n_past() + n_predict > opts_.n_ctx) VATP_RETURN_IF_ERROR(check_fits(0, n_predict));
  for (int32_t id : prompt) seq_.sampler().accept(id);

  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(n_predict));
  tokenizer::StreamingDetokenizer detok(tok_, /*special=*/false);
  SessionStats& st = seq_.mutable_stats();
  st.stop = StopReason::kMaxTokens;  // also the n_predict == 0 case
  for (int i = 0; i < n_predict; ++i) {
    const int32_t id = sample_next();
    out.push_back(id);
    st.n_generated += 1;
    const bool eog = tok_.is_eog(id);
    const bool go_on = !on_token || on_token(id, eog ? std::string() : detok.push(id));
    if (eog) {
      st.stop = StopReason::kEndOfGeneration;
      break;
    }
    if (!go_on) {
      st.stop = StopReason::kCallback;
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
