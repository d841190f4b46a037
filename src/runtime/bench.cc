#include "runtime/bench.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <random>

#include "core/timer.h"
#include "runtime/session.h"

namespace vatp::runtime {

MeanSd mean_sd(std::span<const double> v) {
  MeanSd r;
  if (v.empty()) return r;
  double sum = 0.0;
  for (double x : v) sum += x;
  r.mean = sum / static_cast<double>(v.size());
  if (v.size() < 2) return r;
  double sq = 0.0;
  for (double x : v) sq += (x - r.mean) * (x - r.mean);
  r.sd = std::sqrt(sq / static_cast<double>(v.size() - 1));
  return r;
}

Result<std::vector<int>> parse_depths(std::string_view s) {
  std::vector<int> out;
  if (s.empty()) return invalid_argument("--depth: empty list (expected e.g. 0,2048,8192)");
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = std::min(s.find(',', pos), s.size());
    const std::string_view item = s.substr(pos, comma - pos);
    int v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || v < 0) {
      return invalid_argument("--depth: '" + std::string(item) +
                              "' is not a non-negative integer (expected e.g. 0,2048,8192)");
    }
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

Status validate(const BenchOptions& o) {
  if (o.n_prompt < 0) return invalid_argument("-p must be >= 0, got " + std::to_string(o.n_prompt));
  if (o.n_gen < 0) return invalid_argument("-n must be >= 0, got " + std::to_string(o.n_gen));
  if (o.n_prompt == 0 && o.n_gen == 0) return invalid_argument("-p and -n are both 0: nothing to measure");
  if (o.reps < 1) return invalid_argument("-r must be >= 1, got " + std::to_string(o.reps));
  if (o.n_batch < 1) return invalid_argument("-b must be >= 1, got " + std::to_string(o.n_batch));
  if (o.depths.empty()) return invalid_argument("--depth: no depth given");
  for (int d : o.depths) {
    if (d < 0) return invalid_argument("--depth values must be >= 0, got " + std::to_string(d));
  }
  return Status::ok();
}

namespace {

double view_bytes(const kernels::WeightView& w) { return static_cast<double>(w.row_bytes) * w.rows; }

std::vector<int32_t> random_tokens(int n, int n_vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> dist(0, n_vocab - 1);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = dist(rng);
  return ids;
}

// Untimed: tokens through prefill_chunk in n_batch pieces (no policy involvement).
Status run_chunks(Session& s, std::span<const int32_t> ids, bool logits_at_end) {
  const size_t nb = static_cast<size_t>(s.n_batch());
  for (size_t b = 0; b < ids.size(); b += nb) {
    const size_t len = std::min(nb, ids.size() - b);
    VATP_RETURN_IF_ERROR(s.prefill_chunk(ids.subspan(b, len), logits_at_end && b + len == ids.size()));
  }
  return Status::ok();
}

struct Rep {
  double tok_per_s = 0.0;
  double bytes_per_token = 0.0;
  int64_t kv_bytes_used = 0;
};

Result<Rep> pp_rep(Session& s, int depth, int n_prompt, int n_vocab, std::mt19937_64& rng) {
  s.reset();
  const std::vector<int32_t> pre = random_tokens(depth, n_vocab, rng);
  VATP_RETURN_IF_ERROR(run_chunks(s, pre, false));
  const std::vector<int32_t> ids = random_tokens(n_prompt, n_vocab, rng);
  Timer t;
  VATP_RETURN_IF_ERROR(run_chunks(s, ids, true));
  const double sec = t.seconds();
  Rep r;
  r.tok_per_s = sec > 0 ? n_prompt / sec : 0.0;
  return r;
}

Result<Rep> tg_rep(Session& s, bool with_policy, int depth, int n_gen, int n_vocab, double weight_bytes,
                   std::mt19937_64& rng) {
  s.reset();
  if (depth > 0) {
    const std::vector<int32_t> pre = random_tokens(depth, n_vocab, rng);
    if (with_policy) VATP_RETURN_IF_ERROR(s.begin_policy(depth));
    VATP_RETURN_IF_ERROR(s.prefill(pre));
  }
  const std::vector<int32_t> ids = random_tokens(n_gen, n_vocab, rng);
  double sec = 0.0, kv_read = 0.0;
  for (int i = 0; i < n_gen; ++i) {
    // The step reads the live K/V plus its own new entry (counted after it).
    Timer t;
    VATP_RETURN_IF_ERROR(s.decode_step(ids[static_cast<size_t>(i)]));
    sec += t.seconds();
    kv_read += static_cast<double>(s.cache().kv_bytes_used());
  }
  Rep r;
  r.tok_per_s = sec > 0 ? n_gen / sec : 0.0;
  r.bytes_per_token = weight_bytes + kv_read / std::max(1, n_gen);
  r.kv_bytes_used = static_cast<int64_t>(s.cache().kv_bytes_used());
  return r;
}

}  // namespace

double decode_weight_bytes(const model::Model& m) {
  const model::Weights& w = m.weights();
  const model::ModelConfig& c = m.config();
  double b = 0.0;
  for (const model::LayerWeights& L : w.layers) {
    b += view_bytes(L.wq) + view_bytes(L.wk) + view_bytes(L.wv) + view_bytes(L.wo) + view_bytes(L.w_gate) +
         view_bytes(L.w_up) + view_bytes(L.w_down);
    b += 2.0 * c.dim * sizeof(float);  // norms
  }
  b += view_bytes(w.output) + c.dim * sizeof(float) + static_cast<double>(w.token_embd.row_bytes);
  return b;
}

Result<std::vector<BenchResult>> run_bench(const model::Model& m, const tokenizer::Tokenizer& tok,
                                           ThreadPool& pool, const BenchOptions& o,
                                           const std::function<void(const std::string&)>& progress) {
  VATP_RETURN_IF_ERROR(validate(o));
  const int n_vocab = m.config().n_vocab;
  const int max_depth = *std::max_element(o.depths.begin(), o.depths.end());
  const double wbytes = decode_weight_bytes(m);

  SessionOptions full_opts;
  // Room for the deepest test and for the warm-up (kWarmup tokens, then one decode step).
  constexpr int kWarmup = 32;
  full_opts.n_ctx = max_depth + std::max({o.n_prompt, o.n_gen, kWarmup + 1});
  full_opts.n_batch = o.n_batch;
  full_opts.kv_type = o.kv_type;
  full_opts.sampling.temp = 0.0f;
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<Session> full, Session::create(m, tok, pool, full_opts));
  std::unique_ptr<Session> pol;
  if (o.kv_policy.evict && o.n_gen > 0 && max_depth > 0) {
    SessionOptions po = full_opts;
    po.n_ctx = max_depth + o.n_gen;
    po.kv_policy = o.kv_policy;
    VATP_ASSIGN_OR_RETURN(pol, Session::create(m, tok, pool, po));
  }

  std::mt19937_64 rng(o.seed);
  // Warm-up: pages of the weights in memory, threads started, caches warm.
  {
    const std::vector<int32_t> ids = random_tokens(kWarmup + 1, n_vocab, rng);
    VATP_RETURN_IF_ERROR(run_chunks(*full, std::span<const int32_t>(ids).first(kWarmup), true));
    VATP_RETURN_IF_ERROR(full->decode_step(ids[kWarmup]));
    full->reset();
  }

  std::vector<BenchResult> out;
  auto run_test = [&](bool is_pp, int depth) -> Status {
    BenchResult r;
    r.n_prompt = is_pp ? o.n_prompt : 0;
    r.n_gen = is_pp ? 0 : o.n_gen;
    r.depth = depth;
    r.test = is_pp ? "pp" + std::to_string(o.n_prompt) : "tg" + std::to_string(o.n_gen);
    r.policy = !is_pp && depth > 0 && pol != nullptr;
    if (progress) progress(r.test + (depth > 0 ? " @ d" + std::to_string(depth) : std::string()));
    Session& s = r.policy ? *pol : *full;
    double bytes_sum = 0.0;
    for (int rep = 0; rep < o.reps; ++rep) {
      Rep x;
      if (is_pp) {
        VATP_ASSIGN_OR_RETURN(x, pp_rep(s, depth, o.n_prompt, n_vocab, rng));
      } else {
        VATP_ASSIGN_OR_RETURN(x, tg_rep(s, r.policy, depth, o.n_gen, n_vocab, wbytes, rng));
        r.gb_per_s.push_back(x.bytes_per_token * x.tok_per_s / 1e9);
        bytes_sum += x.bytes_per_token;
        r.kv_bytes_used = x.kv_bytes_used;
      }
      r.tok_per_s.push_back(x.tok_per_s);
    }
    r.ts = mean_sd(r.tok_per_s);
    r.gbs = mean_sd(r.gb_per_s);
    r.bytes_per_token = is_pp ? 0.0 : bytes_sum / o.reps;
    out.push_back(std::move(r));
    return Status::ok();
  };
  // Same order as llama-bench: for each depth, pp then tg.
  for (int d : o.depths) {
    if (o.n_prompt > 0) VATP_RETURN_IF_ERROR(run_test(true, d));
    if (o.n_gen > 0) VATP_RETURN_IF_ERROR(run_test(false, d));
  }
  full->reset();
  if (pol) pol->reset();
  return out;
}

}  // namespace vatp::runtime
