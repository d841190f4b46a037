#include "runtime/bench_parallel.h"

#include <algorithm>
#include <random>

#include "core/timer.h"
#include "runtime/engine.h"

namespace vatp::runtime {
namespace {

struct Rep {
  double tok_per_s = 0.0;
  int64_t kv_bytes = 0;
};

Result<Rep> parallel_rep(const model::Model& m, const tokenizer::Tokenizer& tok, ThreadPool& pool,
                         const ParallelBenchOptions& o, int n_seq, int depth, std::mt19937_64& rng) {
  EngineOptions eo;
  eo.n_ctx = std::max(depth, 1) + o.n_gen + 2;
  eo.parallel = n_seq;
  eo.batch_tokens = std::max(o.n_batch, 1);
  eo.n_batch = o.n_batch;
  eo.kv_type = o.kv_type;
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<Engine> e, Engine::create(m, tok, pool, eo));
  std::uniform_int_distribution<int32_t> dist(0, m.config().n_vocab - 1);
  const int64_t prompt_len = std::max(depth, 1);
  for (int i = 0; i < n_seq; ++i) {
    Request r;
    r.prompt.resize(static_cast<size_t>(prompt_len));
    for (int32_t& id : r.prompt) id = dist(rng);
    r.max_tokens = o.n_gen + 1;  // the first token comes from the prefill's logits
    r.sampling.temp = 0.0f;
    r.ignore_eos = true;
    if (depth > 0) r.kv_policy = o.kv_policy;
    VATP_RETURN_IF_ERROR(e->submit(std::move(r)).status());
  }
  // Untimed: every prompt through prefill.
  while (e->stats().prefill_rows < prompt_len * n_seq) {
    VATP_RETURN_IF_ERROR(e->step().status());
  }
  Rep rep;
  rep.kv_bytes = e->kv_bytes_allocated();
  const int64_t rows0 = e->stats().decode_rows;
  Timer t;
  for (bool more = true; more;) {
    VATP_ASSIGN_OR_RETURN(more, e->step());
  }
  const double sec = t.seconds();
  for (const Completion& c : e->take_completed()) VATP_RETURN_IF_ERROR(c.status);
  rep.tok_per_s = sec > 0 ? static_cast<double>(e->stats().decode_rows - rows0) / sec : 0.0;
  return rep;
}

}  // namespace

Status validate(const ParallelBenchOptions& o) {
  if (o.parallel.empty()) return invalid_argument("--parallel: no value given");
  for (int n : o.parallel) {
    if (n < 1) return invalid_argument("--parallel values must be >= 1, got " + std::to_string(n));
  }
  if (o.n_gen < 1) return invalid_argument("-n must be >= 1 with --parallel");
  if (o.reps < 1) return invalid_argument("-r must be >= 1, got " + std::to_string(o.reps));
  if (o.depths.empty()) return invalid_argument("--depth: no depth given");
  return Status::ok();
}

Result<std::vector<ParallelBenchResult>> run_parallel_bench(
    const model::Model& m, const tokenizer::Tokenizer& tok, ThreadPool& pool, const ParallelBenchOptions& o,
    const std::function<void(const std::string&)>& progress) {
  VATP_RETURN_IF_ERROR(validate(o));
  std::mt19937_64 rng(o.seed);
  VATP_RETURN_IF_ERROR(parallel_rep(m, tok, pool, o, 1, 0, rng).status());  // warm-up
  std::vector<ParallelBenchResult> out;
  for (int d : o.depths) {
    for (int n : o.parallel) {
      if (progress) progress("parallel " + std::to_string(n) + " @ d" + std::to_string(d));
      ParallelBenchResult r;
      r.parallel = n;
      r.depth = d;
      r.policy = d > 0 && o.kv_policy.evict;
      for (int rep = 0; rep < o.reps; ++rep) {
        VATP_ASSIGN_OR_RETURN(Rep x, parallel_rep(m, tok, pool, o, n, d, rng));
        r.tok_per_s.push_back(x.tok_per_s);
        r.kv_bytes = x.kv_bytes;
      }
      r.ts = mean_sd(r.tok_per_s);
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace vatp::runtime
