// The batched engine on the real SmolLM2 model: batch invariance against Session runs
// of the same requests alone, and the scheduler's properties (FIFO admission, the KV
// pool bound after every step, cancellation, per-request failures).
#include "runtime/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "common/smol_fixture.h"
#include "policy/flags.h"
#include "runtime/session.h"

namespace vatp::runtime {
namespace {

uint64_t hash_logits(const float* x, int n) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the bytes: equal iff bit-identical (whp)
  const auto* b = reinterpret_cast<const unsigned char*>(x);
  for (size_t i = 0; i < static_cast<size_t>(n) * sizeof(float); ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

struct Trace {
  std::vector<int32_t> tokens;
  std::vector<uint64_t> logits;  // one hash per sampled token
};

struct Case {
  size_t prompt_words;  // prompt length in words of the prose file
  std::string policy;
  std::string budget;
  std::string schedule;  // empty: the preset's
  float temp;
  int max_tokens;
};

class EngineSmol : public testing_util::SmolModelTest {
 protected:
  static constexpr int kCtx = 1024, kBatch = 64;

  std::vector<int32_t> prompt(size_t words, size_t skip) const {
    std::ifstream in(std::string(VATP_SOURCE_DIR) + "/tests/data/jargon-4.4.7-prose.txt");
    std::string w, text;
    for (size_t i = 0; i < skip + words && (in >> w); ++i) {
      if (i >= skip) text += (text.empty() ? "" : " ") + w;
    }
    return tok_->encode(text, true, false);
  }
  static policy::PolicyConfig policy_of(const Case& c) {
    policy::PolicyFlags f;
    f.policy = c.policy;
    if (!c.budget.empty()) f.budget = c.budget;
    if (!c.schedule.empty()) f.schedule = c.schedule;
    if (c.schedule == "chunked") f.chunk = "40";
    auto cfg = policy::config_from_flags(f);
    EXPECT_TRUE(cfg.is_ok()) << cfg.status().to_string();
    return *cfg;
  }
  static SamplerParams sampling_of(const Case& c, uint64_t seed) {
    SamplerParams p;
    p.temp = c.temp;
    p.seed = seed;
    return p;
  }
  Trace run_alone(const std::vector<int32_t>& p, const Case& c, uint64_t seed) {
    SessionOptions o;
    o.n_ctx = kCtx;
    o.n_batch = kBatch;
    o.sampling = sampling_of(c, seed);
    o.kv_policy = policy_of(c);
    auto s = Session::create(*model_, *tok_, *pool_, o);
    EXPECT_TRUE(s.is_ok()) << s.status().to_string();
    Trace t;
    auto ids = (*s)->generate(p, c.max_tokens, [&](int32_t id, std::string_view) {
      if (id != kFlushId) t.logits.push_back(hash_logits((*s)->last_logits(), (*s)->n_vocab()));
      return true;
    });
    EXPECT_TRUE(ids.is_ok()) << ids.status().to_string();
    if (ids.is_ok()) t.tokens = *ids;
    return t;
  }
  Request request_of(const std::vector<int32_t>& p, const Case& c, uint64_t seed, Trace* t) {
    Request r;
    r.prompt = p;
    r.max_tokens = c.max_tokens;
    r.sampling = sampling_of(c, seed);
    r.kv_policy = policy_of(c);
    const int nv = model_->config().n_vocab;
    r.on_logits = [t, nv](const float* l) { t->logits.push_back(hash_logits(l, nv)); };
    return r;
  }
  static EngineOptions engine_options(int parallel, int batch_tokens, int64_t kv_memory = 0) {
    EngineOptions o;
    o.n_ctx = kCtx;
    o.n_batch = kBatch;
    o.parallel = parallel;
    o.batch_tokens = batch_tokens;
    o.kv_memory = kv_memory;
    return o;
  }
  // Steps the engine until idle, checking the pool bound after every step.
  std::vector<Completion> drain(Engine& e) {
    std::vector<Completion> done;
    for (int guard = 0; guard < 100000; ++guard) {
      auto more = e.step();
      EXPECT_TRUE(more.is_ok()) << more.status().to_string();
      if (e.kv_pool().limit() > 0) {
        EXPECT_LE(e.kv_pool().used(), e.kv_pool().limit());
      }
      EXPECT_LE(e.kv_bytes_allocated(), e.kv_pool().used());
      for (Completion& c : e.take_completed()) done.push_back(std::move(c));
      if (!more.is_ok() || !*more) break;
    }
    return done;
  }
};

const std::vector<Case> kMixed = {
    {20, "full", "", "", 0.0f, 12},      {150, "h2o", "0.25", "", 0.0f, 16},
    {60, "snapkv", "0.5", "", 0.0f, 10}, {300, "vatp", "96", "chunked", 0.0f, 14},
    {90, "full", "", "", 0.9f, 16},      {40, "streaming", "24", "", 0.0f, 20},
    {200, "tova", "0.3", "", 0.7f, 12},  {120, "vatp", "0.5", "", 0.0f, 8},
};

TEST_F(EngineSmol, BatchedSequencesAreBitIdenticalToRunningAlone) {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<Trace> alone;
  for (size_t i = 0; i < kMixed.size(); ++i) {
    prompts.push_back(prompt(kMixed[i].prompt_words, 37 * i));
    alone.push_back(run_alone(prompts[i], kMixed[i], 100 + i));
  }
  // Several batch shapes: everything at once with a tight step, a few at a time.
  for (auto [parallel, batch_tokens] : {std::pair{8, 96}, std::pair{3, 512}, std::pair{16, 70}}) {
    auto e = Engine::create(*model_, *tok_, *pool_, engine_options(parallel, batch_tokens));
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    std::vector<Trace> batched(kMixed.size());
    for (size_t i = 0; i < kMixed.size(); ++i) {
      auto id = (*e)->submit(request_of(prompts[i], kMixed[i], 100 + i, &batched[i]));
      ASSERT_TRUE(id.is_ok()) << id.status().to_string();
    }
    std::vector<Completion> done = drain(**e);
    ASSERT_EQ(done.size(), kMixed.size());
    for (const Completion& c : done) {
      ASSERT_TRUE(c.status.is_ok()) << c.status.to_string();
      const size_t i = static_cast<size_t>(c.id - 1);
      EXPECT_EQ(c.tokens, alone[i].tokens) << "request " << i << " parallel " << parallel;
      EXPECT_EQ(batched[i].logits, alone[i].logits) << "request " << i << " parallel " << parallel;
      EXPECT_EQ(c.text, *tok_->decode(c.tokens, false));
    }
  }
}

TEST_F(EngineSmol, ResultsDoNotDependOnTheThreadCount) {
  ThreadPool one(1);
  std::vector<std::vector<Trace>> runs;
  for (ThreadPool* p : {&one, pool_}) {
    auto e = Engine::create(*model_, *tok_, *p, engine_options(4, 100));
    ASSERT_TRUE(e.is_ok());
    std::vector<Trace> t(4);
    for (size_t i = 0; i < 4; ++i)
      ASSERT_TRUE((*e)->submit(request_of(prompt(50 + 60 * i, 11 * i), kMixed[i], 7, &t[i])).is_ok());
    drain(**e);
    runs.push_back(std::move(t));
  }
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(runs[0][i].logits, runs[1][i].logits) << i;
}

// on_prompt_logits gets every prompt row, in order, with the bits of a Session's forward
// pass over the same pieces — beside a batch-mate that asks for none — and asking for
// them changes nothing the sequence generates.
TEST_F(EngineSmol, PromptLogitsAreEveryRowOfTheForwardPass) {
  const Case c{150, "full", "", "", 0.0f, 5};
  const std::vector<int32_t> p = prompt(c.prompt_words, 9);
  ASSERT_GT(p.size(), static_cast<size_t>(2 * kBatch));  // several prefill pieces
  const int nv = model_->config().n_vocab;
  std::vector<uint64_t> want;
  {
    SessionOptions o;
    o.n_ctx = kCtx;
    o.n_batch = kBatch;
    auto s = Session::create(*model_, *tok_, *pool_, o);
    ASSERT_TRUE(s.is_ok());
    std::vector<float> rows(static_cast<size_t>(kBatch) * static_cast<size_t>(nv));
    for (size_t at = 0; at < p.size(); at += kBatch) {
      const size_t len = std::min<size_t>(kBatch, p.size() - at);
      ASSERT_TRUE(
          (*s)->eval(std::span<const int32_t>(p).subspan(at, len), rows.data(), static_cast<int64_t>(len))
              .is_ok());
      for (size_t r = 0; r < len; ++r) want.push_back(hash_logits(&rows[r * static_cast<size_t>(nv)], nv));
    }
  }
  const Trace alone = run_alone(p, c, 3);
  auto e = Engine::create(*model_, *tok_, *pool_, engine_options(4, 96));
  ASSERT_TRUE(e.is_ok());
  Trace t, mate;
  std::vector<int64_t> order;
  std::vector<uint64_t> got;
  Request r = request_of(p, c, 3, &t);
  r.on_prompt_logits = [&](int64_t i, const float* l) {
    order.push_back(i);
    got.push_back(hash_logits(l, nv));
  };
  ASSERT_TRUE((*e)->submit(request_of(prompt(60, 2), kMixed[1], 4, &mate)).is_ok());
  ASSERT_TRUE((*e)->submit(std::move(r)).is_ok());
  std::vector<Completion> done = drain(**e);
  ASSERT_EQ(done.size(), 2u);
  ASSERT_EQ(order.size(), p.size());
  for (size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], static_cast<int64_t>(i));
  EXPECT_EQ(got, want);
  EXPECT_EQ(t.logits, alone.logits);
  EXPECT_EQ(done[1].id == 2 ? done[1].tokens : done[0].tokens, alone.tokens);
}

TEST_F(EngineSmol, AdmissionIsFifoAndThePoolBoundHolds) {
  const Case small{30, "full", "", "", 0.0f, 6}, big{250, "full", "", "", 0.0f, 6};
  const auto ps = prompt(small.prompt_words, 0), pb = prompt(big.prompt_words, 5);
  // A full-cache request reserves a cache without attention statistics (nothing scores it).
  kvcache::KvCacheConfig slot = model_->cache_config(1, kvcache::KvType::F16);
  slot.statistics = false;
  const int64_t per_slot = static_cast<int64_t>(kvcache::KvCache::bytes_for(slot));
  // Room for the small request and not the big one beside it; the big one alone fits.
  const int64_t limit = per_slot * static_cast<int64_t>(pb.size() + 6 + 4);
  auto e = Engine::create(*model_, *tok_, *pool_, engine_options(4, 512, limit));
  ASSERT_TRUE(e.is_ok());
  std::vector<Trace> t(3);
  ASSERT_TRUE((*e)->submit(request_of(ps, small, 1, &t[0])).is_ok());
  ASSERT_TRUE((*e)->submit(request_of(pb, big, 1, &t[1])).is_ok());
  ASSERT_TRUE((*e)->submit(request_of(ps, small, 1, &t[2])).is_ok());
  ASSERT_TRUE((*e)->step().is_ok());
  // The big one waits for the first; the third, though it would fit, waits behind it.
  EXPECT_EQ((*e)->n_running(), 1);
  EXPECT_EQ((*e)->n_waiting(), 2);
  std::vector<Completion> done = drain(**e);
  ASSERT_EQ(done.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(done[i].id, static_cast<int64_t>(i + 1));  // FIFO, no overtaking
  for (const Completion& c : done) EXPECT_LE(c.kv_bytes_reserved, limit);
  EXPECT_EQ(done[0].kv_bytes_reserved, per_slot * static_cast<int64_t>(ps.size() + 6));
  EXPECT_EQ(done[1].kv_bytes_reserved, per_slot * static_cast<int64_t>(pb.size() + 6));
  EXPECT_LE((*e)->kv_pool().peak(), limit);
  EXPECT_EQ((*e)->kv_pool().used(), 0);
}

TEST_F(EngineSmol, RefusesWhatCanNeverFitAndBadRequestsAlone) {
  const auto p = prompt(100, 0);
  auto e = Engine::create(*model_, *tok_, *pool_, engine_options(4, 256, 4096));
  ASSERT_TRUE(e.is_ok());
  Trace t;
  auto r = (*e)->submit(request_of(p, kMixed[0], 1, &t));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("more than the whole --kv-memory"), std::string::npos)
      << r.status().to_string();

  auto e2 = Engine::create(*model_, *tok_, *pool_, engine_options(4, 256));
  ASSERT_TRUE(e2.is_ok());
  Request bad = request_of(p, kMixed[1], 1, &t);
  bad.kv_policy.budget = policy::Budget{policy::Budget::Kind::kTokens, 0.0};  // budget 0
  std::vector<Trace> ok(2);
  ASSERT_TRUE((*e2)->submit(request_of(p, kMixed[0], 1, &ok[0])).is_ok());
  auto rb = (*e2)->submit(std::move(bad));
  EXPECT_FALSE(rb.is_ok());
  Request too_long = request_of(prompt(2000, 0), kMixed[0], 1, &t);
  auto rl = (*e2)->submit(std::move(too_long));
  ASSERT_FALSE(rl.is_ok());
  EXPECT_EQ(rl.status().code(), StatusCode::kOutOfRange);
  ASSERT_TRUE((*e2)->submit(request_of(p, kMixed[2], 1, &ok[1])).is_ok());
  std::vector<Completion> done = drain(**e2);
  ASSERT_EQ(done.size(), 2u);
  for (const Completion& c : done) EXPECT_TRUE(c.status.is_ok()) << c.status.to_string();
}

TEST_F(EngineSmol, CancelFreesMemoryAtOnce) {
  const auto p = prompt(80, 3);
  auto e = Engine::create(*model_, *tok_, *pool_, engine_options(2, 512));
  ASSERT_TRUE(e.is_ok());
  Trace t0, t1, t2;
  auto a = (*e)->submit(request_of(p, kMixed[0], 1, &t0));
  auto b = (*e)->submit(request_of(p, kMixed[0], 1, &t1));
  auto c = (*e)->submit(request_of(p, kMixed[0], 1, &t2));  // waits: parallel 2
  ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
  ASSERT_TRUE((*e)->step().is_ok());
  const int64_t before = (*e)->kv_pool().used();
  EXPECT_TRUE((*e)->cancel(*a));
  EXPECT_LT((*e)->kv_pool().used(), before);
  EXPECT_TRUE((*e)->cancel(*c));  // still waiting
  EXPECT_FALSE((*e)->cancel(*c));
  std::vector<Completion> done = drain(**e);
  ASSERT_EQ(done.size(), 3u);
  int cancelled = 0;
  for (const Completion& d : done) cancelled += d.stats.stop == StopReason::kCancelled;
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ((*e)->kv_pool().used(), 0);
}

// kv.scope "context": the engine compresses the context, then appends the question and
// the generation uncompressed — the same as driving a Session by hand: the policy set
// up for the context, prefill(context) with its evictions, the question's rows, then
// each generated token fed back without eviction. Bit for bit, beside another sequence.
TEST_F(EngineSmol, QuestionKeptWholeEqualsPrefillContextEvictThenAppend) {
  const auto p = prompt(300, 40);
  const int64_t n = static_cast<int64_t>(p.size()), q = 30;
  for (const Case& c : {Case{0, "vatp", "64", "chunked", 0.0f, 8}, Case{0, "snapkv", "0.25", "", 0.7f, 8}}) {
    SCOPED_TRACE(c.policy);
    // By hand.
    SessionOptions o;
    o.n_ctx = kCtx;
    o.n_batch = kBatch;
    o.sampling = sampling_of(c, 7);
    o.kv_policy = policy_of(c);
    auto s = Session::create(*model_, *tok_, *pool_, o);
    ASSERT_TRUE(s.is_ok());
    ASSERT_TRUE((*s)->begin_policy(n - q, c.max_tokens, q).is_ok());
    ASSERT_TRUE((*s)->prefill(std::span<const int32_t>(p).first(static_cast<size_t>(n - q))).is_ok());
    const int64_t evicted_by_context = (*s)->stats().tokens_evicted;
    ASSERT_GT(evicted_by_context, 0);
    ASSERT_TRUE((*s)->prefill_chunk(std::span<const int32_t>(p).last(static_cast<size_t>(q)), true).is_ok());
    for (int32_t id : p) (*s)->sampler().accept(id);  // the penalties' history, as the engine keeps it
    Trace alone;
    for (int i = 0; i < c.max_tokens; ++i) {
      alone.logits.push_back(hash_logits((*s)->last_logits(), (*s)->n_vocab()));
      const int32_t id = (*s)->sample_next();
      alone.tokens.push_back(id);
      if (i + 1 < c.max_tokens) {
        ASSERT_TRUE((*s)->prefill_chunk(std::span<const int32_t>(&id, 1), true).is_ok());
      }
    }
    EXPECT_EQ((*s)->stats().tokens_evicted, evicted_by_context);  // nothing after the context
    // On the engine, beside another sequence.
    auto e = Engine::create(*model_, *tok_, *pool_, engine_options(3, 96));
    ASSERT_TRUE(e.is_ok());
    Trace got, other;
    Request r = request_of(p, c, 7, &got);
    r.n_question = q;
    ASSERT_TRUE((*e)->submit(std::move(r)).is_ok());
    ASSERT_TRUE((*e)->submit(request_of(prompt(200, 900), kMixed[1], 3, &other)).is_ok());
    std::vector<Completion> done = drain(**e);
    ASSERT_EQ(done.size(), 2u);
    const Completion& mine = done[0].id == 1 ? done[0] : done[1];
    ASSERT_TRUE(mine.status.is_ok()) << mine.status.to_string();
    EXPECT_EQ(mine.tokens, alone.tokens);
    EXPECT_EQ(got.logits, alone.logits);
    EXPECT_EQ(mine.stats.tokens_evicted, evicted_by_context);
  }
}

TEST_F(EngineSmol, QuestionKeptWholeIsChecked) {
  const auto p = prompt(100, 0);
  EngineOptions o = engine_options(2, 96);
  o.kv_rerotate = true;  // a decode-evicting policy's positions are then unbounded
  auto e = Engine::create(*model_, *tok_, *pool_, o);
  ASSERT_TRUE(e.is_ok());
  Trace t;
  Request fits_whole = request_of(p, Case{0, "vatp", "48", "", 0.0f, kCtx}, 1, &t);
  {
    auto ok = (*e)->submit(fits_whole);  // evicting while decoding: any length
    EXPECT_TRUE(ok.is_ok()) << ok.status().to_string();
  }
  Request whole = request_of(p, Case{0, "vatp", "32", "", 0.0f, 4}, 1, &t);
  whole.n_question = static_cast<int64_t>(p.size());
  EXPECT_EQ((*e)->submit(whole).status().code(), StatusCode::kInvalidArgument);
  // Nothing is evicted after the context, so prompt + generation must fit the context.
  Request big = request_of(p, Case{0, "vatp", "48", "", 0.0f, kCtx}, 1, &t);
  big.n_question = 10;
  auto r = (*e)->submit(big);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(r.status().message().find("question kept whole"), std::string::npos) << r.status().to_string();
}

// Prompt reuse: a request whose prompt extends a held sequence's tokens continues it,
// and equals a multi-turn Session bit for bit (the first request as the first turn; the
// second prompt's new part as the next turn, its policy re-resolved against the whole
// prompt, its own sampler), beside another sequence. Only the new part is prefilled.
TEST_F(EngineSmol, PromptReuseEqualsAMultiTurnSession) {
  const auto p1 = prompt(150, 40);
  const auto turn2 =
      tok_->encode(" And then the second turn asks about the jargon of the hackers again.", false, false);
  const int nv = model_->config().n_vocab;
  for (const Case& c : {Case{0, "full", "", "", 0.0f, 10}, Case{0, "vatp", "64", "chunked", 0.0f, 10},
                        Case{0, "snapkv", "0.25", "", 0.7f, 10}, Case{0, "h2o", "0.5", "", 0.0f, 10},
                        // Fewer new tokens than generated ones: the cache is below the new
                        // budget after the turn and grows to it while decoding (the soak's bug).
                        Case{0, "h2o", "0.5", "", 0.0f, 40}, Case{0, "streaming", "0.25", "", 0.0f, 40}}) {
    SCOPED_TRACE(c.policy);
    EngineOptions eo = engine_options(3, 96);
    eo.max_held = 2;
    auto e = Engine::create(*model_, *tok_, *pool_, eo);
    ASSERT_TRUE(e.is_ok());
    Trace t1, t2, other;
    Request r1 = request_of(p1, c, 5, &t1);
    r1.cache_prompt = true;
    ASSERT_TRUE((*e)->submit(std::move(r1)).is_ok());
    std::vector<Completion> first = drain(**e);
    ASSERT_EQ(first.size(), 1u);
    ASSERT_TRUE(first[0].status.is_ok());
    EXPECT_EQ((*e)->n_held(), 1);
    EXPECT_EQ((*e)->kv_pool().used(), (*e)->kv_bytes_allocated());  // the held cache, nothing more

    std::vector<int32_t> p2 = p1;
    p2.insert(p2.end(), first[0].tokens.begin(), first[0].tokens.end());
    p2.insert(p2.end(), turn2.begin(), turn2.end());
    Request r2 = request_of(p2, c, 9, &t2);
    r2.cache_prompt = true;
    ASSERT_TRUE((*e)->submit(std::move(r2)).is_ok());
    ASSERT_TRUE((*e)->submit(request_of(prompt(200, 900), kMixed[1], 3, &other)).is_ok());
    std::vector<Completion> done = drain(**e);
    ASSERT_EQ(done.size(), 2u);
    const Completion& mine = done[0].id == 2 ? done[0] : done[1];
    ASSERT_TRUE(mine.status.is_ok()) << mine.status.to_string();
    const int64_t held = static_cast<int64_t>(p1.size() + first[0].tokens.size()) - 1;
    EXPECT_EQ(mine.n_cached, held);
    EXPECT_EQ(mine.stats.n_prompt, static_cast<int64_t>(p2.size()) - held);

    SessionOptions o;
    o.n_ctx = kCtx;
    o.n_batch = kBatch;
    o.sampling = sampling_of(c, 5);
    o.kv_policy = policy_of(c);
    auto s = Session::create(*model_, *tok_, *pool_, o);
    ASSERT_TRUE(s.is_ok());
    Trace a1, a2;
    auto hashing = [&](Trace& t) {
      return [&](int32_t id, std::string_view) {
        if (id != kFlushId) t.logits.push_back(hash_logits((*s)->last_logits(), nv));
        return true;
      };
    };
    ASSERT_TRUE((*s)->append_turn(p1).is_ok());
    auto ids1 = (*s)->continue_generation(p1, c.max_tokens, hashing(a1));
    ASSERT_TRUE(ids1.is_ok());
    EXPECT_EQ(*ids1, first[0].tokens);
    EXPECT_EQ(a1.logits, t1.logits);
    ASSERT_TRUE((*s)->set_policy(policy_of(c)).is_ok());
    (*s)->sampler() = Sampler(nv, sampling_of(c, 9));
    ASSERT_TRUE((*s)->append_turn(std::span<const int32_t>(p2).subspan(static_cast<size_t>(held))).is_ok());
    auto ids2 = (*s)->continue_generation(p2, c.max_tokens, hashing(a2));
    ASSERT_TRUE(ids2.is_ok());
    EXPECT_EQ(mine.tokens, *ids2);
    EXPECT_EQ(t2.logits, a2.logits);
  }
}

// A full cache continues from a common prefix (rewound to it); a request with another
// policy, or one that does not ask for reuse, starts afresh; cancelled requests are not
// held; at most max_held are; held caches give way to a request that needs the memory.
TEST_F(EngineSmol, PromptReuseRulesAndHeldCachesGiveWay) {
  const auto p1 = prompt(200, 40);
  const Case full{0, "full", "", "", 0.0f, 6};
  // Room for one full cache of 1010 slots: the last request's, once nothing else is held.
  const int64_t limit = [&] {
    auto cc = model_->cache_config(1010, kvcache::KvType::F16, false);
    cc.statistics = false;
    return static_cast<int64_t>(kvcache::KvCache::bytes_for(cc));
  }();
  EngineOptions eo = engine_options(2, 96, limit);
  eo.max_held = 2;
  auto e = Engine::create(*model_, *tok_, *pool_, eo);
  ASSERT_TRUE(e.is_ok());
  Trace t;
  auto run = [&](std::vector<int32_t> p, const Case& c, bool reuse) {
    t = Trace{};
    Request r = request_of(p, c, 1, &t);
    r.cache_prompt = reuse;
    EXPECT_TRUE((*e)->submit(std::move(r)).is_ok());
    std::vector<Completion> d = drain(**e);
    EXPECT_EQ(d.size(), 1u);
    return d.empty() ? Completion{} : d[0];
  };
  const Completion c1 = run(p1, full, true);
  ASSERT_EQ((*e)->n_held(), 1);
  // Diverging after p1: the full cache is rewound to the common prefix.
  std::vector<int32_t> p2 = p1;
  const auto more = prompt(30, 700);
  p2.insert(p2.end(), more.begin() + 1, more.end());
  const std::vector<int32_t> held_tokens = [&] {
    std::vector<int32_t> h = p1;
    h.insert(h.end(), c1.tokens.begin(), c1.tokens.end() - 1);
    return h;
  }();
  const int64_t common =
      std::mismatch(held_tokens.begin(), held_tokens.end(), p2.begin(), p2.end()).first - held_tokens.begin();
  const Completion c2 = run(p2, full, true);
  const Trace t2 = t;
  EXPECT_EQ(c2.n_cached, common);
  EXPECT_EQ((*e)->n_held(), 1);  // the one it continued, held again
  // Bit-identical to a fresh run of that prompt (a full cache holds the same rows
  // whichever forward calls computed them).
  {
    auto fresh = Engine::create(*model_, *tok_, *pool_, engine_options(2, 96));
    ASSERT_TRUE(fresh.is_ok());
    Trace tf;
    ASSERT_TRUE((*fresh)->submit(request_of(p2, full, 1, &tf)).is_ok());
    std::vector<Completion> d = drain(**fresh);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].tokens, c2.tokens);
    EXPECT_EQ(tf.logits, t2.logits);
  }
  // Another policy, or no reuse asked for: a fresh prefill.
  std::vector<int32_t> p3 = p2;
  p3.insert(p3.end(), c2.tokens.begin(), c2.tokens.end());
  EXPECT_EQ(run(p3, Case{0, "h2o", "0.5", "", 0.0f, 6}, true).n_cached, 0);
  EXPECT_EQ(run(p3, full, false).n_cached, 0);
  EXPECT_EQ((*e)->n_held(), 2);  // the h2o one joined; the one without reuse did not
  // At most max_held: a third held one drops the least recently used.
  EXPECT_EQ(run(prompt(50, 1500), full, true).n_cached, 0);
  EXPECT_EQ((*e)->n_held(), 2);
  // Cancelled: not held.
  {
    Request r = request_of(prompt(60, 2000), Case{0, "full", "", "", 0.0f, 50}, 1, &t);
    r.cache_prompt = true;
    auto id = (*e)->submit(std::move(r));
    ASSERT_TRUE(id.is_ok());
    ASSERT_TRUE((*e)->step().is_ok());
    EXPECT_TRUE((*e)->cancel(*id));
    drain(**e);
    EXPECT_EQ((*e)->n_held(), 2);
  }
  // A request that needs nearly all of --kv-memory: the held caches give way.
  const int64_t before = (*e)->kv_pool().used();
  ASSERT_GT(before, 0);
  std::vector<int32_t> long_prompt = prompt(900, 3000);
  ASSERT_GT(long_prompt.size(), 1000u);
  long_prompt.resize(1000);
  const Completion big = run(long_prompt, Case{0, "full", "", "", 0.0f, 4}, false);
  EXPECT_TRUE(big.status.is_ok()) << big.status.to_string();
  EXPECT_EQ((*e)->n_held(), 0);
  EXPECT_EQ((*e)->kv_pool().used(), 0);
}

// KV pressure: with --kv-pressure compress a newcomer that does not fit makes a running
// sequence that allows it (min_budget) drop to that budget, so three run where the pool
// holds two at their budget; with queue (or without min_budget) the third waits. A
// sequence compressed before its first piece then runs exactly as a request at the
// smaller budget would alone.
TEST_F(EngineSmol, KvPressureCompressesWillingSequencesSoANewcomerFits) {
  const Case big{0, "vatp", "256", "chunked", 0.0f, 12};
  const int64_t one = [&] {
    auto cc = model_->cache_config(256 + 40, kvcache::KvType::F16, false);
    return static_cast<int64_t>(kvcache::KvCache::bytes_for(cc));
  }();
  const std::vector<std::vector<int32_t>> prompts = {prompt(300, 0), prompt(300, 1000), prompt(300, 2000)};
  struct Outcome {
    int max_running = 0;
    std::vector<Completion> done;
    int64_t compressions = 0;
  };
  auto run = [&](EngineOptions::KvPressure mode, std::optional<policy::Budget> min) {
    EngineOptions eo = engine_options(4, 96, one * 5 / 2);
    eo.kv_pressure = mode;
    auto e = Engine::create(*model_, *tok_, *pool_, eo);
    EXPECT_TRUE(e.is_ok());
    Outcome o;
    Trace t;
    for (const auto& p : prompts) {
      Request r = request_of(p, big, 1, &t);
      r.min_budget = min;
      EXPECT_TRUE((*e)->submit(std::move(r)).is_ok());
    }
    for (int guard = 0; guard < 100000; ++guard) {
      auto more = (*e)->step();
      EXPECT_TRUE(more.is_ok());
      EXPECT_LE((*e)->kv_pool().used(), (*e)->kv_pool().limit());
      o.max_running = std::max(o.max_running, (*e)->n_running());
      for (Completion& c : (*e)->take_completed()) o.done.push_back(std::move(c));
      if (!more.is_ok() || !*more) break;
    }
    o.compressions = (*e)->stats().compressions;
    std::sort(o.done.begin(), o.done.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return o;
  };
  const policy::Budget min64{policy::Budget::Kind::kTokens, 64};
  const Outcome queued = run(EngineOptions::KvPressure::kQueue, min64);
  EXPECT_EQ(queued.max_running, 2);
  EXPECT_EQ(queued.compressions, 0);
  const Outcome unwilling = run(EngineOptions::KvPressure::kCompress, std::nullopt);
  EXPECT_EQ(unwilling.max_running, 2);
  EXPECT_EQ(unwilling.compressions, 0);
  const Outcome compressed = run(EngineOptions::KvPressure::kCompress, min64);
  EXPECT_EQ(compressed.max_running, 3);
  EXPECT_EQ(compressed.compressions, 1);
  ASSERT_EQ(compressed.done.size(), 3u);
  const size_t per_token = model_->cache_config(1, kvcache::KvType::F16, false).n_layers *
                           static_cast<size_t>(model_->config().n_kv_heads) * 2 * 2 *
                           model_->config().head_dim;
  for (size_t i = 0; i < 3; ++i) {
    const Completion& c = compressed.done[i];
    ASSERT_TRUE(c.status.is_ok()) << c.status.to_string();
    if (c.stats.kv_compressions == 0) {
      EXPECT_EQ(c.tokens, queued.done[i].tokens);  // untouched: as without pressure
      EXPECT_GT(c.stats.kv_bytes_used, static_cast<int64_t>(64 * per_token));
      continue;
    }
    EXPECT_EQ(i, 0u);  // equal savings: the oldest
    EXPECT_LE(c.stats.kv_bytes_used, static_cast<int64_t>(65 * per_token));
    EXPECT_EQ(c.tokens, run_alone(prompts[i], Case{0, "vatp", "64", "chunked", 0.0f, 12}, 1).tokens);
  }
}

TEST_F(EngineSmol, MinBudgetIsChecked) {
  EngineOptions eo = engine_options(2, 96, 0);
  eo.kv_pressure = EngineOptions::KvPressure::kCompress;
  auto e = Engine::create(*model_, *tok_, *pool_, eo);
  ASSERT_TRUE(e.is_ok());
  const auto p = prompt(100, 0);
  Trace t;
  auto submit = [&](const Case& c, policy::Budget min, int64_t n_question = 0) {
    Request r = request_of(p, c, 1, &t);
    r.min_budget = min;
    r.n_question = n_question;
    return (*e)->submit(std::move(r)).status();
  };
  const policy::Budget tokens64{policy::Budget::Kind::kTokens, 64};
  EXPECT_TRUE(submit(Case{0, "vatp", "96", "", 0.0f, 4}, tokens64).is_ok());
  EXPECT_EQ(submit(Case{0, "full", "", "", 0.0f, 4}, tokens64).code(), StatusCode::kInvalidArgument);
  const Status above = submit(Case{0, "vatp", "48", "", 0.0f, 4}, tokens64);
  EXPECT_EQ(above.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(above.message().find("above the budget"), std::string::npos) << above.to_string();
  EXPECT_EQ(submit(Case{0, "vatp", "96", "", 0.0f, 4}, tokens64, 10).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(
      submit(Case{0, "vatp", "96", "", 0.0f, 4}, policy::Budget{policy::Budget::Kind::kFraction, 0.001})
          .is_ok());  // keeps 0 tokens
  EngineOptions bad = engine_options(2, 96, 0);
  bad.default_min_budget = tokens64;  // without --kv-pressure compress
  EXPECT_FALSE(Engine::create(*model_, *tok_, *pool_, bad).is_ok());
}

}  // namespace
}  // namespace vatp::runtime
