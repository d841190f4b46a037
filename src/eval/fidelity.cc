#include "eval/fidelity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/hash.h"
#include "core/output_file.h"
#include "eval/sweep_common.h"
#include "eval/sweep_report.h"
#include "runtime/session.h"

namespace vatp::eval {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// log-softmax of n logits into out (double accumulation).
void log_softmax(const float* logits, int n, float* out) {
  float mx = logits[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, logits[i]);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
  const double lse = static_cast<double>(mx) + std::log(sum);
  for (int i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(logits[i]) - lse);
}

int argmax(const float* v, int n) { return static_cast<int>(std::max_element(v, v + n) - v); }

struct Acc {
  int64_t n = 0, top1 = 0;
  double kl = 0, kl2 = 0, kl_max = 0, nll = 0, nll_full = 0;
};

// Feeds ids[context..context+tokens) one at a time into a session whose prefill is done;
// compares each prediction with the full cache's log-probs (full_lp: [tokens][V]) or,
// when full_lp is null, stores them there (full_out).
Status teacher_force(runtime::Session& s, std::span<const int32_t> seg, int64_t context, int64_t tokens,
                     const std::vector<float>* full_lp, std::vector<float>* full_out, Acc& acc,
                     std::vector<float>& lp) {
  const int V = s.n_vocab();
  for (int64_t t = 0; t < tokens; ++t) {
    const int32_t target = seg[static_cast<size_t>(context + t)];
    log_softmax(s.last_logits(), V, lp.data());
    if (full_out != nullptr) {
      std::copy(lp.begin(), lp.end(), full_out->begin() + t * V);
    } else {
      const float* f = full_lp->data() + t * V;
      double kl = 0.0;
      for (int i = 0; i < V; ++i) {
        const double pf = std::exp(static_cast<double>(f[i]));
        kl += pf * (static_cast<double>(f[i]) - static_cast<double>(lp[i]));
      }
      kl = std::max(0.0, kl);
      acc.kl += kl;
      acc.kl2 += kl * kl;
      acc.kl_max = std::max(acc.kl_max, kl);
      acc.top1 += argmax(f, V) == argmax(lp.data(), V);
      acc.nll_full -= f[target];
    }
    acc.nll -= lp[target];
    acc.n += 1;
    // The last prediction needs no forward pass after it.
    if (t + 1 < tokens) VATP_RETURN_IF_ERROR(s.decode_step(target));
  }
  return Status::ok();
}

double kv_fraction(const runtime::Session& s) {
  const auto& st = s.stats();
  return st.kv_bytes_full > 0 ? static_cast<double>(st.kv_bytes_used) / static_cast<double>(st.kv_bytes_full)
                              : 1.0;
}

std::string fixed(double v, int prec) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

}  // namespace

Result<RunLog> open_fidelity_log(const FidelityOptions& o) {
  if (o.out_dir.empty()) return invalid_argument("an output directory is required (-o)");
  return RunLog::open({.dir = o.out_dir,
                       .resume = o.resume,
                       .schema = {{"segment", "policy", "budget"},
                                  {"segment"},
                                  {"n", "kl_sum", "kl2_sum", "kl_max", "top1", "nll_sum", "nll_full_sum",
                                   "kv_fraction", "seconds"}},
                       .fingerprint = o.fingerprint});
}

Result<std::vector<FidelityCell>> run_fidelity(const ModelRef& m, std::span<const int32_t> text_ids,
                                               const FidelityOptions& o) {
  VATP_ASSIGN_OR_RETURN(RunLog log, open_fidelity_log(o));
  return run_fidelity(m, text_ids, o, log);
}

Result<std::vector<FidelityCell>> run_fidelity(const ModelRef& m, std::span<const int32_t> text_ids,
                                               const FidelityOptions& o, RunLog& log) {
  namespace fs = std::filesystem;
  if (o.out_dir.empty()) return invalid_argument("an output directory is required (-o)");
  if (log.dir() != o.out_dir) return internal_error("the run log is not the one of " + o.out_dir);
  if (o.context < 1 || o.tokens < 1 || o.segments < 1) {
    return invalid_argument("context, tokens and segments must be >= 1");
  }
  const int64_t seg_len = o.context + o.tokens;
  if (static_cast<int64_t>(text_ids.size()) < seg_len * o.segments) {
    return invalid_argument("the text has " + std::to_string(text_ids.size()) + " tokens; " +
                            std::to_string(o.segments) + " segment(s) of " + std::to_string(o.context) +
                            " + " + std::to_string(o.tokens) + " need " +
                            std::to_string(seg_len * o.segments));
  }
  const int V = m.model.config().n_vocab;
  if (static_cast<double>(o.tokens) * V * 4.0 > 2.0 * 1024 * 1024 * 1024) {
    return invalid_argument(
        "--tokens " + std::to_string(o.tokens) +
        " would hold more than 2 GiB of reference log-probabilities; use fewer tokens and more "
        "segments");
  }
  // Budgets: in streaming mode fractions refer to the streamed tokens.
  std::vector<std::string> budgets = o.budgets;
  policy::PolicyFlags overrides = o.overrides;
  if (o.streaming) {
    overrides.schedule = "continuous";
    for (std::string& b : budgets) {
      VATP_ASSIGN_OR_RETURN(policy::Budget pb, policy::parse_budget(b));
      if (pb.kind == policy::Budget::Kind::kFraction) {
        b = std::to_string(std::max<int64_t>(1, static_cast<int64_t>(std::llround(pb.value * o.tokens))));
      }
    }
  }
  VATP_ASSIGN_OR_RETURN(std::vector<RunSpec> runs, expand_runs(o.policies, budgets, overrides));

  auto key = [](int seg, const RunSpec& r) {
    return std::to_string(seg) + '\t' + r.policy + '\t' + r.budget + '\t';
  };

  runtime::SessionOptions so;
  so.n_ctx = static_cast<int>(seg_len + 1);
  so.kv_type = o.kv_type;
  so.kv_rerotate = o.rerotate;
  so.sampling.temp = 0.0f;
  VATP_ASSIGN_OR_RETURN(auto source, runtime::Session::create(m.model, m.tok, m.pool, so));
  VATP_ASSIGN_OR_RETURN(auto worker, runtime::Session::create(m.model, m.tok, m.pool, so));
  std::vector<float> full_lp(static_cast<size_t>(o.tokens) * V), lp(V);
  Progress progress(static_cast<int64_t>(o.segments) * static_cast<int64_t>(runs.size()), o.progress);

  for (int seg = 0; seg < o.segments; ++seg) {
    const std::span<const int32_t> ids = text_ids.subspan(static_cast<size_t>(seg * seg_len), seg_len);
    const std::span<const int32_t> prompt = ids.first(static_cast<size_t>(o.context));
    const std::string input =
        "xxh64 " + hex64(xxh64(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(ids.data()),
                                                        ids.size_bytes())));
    std::vector<size_t> pending;
    for (size_t ri = 0; ri < runs.size(); ++ri) {
      auto done = log.done(key(seg, runs[ri]), input);
      if (!done.is_ok()) return done.status().with_context("segment " + std::to_string(seg));
      if (*done) {
        progress.skip();
      } else {
        pending.push_back(ri);
      }
    }
    if (pending.empty()) continue;
    VATP_ASSIGN_OR_RETURN(PrefillPlan planned, plan_prefills(runs, pending, o.context, so.n_ctx));
    const std::vector<PrefillGroup>& groups = planned.groups;
    const std::vector<size_t>& standalone = planned.standalone;
    // The reference: the full cache over the same segment.
    {
      source->reset();
      VATP_RETURN_IF_ERROR(source->prefill_shared(prompt, model::AttentionStatsRequest{}));
      policy::PolicyConfig full;
      VATP_RETURN_IF_ERROR(worker->fork_policy(*source, full));
      Acc ref;
      VATP_RETURN_IF_ERROR(teacher_force(*worker, ids, o.context, o.tokens, nullptr, &full_lp, ref, lp));
    }
    auto record = [&](size_t ri, const Acc& a, double kvf, double seconds) -> Status {
      json rec = {{"segment", seg},
                  {"policy", runs[ri].policy},
                  {"budget", runs[ri].budget},
                  {"n", a.n},
                  {"kl_sum", a.kl},
                  {"kl2_sum", a.kl2},
                  {"kl_max", a.kl_max},
                  {"top1", a.top1},
                  {"nll_sum", a.nll},
                  {"nll_full_sum", a.nll_full},
                  {"kv_fraction", kvf},
                  {"seconds", seconds}};
      VATP_RETURN_IF_ERROR(log.append(std::move(rec), input));
      progress.done("segment " + std::to_string(seg) + " " + runs[ri].policy + "@" + runs[ri].budget);
      return Status::ok();
    };
    for (const PrefillGroup& g : groups) {
      const auto t0 = Clock::now();
      source->reset();
      VATP_RETURN_IF_ERROR(source->prefill_shared(prompt, g.req));
      const double prefill_s = std::chrono::duration<double>(Clock::now() - t0).count() / g.runs.size();
      for (size_t ri : g.runs) {
        const auto t1 = Clock::now();
        Status st = worker->fork_policy(*source, runs[ri].cfg);
        const double kvf = kv_fraction(*worker);
        Acc a;
        if (st.is_ok()) st = teacher_force(*worker, ids, o.context, o.tokens, &full_lp, nullptr, a, lp);
        const double kv_end = o.streaming ? kv_fraction(*worker) : kvf;
        if (!st.is_ok())
          return st.with_context("policy " + runs[ri].policy + " at budget " + runs[ri].budget);
        VATP_RETURN_IF_ERROR(
            record(ri, a, kv_end, prefill_s + std::chrono::duration<double>(Clock::now() - t1).count()));
      }
    }
    for (size_t ri : standalone) {
      const auto t1 = Clock::now();
      runtime::SessionOptions o2 = so;
      o2.kv_policy = runs[ri].cfg;
      auto s = runtime::Session::create(m.model, m.tok, m.pool, o2);
      if (!s.is_ok()) return s.status();
      Status st = (*s)->begin_policy(o.context);
      if (st.is_ok()) st = (*s)->prefill(prompt);
      const double kvf = kv_fraction(**s);
      Acc a;
      if (st.is_ok()) st = teacher_force(**s, ids, o.context, o.tokens, &full_lp, nullptr, a, lp);
      const double kv_end = o.streaming ? kv_fraction(**s) : kvf;
      if (!st.is_ok()) return st.with_context("policy " + runs[ri].policy + " at budget " + runs[ri].budget);
      VATP_RETURN_IF_ERROR(record(ri, a, kv_end, std::chrono::duration<double>(Clock::now() - t1).count()));
    }
  }
  progress.finish();

  // Cells over the segments of this run.
  std::vector<FidelityCell> cells;
  for (const RunSpec& r : runs) {
    Acc a;
    double kvf = 0, secs = 0;
    int nrec = 0;
    for (const json& rec : log.records()) {
      if (rec["policy"] != r.policy || rec["budget"] != r.budget || rec["segment"].get<int>() >= o.segments)
        continue;
      a.n += rec["n"].get<int64_t>();
      a.kl += rec["kl_sum"].get<double>();
      a.kl2 += rec["kl2_sum"].get<double>();
      a.kl_max = std::max(a.kl_max, rec["kl_max"].get<double>());
      a.top1 += rec["top1"].get<int64_t>();
      a.nll += rec["nll_sum"].get<double>();
      a.nll_full += rec["nll_full_sum"].get<double>();
      kvf += rec["kv_fraction"].get<double>();
      secs += rec["seconds"].get<double>();
      ++nrec;
    }
    FidelityCell c;
    c.policy = r.policy;
    c.budget = r.budget;
    c.positions = a.n;
    if (a.n > 0) {
      const double n = static_cast<double>(a.n);
      c.kl_mean = a.kl / n;
      c.kl_stderr = a.n > 1 ? std::sqrt(std::max(0.0, (a.kl2 / n - c.kl_mean * c.kl_mean) / (n - 1))) : 0.0;
      c.kl_max = a.kl_max;
      c.top1 = 100.0 * static_cast<double>(a.top1) / n;
      c.ppl = std::exp(a.nll / n);
      c.ppl_full = std::exp(a.nll_full / n);
      c.ln_ppl_ratio = (a.nll - a.nll_full) / n;
      c.kv_fraction = kvf / nrec;
      c.seconds = secs;
    }
    cells.push_back(c);
  }
  // Summaries.
  json jc = json::array();
  std::ostringstream csv;
  csv << "policy,budget,positions,kl_mean,kl_stderr,kl_max,top1,ppl,ppl_full,ln_ppl_ratio,kv_fraction,"
         "seconds\n";
  for (const FidelityCell& c : cells) {
    jc.push_back({{"policy", c.policy},
                  {"budget", c.budget},
                  {"positions", c.positions},
                  {"kl_mean", c.kl_mean},
                  {"kl_stderr", c.kl_stderr},
                  {"kl_max", c.kl_max},
                  {"top1", c.top1},
                  {"ppl", c.ppl},
                  {"ppl_full", c.ppl_full},
                  {"ln_ppl_ratio", c.ln_ppl_ratio},
                  {"kv_fraction", c.kv_fraction},
                  {"seconds", c.seconds}});
    csv << c.policy << ',' << c.budget << ',' << c.positions << ',' << c.kl_mean << ',' << c.kl_stderr << ','
        << c.kl_max << ',' << c.top1 << ',' << c.ppl << ',' << c.ppl_full << ',' << c.ln_ppl_ratio << ','
        << c.kv_fraction << ',' << c.seconds << '\n';
  }
  const std::string stem = o.streaming ? "ppl_stream" : "fidelity";
  const json j = {{"command", o.command_line}, {"context", o.context},     {"tokens", o.tokens},
                  {"segments", o.segments},    {"streaming", o.streaming}, {"cells", jc}};
  auto write = [&](const std::string& name, const std::string& text) -> Status {
    return write_file_atomic((fs::path(o.out_dir) / name).string(), text);
  };
  VATP_RETURN_IF_ERROR(write(stem + ".json", j.dump(2) + "\n"));
  VATP_RETURN_IF_ERROR(write(stem + ".csv", csv.str()));
  VATP_RETURN_IF_ERROR(
      write(stem + ".md", "Command: `" + o.command_line + "`\n\n" + fidelity_markdown(cells, o.streaming)));
  std::vector<BudgetPoint> kl, top1;
  for (const FidelityCell& c : cells) {
    if (c.positions == 0) continue;
    kl.push_back({c.policy, c.budget, c.kl_mean});
    top1.push_back({c.policy, c.budget, c.top1});
  }
  VATP_RETURN_IF_ERROR(write_budget_plot((fs::path(o.out_dir) / (stem + "_kl.svg")).string(),
                                         "mean KL(full ‖ policy) vs KV budget", "mean KL (nats)", kl, true));
  VATP_RETURN_IF_ERROR(write_budget_plot((fs::path(o.out_dir) / (stem + "_top1.svg")).string(),
                                         "top-1 agreement with the full cache vs KV budget",
                                         "top-1 agreement (%)", top1, false));
  return cells;
}

std::string fidelity_markdown(const std::vector<FidelityCell>& cells, bool streaming) {
  std::ostringstream md;
  md << "| policy | budget | KV kept | positions | " << (streaming ? "PPL | PPL full | " : "")
     << "mean KL(full‖policy) | ± | max KL | top-1 % | ΔPPL | ln(PPL/PPL_full) |\n";
  md << "|---|---:|---:|---:|" << (streaming ? "---:|---:|" : "") << "---:|---:|---:|---:|---:|---:|\n";
  for (const FidelityCell& c : cells) {
    md << "| " << c.policy << " | " << c.budget << " | " << fixed(100.0 * c.kv_fraction, 1) << "% | "
       << c.positions << " | ";
    if (streaming) md << fixed(c.ppl, 3) << " | " << fixed(c.ppl_full, 3) << " | ";
    md << fixed(c.kl_mean, 4) << " | " << fixed(c.kl_stderr, 4) << " | " << fixed(c.kl_max, 3) << " | "
       << fixed(c.top1, 2) << " | " << fixed(c.ppl - c.ppl_full, 3) << " | " << fixed(c.ln_ppl_ratio, 4)
       << " |\n";
  }
  return md.str();
}

}  // namespace vatp::eval
