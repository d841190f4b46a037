#include "runtime/engine.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"

namespace vatp::runtime {

struct Engine::Waiting {
  int64_t id = 0;
  Request req;
  Sequence::CachePlan plan;
  int64_t bytes = 0;
  int64_t min_tokens = 0;             // the budget KV pressure may cut it to (0: never)
  std::optional<Sequence> prefilled;  // submit_prefilled: the prompt is already run
  Timer since_submit;
};

struct Engine::Active {
  Active(int64_t id_, Request r, Sequence s, const tokenizer::Tokenizer& tok)
      : id(id_), req(std::move(r)), seq(std::move(s)), detok(tok, /*special=*/false) {}
  int64_t id;
  Request req;
  Sequence seq;
  tokenizer::StreamingDetokenizer detok;
  int64_t bytes = 0;
  int64_t prompt_done = 0;  // prompt tokens already run (or held: from prompt reuse)
  int64_t turn_start = 0;   // where this request's prefill began (its chunks count from it)
  int64_t min_tokens = 0;   // the budget KV pressure may cut it to (0: never)
  int64_t piece = 0;        // rows in the step being run (0: not in it)
  int32_t next_token = -1;  // sampled, to be fed back next step (decoding)
  bool done = false;
  Completion result;
  Timer since_admit;
  double first_token_at = -1.0;
};

// A finished sequence kept for prompt reuse, and the tokens its cache covers.
struct Engine::Held {
  Held(int64_t i, std::vector<int32_t> t, Sequence s, int64_t b)
      : id(i), tokens(std::move(t)), seq(std::move(s)), bytes(b) {}
  int64_t id;                   // the request that left it
  std::vector<int32_t> tokens;  // prompt + generated tokens fed back, in order
  Sequence seq;
  int64_t bytes;  // what the pool holds for it
};

// A waiting request that can continue a held sequence.
struct Engine::Reuse {
  const Held* held = nullptr;
  int64_t start = 0;  // prompt tokens the held cache already has (after a rewind)
  int slots = 0;      // cache the continuation needs at its peak
  int64_t bytes = 0;
};

namespace {

// The budget, in tokens of this prompt, that KV pressure may cut a request down to: its
// own min_budget (checked: an evicting policy compressing the whole prompt, at most its
// budget, a valid policy at that budget), else the engine's default where that is below
// the request's budget; 0: never compressed.
Result<int64_t> min_budget_tokens(const Request& r, int64_t n, const EngineOptions& o) {
  const bool asked = r.min_budget.has_value();
  if (asked && !r.kv_policy.evict)
    return invalid_argument("kv.min_budget needs an evicting KV policy; " + r.kv_policy.name +
                            " keeps everything");
  if (asked && r.n_question > 0)
    return invalid_argument("kv.min_budget cannot be combined with kv.scope \"context\"");
  const std::optional<policy::Budget> b = asked ? r.min_budget : o.default_min_budget;
  if (!b || !r.kv_policy.evict || r.n_question > 0) return int64_t{0};
  policy::PolicyConfig m = r.kv_policy;
  m.budget = *b;
  VATP_ASSIGN_OR_RETURN(const policy::BudgetSplit lo, policy::resolve_budget(m, n));
  VATP_ASSIGN_OR_RETURN(const policy::BudgetSplit hi, policy::resolve_budget(r.kv_policy, n));
  if (lo.total >= hi.total) {
    if (!asked || lo.total == hi.total) return int64_t{0};
    return invalid_argument("kv.min_budget (" + std::to_string(lo.total) +
                            " tokens of this prompt) is above " + "the budget (" + std::to_string(hi.total) +
                            " tokens)");
  }
  VATP_ASSIGN_OR_RETURN(const policy::PolicyConfig small, policy::with_token_budget(r.kv_policy, lo.total));
  Status st = KvEvictor::create(small, n, o.n_ctx).status();
  if (!st.is_ok()) return st.with_context("kv.min_budget");
  return lo.total;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(const model::Model& model, const tokenizer::Tokenizer& tok,
                                               ThreadPool& pool, const EngineOptions& opts_in) {
  EngineOptions opts = opts_in;
  if (opts.n_ctx <= 0) return invalid_argument("context size must be > 0, got " + std::to_string(opts.n_ctx));
  if (opts.parallel < 1)
    return invalid_argument("--parallel must be >= 1, got " + std::to_string(opts.parallel));
  if (opts.batch_tokens < 1)
    return invalid_argument("--batch-tokens must be >= 1, got " + std::to_string(opts.batch_tokens));
  if (opts.n_batch < 1)
    return invalid_argument("batch size must be >= 1, got " + std::to_string(opts.n_batch));
  if (opts.kv_memory < 0) return invalid_argument("--kv-memory must be >= 0");
  if (opts.max_queue < 0) return invalid_argument("--max-queue must be >= 0");
  if (opts.max_held < 0)
    return invalid_argument("held caches must be >= 0, got " + std::to_string(opts.max_held));
  if (opts.kv_rerotate) opts.max_held = 0;
  if (opts.default_min_budget && opts.kv_pressure != EngineOptions::KvPressure::kCompress)
    return invalid_argument("--kv-min-budget needs --kv-pressure compress");
  if (tok.n_vocab() != model.config().n_vocab) {
    return invalid_argument("tokenizer has " + std::to_string(tok.n_vocab()) +
                            " tokens but the model's vocabulary is " +
                            std::to_string(model.config().n_vocab));
  }
  opts.n_batch = std::min({opts.n_batch, opts.batch_tokens, opts.n_ctx});
  return std::unique_ptr<Engine>(new Engine(model, tok, pool, opts));
}

// A step holds one decode row per running sequence plus prefill pieces: at most
// max(batch_tokens, n_batch) prefill rows (the oldest prefilling sequence always gets
// its piece in, so prefill never starves behind decoding).
Engine::Engine(const model::Model& model, const tokenizer::Tokenizer& tok, ThreadPool& pool,
               const EngineOptions& opts)
    : model_(model),
      tok_(tok),
      opts_(opts),
      exec_(model, pool, std::max(opts.batch_tokens, opts.n_batch) + opts.parallel, opts.n_ctx,
            opts.kv_rerotate),
      kv_pool_(opts.kv_memory),
      logits_(static_cast<size_t>(opts.parallel) * static_cast<size_t>(model.config().n_vocab)) {
  const size_t rows = static_cast<size_t>(exec_.max_rows());
  tokens_.reserve(rows);
  positions_.resize(rows);
  seqs_.reserve(static_cast<size_t>(opts.parallel));
  in_step_.reserve(static_cast<size_t>(opts.parallel));
}

Engine::~Engine() = default;

SequenceOptions Engine::sequence_options(const Request& r) const {
  return SequenceOptions{opts_.n_ctx, opts_.n_batch, opts_.kv_type,
                         r.sampling,  r.kv_policy,   opts_.kv_rerotate};
}

Status Engine::check_request(const Request& r) const {
  if (r.prompt.empty()) return invalid_argument("the prompt is empty (no tokens to start from)");
  if (r.max_tokens < 0)
    return invalid_argument("max_tokens must be >= 0, got " + std::to_string(r.max_tokens));
  const SequenceOptions so = sequence_options(r);
  VATP_RETURN_IF_ERROR(validate(so));
  const int64_t n = static_cast<int64_t>(r.prompt.size());
  VATP_RETURN_IF_ERROR(check_context_fits(so, 0, n, r.max_tokens));
  if (r.n_question < 0 || r.n_question >= n) {
    return invalid_argument("the question (" + std::to_string(r.n_question) +
                            " tokens) must leave a context of " + "at least one token before it in the " +
                            std::to_string(n) + "-token prompt");
  }
  // Nothing is evicted after the context: prompt and generation must fit as they are.
  if (r.n_question > 0 && n + r.max_tokens > so.n_ctx) {
    return out_of_range("the prompt (" + std::to_string(n) + " tokens) plus " + std::to_string(r.max_tokens) +
                        " tokens to generate do not fit in the context of " + std::to_string(so.n_ctx) +
                        " tokens (with the question kept whole nothing is evicted after the context)");
  }
  for (int32_t id : r.prompt) {
    if (id < 0 || id >= model_.config().n_vocab)
      return out_of_range("token id " + std::to_string(id) + " outside the vocabulary");
  }
  if (r.min_tokens < 0) return invalid_argument("min_tokens must be >= 0");
  return Status::ok();
}

Result<int64_t> Engine::submit(Request r) {
  VATP_RETURN_IF_ERROR(check_request(r));
  const SequenceOptions so = sequence_options(r);
  const int64_t n = static_cast<int64_t>(r.prompt.size());
  VATP_ASSIGN_OR_RETURN(Sequence::CachePlan plan, Sequence::plan_cache(so, n, r.max_tokens, r.n_question));
  VATP_ASSIGN_OR_RETURN(const int64_t min_tokens, min_budget_tokens(r, n, opts_));
  kvcache::KvCacheConfig cc = model_.cache_config(plan.slots, opts_.kv_type, plan.per_query_head);
  cc.statistics = plan.statistics;
  const int64_t bytes = static_cast<int64_t>(kvcache::KvCache::bytes_for(cc));
  if (!kv_pool_.fits_ever(bytes)) {
    return resource_exhausted("the request's KV cache needs " + std::to_string(bytes) + " bytes (" +
                              std::to_string(plan.slots) + " slots), more than the whole --kv-memory of " +
                              std::to_string(kv_pool_.limit()) + " bytes");
  }
  auto w = std::make_unique<Waiting>();
  w->req = std::move(r);
  w->plan = plan;
  w->bytes = bytes;
  w->min_tokens = min_tokens;
  return enqueue(std::move(w));
}

Result<int64_t> Engine::enqueue(std::unique_ptr<Waiting> w) {
  if (static_cast<int>(queue_.size()) >= opts_.max_queue)
    return resource_exhausted("the queue is full (" + std::to_string(opts_.max_queue) + " requests waiting)");
  w->id = next_id_++;
  queue_.push_back(std::move(w));
  return queue_.back()->id;
}

Result<int64_t> Engine::submit_prefilled(Request r, Sequence seq) {
  VATP_RETURN_IF_ERROR(check_request(r));
  const int64_t n = static_cast<int64_t>(r.prompt.size());
  if (seq.options().n_ctx != opts_.n_ctx || seq.options().kv_type != opts_.kv_type ||
      seq.options().kv_rerotate != opts_.kv_rerotate)
    return invalid_argument("a prefilled sequence must have the engine's context, KV type and rerotation");
  if (seq.n_past() != n || seq.prompt_len() != n || r.n_question != 0)
    return invalid_argument("a prefilled sequence must hold exactly its whole prompt (" + std::to_string(n) +
                            " tokens), not " + std::to_string(seq.n_past()));
  // Nothing it does from here needs more slots than it holds plus what it generates.
  VATP_RETURN_IF_ERROR(seq.shrink_cache(
      static_cast<int>(std::min<int64_t>(opts_.n_ctx, seq.cache().max_length() + r.max_tokens + 1))));
  const int64_t bytes = static_cast<int64_t>(seq.cache().bytes_allocated());
  if (!kv_pool_.fits_ever(bytes))
    return resource_exhausted("the prefilled sequence's KV cache (" + std::to_string(bytes) +
                              " bytes) is more than the whole --kv-memory");
  auto w = std::make_unique<Waiting>();
  w->req = std::move(r);
  w->bytes = bytes;
  w->prefilled.emplace(std::move(seq));
  return enqueue(std::move(w));
}

bool Engine::cancel(int64_t id) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if ((*it)->id != id) continue;
    Completion c;
    c.id = id;
    c.stats.stop = StopReason::kCancelled;
    c.queue_seconds = (*it)->since_submit.seconds();
    completed_.push_back(std::move(c));
    queue_.erase(it);
    return true;
  }
  for (auto& a : active_) {
    if (a->id != id || a->done) continue;
    finish(*a, StopReason::kCancelled);
    reap();
    return true;
  }
  return false;
}

// FIFO: the head waits until its cache fits; nothing behind it overtakes it. Held
// sequences give way to it (least recently used first), except the one it continues.
void Engine::admit() {
  while (!queue_.empty() && static_cast<int>(active_.size()) < opts_.parallel) {
    Waiting& w = *queue_.front();
    const std::optional<Reuse> r = w.prefilled ? std::nullopt : find_reuse(w);
    const int64_t need = r ? r->bytes : w.bytes;
    const int64_t more = need - (r ? r->held->bytes : 0);
    if (!make_room(more, r ? r->held : nullptr) && !compress_for(more, r ? r->held : nullptr)) break;
    Status st;
    if (r) {
      auto it = std::find_if(held_.begin(), held_.end(), [&](const auto& h) { return h.get() == r->held; });
      std::unique_ptr<Held> h = std::move(*it);
      held_.erase(it);
      kv_pool_.release(h->bytes);
      VATP_CHECK(kv_pool_.try_reserve(need));
      st = resume(w, std::move(h), *r);
    } else {
      VATP_CHECK(kv_pool_.try_reserve(need));
      st = w.prefilled ? start_prefilled(w) : start(w);
    }
    if (!st.is_ok()) {
      kv_pool_.release(need);
      Completion c;
      c.id = w.id;
      c.status = st;
      completed_.push_back(std::move(c));
    }
    queue_.pop_front();
  }
}

Status Engine::start(Waiting& w) {
  VATP_ASSIGN_OR_RETURN(Sequence seq,
                        Sequence::create(model_, sequence_options(w.req), w.plan.slots, w.plan.statistics));
  VATP_RETURN_IF_ERROR(seq.begin_policy(static_cast<int64_t>(w.req.prompt.size()) - w.req.n_question,
                                        w.req.max_tokens, w.req.n_question));
  VATP_CHECK(static_cast<int64_t>(seq.cache().bytes_allocated()) <= w.bytes);
  add_active(w, std::move(seq), w.bytes, 0);
  return Status::ok();
}

Status Engine::start_prefilled(Waiting& w) {
  add_active(w, std::move(*w.prefilled), w.bytes, 0);
  Active& a = *active_.back();
  a.prompt_done = a.turn_start = static_cast<int64_t>(a.req.prompt.size());
  a.result.prompt_kv_used = a.seq.stats().kv_bytes_used;
  a.result.prompt_kv_full = a.seq.stats().kv_bytes_full;
  if (a.req.max_tokens == 0) {
    finish(a, StopReason::kMaxTokens);
    return Status::ok();
  }
  if (a.req.on_logits) a.req.on_logits(a.seq.logits());
  after_sample(a, sample(a));
  return Status::ok();
}

// The next token, with the ids banned before min_tokens.
int32_t Engine::sample(Active& a) {
  if (static_cast<int>(a.result.tokens.size()) < a.req.min_tokens)
    a.seq.ban_next_tokens(a.req.banned_before_min);
  return a.seq.sample_next();
}

// The held sequence this request's prompt continues, if any: same policy, its tokens a
// prefix of the prompt (a full cache: a common prefix of at least half of them), and at
// least one prompt token left to run (its logits start the generation). The longest wins.
std::optional<Engine::Reuse> Engine::find_reuse(const Waiting& w) const {
  const Request& q = w.req;
  if (!q.cache_prompt || q.n_question > 0 || q.on_prompt_logits) return std::nullopt;
  const int64_t n = static_cast<int64_t>(q.prompt.size());
  std::optional<Reuse> best;
  for (const auto& h : held_) {
    if (h->seq.options().kv_policy != q.kv_policy) continue;
    const int64_t held = static_cast<int64_t>(h->tokens.size());
    const auto mismatch = std::mismatch(h->tokens.begin(), h->tokens.end(), q.prompt.begin(), q.prompt.end());
    const int64_t common = std::min<int64_t>(mismatch.first - h->tokens.begin(), n - 1);
    const bool whole = common == held;
    if (h->seq.evictor() != nullptr ? !whole : (common < 1 || 2 * common < held)) continue;
    if (best && best->start >= common) continue;
    const int64_t cached = whole ? h->seq.cache().max_length() : common;
    Result<int> slots =
        Sequence::plan_continuation(sequence_options(q), cached, common, n - common, q.max_tokens);
    if (!slots.is_ok()) continue;
    best = Reuse{h.get(), common, *slots, h->seq.cache_bytes_at(std::max(h->seq.cache().capacity(), *slots))};
  }
  return best;
}

// Makes `bytes` more fit in the pool by dropping held sequences (not `keep`), least
// recently used first; drops nothing when even dropping all of them would not do.
bool Engine::make_room(int64_t bytes, const Held* keep) {
  const int64_t limit = kv_pool_.limit();
  if (limit == 0 || kv_pool_.used() + bytes <= limit) return true;
  int64_t droppable = 0;
  for (const auto& h : held_) droppable += h.get() == keep ? 0 : h->bytes;
  if (kv_pool_.used() - droppable + bytes > limit) return false;
  for (auto it = held_.begin(); it != held_.end() && kv_pool_.used() + bytes > limit;) {
    if (it->get() == keep) {
      ++it;
      continue;
    }
    kv_pool_.release((*it)->bytes);
    it = held_.erase(it);
  }
  return true;
}

// KV pressure: compresses running sequences (largest saving first) until `bytes` more
// fit beside the held ones that make_room may drop; nothing when even compressing every
// willing sequence would not do.
bool Engine::compress_for(int64_t bytes, const Held* keep) {
  if (opts_.kv_pressure != EngineOptions::KvPressure::kCompress || kv_pool_.limit() == 0) return false;
  struct Candidate {
    Active* a;
    policy::PolicyConfig cfg;
    int slots;
    int64_t bytes;
  };
  std::vector<Candidate> cands;
  int64_t saving = 0;
  for (auto& a : active_) {
    const KvEvictor* e = a->seq.evictor();
    const bool prefilling = a->prompt_done < static_cast<int64_t>(a->req.prompt.size());
    if (a->done || a->min_tokens == 0 || e == nullptr || e->split().total <= a->min_tokens ||
        (prefilling && e->config().schedule != policy::Schedule::kChunked))
      continue;  // a one-shot or continuous prefill holds its whole prompt until its end anyway
    Result<policy::PolicyConfig> cfg = policy::with_token_budget(e->config(), a->min_tokens);
    if (!cfg.is_ok()) continue;
    const int left = a->req.max_tokens - static_cast<int>(a->result.tokens.size());
    Result<int> slots = a->seq.plan_compression(*cfg, left);
    if (!slots.is_ok() || *slots >= a->seq.cache().capacity()) continue;
    const int64_t b = a->seq.cache_bytes_at(*slots);
    if (b >= a->bytes) continue;
    cands.push_back({a.get(), *cfg, *slots, b});
    saving += a->bytes - b;
  }
  int64_t droppable = 0;
  for (const auto& h : held_) droppable += h.get() == keep ? 0 : h->bytes;
  const int64_t limit = kv_pool_.limit();
  if (kv_pool_.used() - droppable - saving + bytes > limit) return false;
  std::stable_sort(
      cands.begin(), cands.end(),  // equal savings: the oldest first
      [](const Candidate& x, const Candidate& y) { return x.a->bytes - x.bytes > y.a->bytes - y.bytes; });
  for (const Candidate& c : cands) {
    if (kv_pool_.used() - droppable + bytes <= limit) break;
    const Status st = c.a->seq.compress(c.cfg, c.slots);
    if (!st.is_ok()) {
      finish(*c.a, StopReason::kNone, st);
      continue;
    }
    kv_pool_.release(c.a->bytes - c.bytes);
    c.a->bytes = c.bytes;
    c.a->result.kv_bytes_reserved = c.bytes;
    stats_.compressions += 1;
  }
  return make_room(bytes, keep);
}

Status Engine::resume(Waiting& w, std::unique_ptr<Held> h, const Reuse& r) {
  Sequence seq = std::move(h->seq);
  if (r.start < seq.n_past()) VATP_RETURN_IF_ERROR(seq.rewind(r.start));
  const int64_t n = static_cast<int64_t>(w.req.prompt.size());
  VATP_RETURN_IF_ERROR(seq.continue_with(sequence_options(w.req), n - r.start, r.slots));
  VATP_CHECK(static_cast<int64_t>(seq.cache().bytes_allocated()) <= r.bytes);
  add_active(w, std::move(seq), r.bytes, r.start);
  return Status::ok();
}

void Engine::add_active(Waiting& w, Sequence seq, int64_t bytes, int64_t n_cached) {
  const double waited = w.since_submit.seconds();
  const int64_t min_tokens = w.min_tokens;
  for (int32_t id : w.req.prompt) seq.sampler().accept(id);
  auto a = std::make_unique<Active>(w.id, std::move(w.req), std::move(seq), tok_);
  a->bytes = bytes;
  a->prompt_done = a->turn_start = n_cached;
  a->min_tokens = min_tokens;
  a->result.id = a->id;
  a->result.kv_bytes_reserved = bytes;
  a->result.n_cached = n_cached;
  a->result.queue_seconds = waited;
  active_.push_back(std::move(a));
}

int64_t Engine::kv_bytes_allocated() const {
  int64_t n = 0;
  for (const auto& a : active_) n += static_cast<int64_t>(a->seq.cache().bytes_allocated());
  for (const auto& h : held_) n += static_cast<int64_t>(h->seq.cache().bytes_allocated());
  return n;
}

std::vector<SequenceInfo> Engine::sequences() const {
  std::vector<SequenceInfo> out;
  for (const auto& a : active_) {
    SequenceInfo i;
    i.id = a->id;
    i.state = a->next_token >= 0 || a->prompt_done >= static_cast<int64_t>(a->req.prompt.size())
                  ? SequenceInfo::State::kDecode
                  : SequenceInfo::State::kPrefill;
    i.n_prompt = static_cast<int64_t>(a->req.prompt.size());
    i.prompt_done = a->prompt_done;
    i.n_generated = static_cast<int64_t>(a->result.tokens.size());
    i.stats = a->seq.stats();
    i.kv_bytes_reserved = a->bytes;
    i.policy = a->req.kv_policy.name;
    i.seconds = a->since_admit.seconds();
    out.push_back(std::move(i));
  }
  for (const auto& w : queue_) {
    SequenceInfo i;
    i.id = w->id;
    i.n_prompt = static_cast<int64_t>(w->req.prompt.size());
    i.policy = w->req.kv_policy.name;
    i.seconds = w->since_submit.seconds();
    out.push_back(std::move(i));
  }
  for (const auto& h : held_) {
    SequenceInfo i;
    i.id = h->id;
    i.state = SequenceInfo::State::kHeld;
    i.n_prompt = static_cast<int64_t>(h->tokens.size());
    i.stats = h->seq.stats();
    i.kv_bytes_reserved = h->bytes;
    i.policy = h->seq.options().kv_policy.name;
    out.push_back(std::move(i));
  }
  return out;
}

std::vector<Completion> Engine::take_completed() {
  std::vector<Completion> out;
  out.swap(completed_);
  return out;
}

// Decode rows first (one per decoding sequence), then prefill pieces in admission order
// while they fit in batch_tokens; the oldest prefilling sequence always gets its piece.
Status Engine::build_step() {
  tokens_.clear();
  seqs_.clear();
  in_step_.clear();
  auto add = [&](Active& a, std::span<const int32_t> ids, bool want_logits, bool all_logits) -> Status {
    const int64_t row0 = static_cast<int64_t>(tokens_.size());
    model::BatchSeq bs;
    VATP_RETURN_IF_ERROR(
        a.seq.prepare_rows(ids, &positions_[static_cast<size_t>(row0)], want_logits, row0, bs));
    if (all_logits) bs.n_logit_rows = bs.n_rows;
    tokens_.insert(tokens_.end(), ids.begin(), ids.end());
    seqs_.push_back(bs);
    in_step_.push_back(&a);
    a.piece = bs.n_rows;
    return Status::ok();
  };
  for (auto& a : active_) {
    if (a->done || a->next_token < 0) continue;
    const Status st = add(*a, std::span<const int32_t>(&a->next_token, 1), true, false);
    if (!st.is_ok()) finish(*a, StopReason::kNone, st);
  }
  const int64_t n_decode = static_cast<int64_t>(tokens_.size());
  int64_t prefill_rows = 0;
  for (auto& a : active_) {
    const int64_t n = static_cast<int64_t>(a->req.prompt.size());
    if (a->done || a->prompt_done >= n) continue;
    const int64_t len = a->seq.prefill_piece(a->prompt_done - a->turn_start, piece_end(*a) - a->turn_start);
    if (prefill_rows > 0 && n_decode + prefill_rows + len > opts_.batch_tokens) break;
    const auto ids = std::span<const int32_t>(a->req.prompt)
                         .subspan(static_cast<size_t>(a->prompt_done), static_cast<size_t>(len));
    const Status st = add(*a, ids, a->prompt_done + len == n, static_cast<bool>(a->req.on_prompt_logits));
    if (!st.is_ok()) {
      finish(*a, StopReason::kNone, st);
      continue;
    }
    prefill_rows += len;
  }
  stats_.decode_rows += n_decode;
  stats_.prefill_rows += prefill_rows;
  return Status::ok();
}

Result<bool> Engine::step() {
  reap();
  admit();
  VATP_RETURN_IF_ERROR(build_step());
  reap();
  if (tokens_.empty()) return !idle();
  const size_t nv = static_cast<size_t>(model_.config().n_vocab);
  size_t logit_rows = 0;
  for (const model::BatchSeq& bs : seqs_) logit_rows += static_cast<size_t>(bs.n_logit_rows);
  if (logits_.size() < logit_rows * nv) logits_.resize(logit_rows * nv);  // prompt logits asked for
  Timer t;
  const model::Batch b{tokens_.data(), positions_.data(), static_cast<int64_t>(tokens_.size()), seqs_,
                       logits_.data()};
  const Status st = exec_.run(b);
  const double secs = t.seconds();
  stats_.steps += 1;
  stats_.rows += b.n_rows;
  stats_.forward_seconds += secs;
  if (!st.is_ok()) {
    fail_batch(st);
  } else {
    size_t logit_row = 0;
    for (size_t i = 0; i < in_step_.size(); ++i) {
      Active& a = *in_step_[i];
      a.seq.commit(a.piece);
      const size_t n_logits = static_cast<size_t>(seqs_[i].n_logit_rows);
      if (a.next_token < 0 && a.req.on_prompt_logits) {  // a prefill piece with all its rows' logits
        for (size_t r = 0; r < n_logits; ++r)
          a.req.on_prompt_logits(a.prompt_done + static_cast<int64_t>(r), &logits_[(logit_row + r) * nv]);
      }
      if (n_logits > 0) {
        // The last row is what the sequence samples from (when its prompt is done).
        std::memcpy(a.seq.logits(), &logits_[(logit_row + n_logits - 1) * nv], nv * sizeof(float));
        logit_row += n_logits;
      }
      after_forward(a, secs);
    }
  }
  reap();
  return true;
}

void Engine::fail_batch(const Status& st) {
  for (Active* a : in_step_) finish(*a, StopReason::kNone, st);
}

// The sequence's rows ran: evict at its policy's points, then sample if it has logits.
void Engine::after_forward(Active& a, double step_seconds) {
  SessionStats& s = a.seq.mutable_stats();
  const bool was_decode = a.next_token >= 0;
  a.piece = 0;
  if (!was_decode) {
    const Status st = after_prefill_piece(a, step_seconds);
    if (!st.is_ok()) return finish(a, StopReason::kNone, st);
    if (a.prompt_done < static_cast<int64_t>(a.req.prompt.size())) return;
    a.result.prompt_kv_used = s.kv_bytes_used;
    a.result.prompt_kv_full = s.kv_bytes_full;
    if (a.req.max_tokens == 0) return finish(a, StopReason::kMaxTokens);
  } else {
    s.decode_seconds += step_seconds;
    s.n_decoded += 1;
    const Status st = a.seq.evict(policy::Phase::kDecodeStep);
    if (!st.is_ok()) return finish(a, StopReason::kNone, st);
    a.seq.update_kv_stats();
  }
  if (a.req.on_logits) a.req.on_logits(a.seq.logits());
  after_sample(a, sample(a));
}

Status Engine::after_prefill_piece(Active& a, double step_seconds) {
  SessionStats& s = a.seq.mutable_stats();
  const int64_t len = a.seq.n_past() - a.prompt_done;
  a.prompt_done += len;
  s.prefill_seconds += step_seconds;
  s.n_prompt += len;
  a.seq.update_kv_stats();
  const KvEvictor* e = a.seq.evictor();
  if (e == nullptr) return Status::ok();
  // The policy's prompt (begin_policy) is the context: all of it unless a question is kept whole.
  const int64_t context = a.seq.prompt_len();
  if (a.prompt_done < context) {
    if ((a.prompt_done - a.turn_start) % e->prefill_chunk() == 0)
      return a.seq.evict(policy::Phase::kPrefillChunk);
    return Status::ok();
  }
  if (a.prompt_done > context) return Status::ok();  // the question: appended whole
  a.seq.end_prefill();
  return a.seq.evict(policy::Phase::kPrefillEnd);
}

// Where the next prefill piece must stop: the end of the context while the policy still
// compresses it (its last piece ends exactly there), then the end of the prompt.
int64_t Engine::piece_end(const Active& a) const {
  const int64_t n = static_cast<int64_t>(a.req.prompt.size());
  const int64_t context = a.seq.prompt_len();
  return a.prompt_done < context && a.seq.evictor() != nullptr ? context : n;
}

// The loop body of Session::continue_generation, one token at a time.
void Engine::after_sample(Active& a, int32_t id) {
  if (a.first_token_at < 0) a.first_token_at = a.since_admit.seconds();
  a.result.tokens.push_back(id);
  a.seq.mutable_stats().n_generated += 1;
  const bool eog = tok_.is_eog(id) && !a.req.ignore_eos;
  std::string piece;
  if (!eog) {
    piece = a.detok.push(id);
    a.result.text += piece;
  }
  const bool go_on = !a.req.on_token || a.req.on_token(id, piece);
  if (eog) return finish(a, StopReason::kEndOfGeneration);
  if (!go_on) return finish(a, StopReason::kCallback);
  // The last token is not fed back: nothing would read its logits.
  if (static_cast<int>(a.result.tokens.size()) >= a.req.max_tokens) return finish(a, StopReason::kMaxTokens);
  a.next_token = id;
}

void Engine::finish(Active& a, StopReason why, Status status) {
  if (a.done) return;
  a.done = true;
  a.next_token = -1;
  const std::string rest = a.detok.flush();
  if (!rest.empty()) {
    a.result.text += rest;
    if (a.req.on_token && status.is_ok()) a.req.on_token(kFlushId, rest);
  }
  a.seq.update_kv_stats();
  a.result.status = std::move(status);
  a.result.stats = a.seq.stats();
  a.result.stats.stop = a.result.status.is_ok() ? why : StopReason::kNone;
  const double now = a.since_admit.seconds();
  const double first = a.first_token_at < 0 ? now : a.first_token_at;
  a.result.prefill_seconds = first;
  a.result.decode_seconds = now - first;
}

// Finished sequences leave the step's bookkeeping and give their memory back, or are
// held for prompt reuse.
void Engine::reap() {
  auto it = std::stable_partition(active_.begin(), active_.end(), [](const auto& a) { return !a->done; });
  for (auto j = it; j != active_.end(); ++j) {
    hold(**j);
    completed_.push_back(std::move((*j)->result));
  }
  active_.erase(it, active_.end());
}

// A request that finished well keeps its sequence for a later prompt that continues it,
// its cache cut to the tokens it holds (a policy's budget, not its peak) and the rest of
// its reservation returned; a cancelled or failed one is not kept.
void Engine::hold(Active& a) {
  const Completion& c = a.result;
  const bool keep = opts_.max_held > 0 && a.req.cache_prompt && c.status.is_ok() &&
                    c.stats.stop != StopReason::kCancelled && a.req.n_question == 0 && a.seq.n_past() > 0;
  if (!keep) {
    kv_pool_.release(a.bytes);
    return;
  }
  const int len = std::max(1, a.seq.cache().max_length());
  if (a.seq.cache().capacity() > len + len / 8 && !a.seq.shrink_cache(len).is_ok()) {  // worth a copy
    kv_pool_.release(a.bytes);
    return;
  }
  const int64_t bytes = static_cast<int64_t>(a.seq.cache().bytes_allocated());
  kv_pool_.release(a.bytes - bytes);
  std::vector<int32_t> tokens = std::move(a.req.prompt);
  tokens.insert(tokens.end(), c.tokens.begin(), c.tokens.end());
  tokens.resize(static_cast<size_t>(a.seq.n_past()));  // the last sampled token was not fed back
  held_.push_back(std::make_unique<Held>(a.id, std::move(tokens), std::move(a.seq), bytes));
  if (static_cast<int>(held_.size()) > opts_.max_held) drop_oldest_held();
}

void Engine::drop_oldest_held() {
  kv_pool_.release(held_.front()->bytes);
  held_.erase(held_.begin());
}

}  // namespace vatp::runtime
