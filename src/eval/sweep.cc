#include "eval/sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "core/hash.h"
#include "eval/prompt.h"
#include "eval/sweep_common.h"
#include "eval/sweep_report.h"
#include "runtime/engine.h"
#include "runtime/session.h"

namespace vatp::eval {
namespace {

using nlohmann::json;

struct RunOutcome {
  std::string prediction;
  int64_t n_generated = 0;
  double kv_fraction = 1.0;
};

double kv_fraction(int64_t used, int64_t full) {
  return full > 0 ? static_cast<double>(used) / static_cast<double>(full) : 1.0;
}

// Stop tokens banned while fewer than min_new_tokens are out (HF's min_length).
std::vector<int32_t> stop_tokens(const tokenizer::Tokenizer& tok, const Sample& sample) {
  std::vector<int32_t> stops = {tok.eos()};
  if (sample.stop_at_newline) {
    const std::vector<int32_t> nl = tok.encode("\n", /*add_special=*/false, /*parse_special=*/false);
    if (!nl.empty()) stops.push_back(nl.back());
  }
  return stops;
}

Result<RunOutcome> decode(runtime::Session& s, std::span<const int32_t> prompt, const Sample& sample) {
  RunOutcome o;
  o.kv_fraction = kv_fraction(s.stats().kv_bytes_used, s.stats().kv_bytes_full);
  const std::vector<int32_t> stops = stop_tokens(s.tokenizer(), sample);
  int produced = 0;
  if (sample.min_new_tokens > 0) s.ban_next_tokens(stops);
  auto ids = s.continue_generation(prompt, sample.max_new_tokens, [&](int32_t, std::string_view piece) {
    o.prediction.append(piece);
    if (++produced < sample.min_new_tokens) s.ban_next_tokens(stops);
    return !(sample.stop_at_newline && piece.find('\n') != std::string_view::npos);
  });
  if (!ids.is_ok()) return ids.status();
  o.n_generated = static_cast<int64_t>(ids->size());
  return o;
}

}  // namespace

std::string sample_digest(const Sample& s) {
  // Length-prefixed fields, so that no two different samples serialize alike.
  std::string buf;
  auto put = [&](std::string_view v) { buf += std::to_string(v.size()) + ':' + std::string(v); };
  put(s.prompt);
  put(s.answer_prefix);
  for (const std::string& a : s.answers) put(a);
  buf += '|';
  for (const std::string& c : s.all_classes) put(c);
  buf += '|' + std::to_string(s.chat) + ',' + std::to_string(s.truncate_to) + ',' +
         std::to_string(s.max_new_tokens) + ',' + std::to_string(s.stop_at_newline) + ',' +
         std::to_string(s.min_new_tokens);
  return "xxh64 " + hex64(xxh64(buf));
}

Result<RunLog> open_sweep_log(const SweepOptions& opts) {
  if (opts.out_dir.empty()) return invalid_argument("an output directory is required (-o)");
  return RunLog::open(
      {.dir = opts.out_dir,
       .resume = opts.resume,
       .schema = {{"task", "id", "policy", "budget"}, {}, {"score", "seconds", "kv_fraction"}},
       .fingerprint = opts.fingerprint});
}

Result<SweepSummary> run_generation_sweep(const ModelRef& m, std::span<const Sample> samples,
                                          const ScoreFn& score, const SweepOptions& opts) {
  VATP_ASSIGN_OR_RETURN(RunLog log, open_sweep_log(opts));
  return run_generation_sweep(m, samples, score, opts, log);
}

Result<SweepSummary> run_generation_sweep(const ModelRef& m, std::span<const Sample> samples,
                                          const ScoreFn& score, const SweepOptions& opts, RunLog& log) {
  using Clock = std::chrono::steady_clock;
  if (opts.out_dir.empty()) return invalid_argument("an output directory is required (-o)");
  if (log.dir() != opts.out_dir) return internal_error("the run log is not the one of " + opts.out_dir);
  if (samples.empty()) return invalid_argument("no samples to run");
  VATP_ASSIGN_OR_RETURN(std::vector<RunSpec> runs, expand_runs(opts.policies, opts.budgets, opts.overrides));
  auto key = [](const std::string& task, const std::string& id, const RunSpec& r) {
    return task + '\t' + id + '\t' + r.policy + '\t' + r.budget + '\t';
  };

  // Prompts and the context they need.
  std::optional<tokenizer::ChatFormat> chat;
  const bool any_chat = std::any_of(samples.begin(), samples.end(), [](const Sample& s) { return s.chat; });
  if (any_chat) {
    auto fmt = tokenizer::chat_format_for(m.model.gguf(), opts.chat_template);
    if (!fmt.is_ok()) return fmt.status().with_context("chat samples");
    chat = std::move(*fmt);
  }
  std::vector<std::vector<int32_t>> prompts;
  int64_t need_ctx = 0;
  std::set<std::string> ids_seen;
  for (const Sample& s : samples) {
    if (!ids_seen.insert(s.task + '\t' + s.id).second) {
      return invalid_argument("duplicate sample id " + s.task + "/" + s.id);
    }
    if (s.max_new_tokens <= 0)
      return invalid_argument("sample " + s.task + "/" + s.id + ": max_new_tokens <= 0");
    VATP_ASSIGN_OR_RETURN(std::vector<int32_t> ids, prompt_ids(m.tok, s, chat, opts.system_prompt));
    need_ctx = std::max<int64_t>(need_ctx, static_cast<int64_t>(ids.size()) + s.max_new_tokens + 1);
    prompts.push_back(std::move(ids));
  }
  const int64_t n_ctx = opts.n_ctx > 0 ? opts.n_ctx : need_ctx;
  if (need_ctx > n_ctx) {
    return out_of_range("the longest prompt plus its answer needs " + std::to_string(need_ctx) +
                        " tokens, more than the context of " + std::to_string(n_ctx));
  }
  if (n_ctx > m.model.config().n_ctx_train) {
    std::fprintf(stderr, "eval: warning: context %lld exceeds the model's training context %d\n",
                 static_cast<long long>(n_ctx), m.model.config().n_ctx_train);
  }

  runtime::SessionOptions so;
  so.n_ctx = static_cast<int>(n_ctx);
  so.kv_type = opts.kv_type;
  so.sampling.temp = 0.0f;  // greedy, as every protocol here
  so.sampling.repeat_penalty = 1.0f;
  VATP_ASSIGN_OR_RETURN(auto source, runtime::Session::create(m.model, m.tok, m.pool, so));
  VATP_ASSIGN_OR_RETURN(auto worker, runtime::Session::create(m.model, m.tok, m.pool, so));
  std::unique_ptr<runtime::Session> prefix;  // the prefix the groups share (shared_prefix)

  SweepSummary summary;
  Progress progress(static_cast<int64_t>(samples.size() * runs.size()), opts.progress);
  const auto t_start = Clock::now();
  std::vector<std::string> inputs;
  for (const Sample& s : samples) inputs.push_back(sample_digest(s));

  auto ctx_of = [&](size_t si, size_t ri) {
    return "sample " + samples[si].task + "/" + samples[si].id + ", policy " + runs[ri].policy +
           " at budget " + runs[ri].budget;
  };
  auto finish_run = [&](size_t si, size_t ri, const RunOutcome& o, double seconds) -> Status {
    const Sample& sample = samples[si];
    const double sc = score(sample, o.prediction);
    json rec = {{"task", sample.task},
                {"id", sample.id},
                {"policy", runs[ri].policy},
                {"budget", runs[ri].budget},
                {"score", sc},
                {"pred", o.prediction},
                {"answers", sample.answers},
                {"n_prompt", static_cast<int64_t>(prompts[si].size())},
                {"n_generated", o.n_generated},
                {"kv_fraction", o.kv_fraction},
                {"seconds", seconds}};
    VATP_RETURN_IF_ERROR(log.append(std::move(rec), inputs[si]));
    ++summary.runs_done;
    progress.done(sample.task + "/" + sample.id + " " + runs[ri].policy + "@" + runs[ri].budget);
    return Status::ok();
  };
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };

  // --parallel: runs go to the engine (forks of a shared prefill as prefilled sequences)
  // and decode together; the next sample is prepared when fewer than `parallel` run.
  std::unique_ptr<runtime::Engine> engine;
  struct InFlight {
    size_t si, ri;
    Clock::time_point t0;
    double prefill_s;
  };
  std::map<int64_t, InFlight> in_flight;
  if (opts.parallel > 1) {
    runtime::EngineOptions eo;
    eo.n_ctx = so.n_ctx;
    eo.parallel = opts.parallel;
    eo.n_batch = so.n_batch;
    eo.batch_tokens = std::max(512, so.n_batch);
    eo.kv_type = so.kv_type;
    eo.max_queue = 1 << 20;
    VATP_ASSIGN_OR_RETURN(engine, runtime::Engine::create(m.model, m.tok, m.pool, eo));
  }
  auto engine_request = [&](size_t si, size_t ri) {
    const Sample& sample = samples[si];
    runtime::Request r;
    r.prompt = prompts[si];
    r.max_tokens = sample.max_new_tokens;
    r.sampling = so.sampling;
    r.kv_policy = runs[ri].cfg;
    r.min_tokens = sample.min_new_tokens;
    r.banned_before_min = stop_tokens(m.tok, sample);
    const bool at_newline = sample.stop_at_newline;
    r.on_token = [at_newline](int32_t, std::string_view piece) {
      return !(at_newline && piece.find('\n') != std::string_view::npos);
    };
    return r;
  };
  auto collect = [&]() -> Status {
    for (runtime::Completion& c : engine->take_completed()) {
      const auto it = in_flight.find(c.id);
      if (it == in_flight.end()) return internal_error("the engine finished an unknown request");
      const InFlight f = it->second;
      in_flight.erase(it);
      if (!c.status.is_ok()) return c.status.with_context(ctx_of(f.si, f.ri));
      const RunOutcome o{c.text, static_cast<int64_t>(c.tokens.size()),
                         kv_fraction(c.prompt_kv_used, c.prompt_kv_full)};
      VATP_RETURN_IF_ERROR(finish_run(f.si, f.ri, o, f.prefill_s + seconds_since(f.t0)));
    }
    return Status::ok();
  };
  auto step_until = [&](size_t load) -> Status {
    while (in_flight.size() > load) {
      VATP_ASSIGN_OR_RETURN(bool more, engine->step());
      VATP_RETURN_IF_ERROR(collect());
      if (!more && !in_flight.empty()) return internal_error("the engine stopped with runs in flight");
    }
    return Status::ok();
  };

  for (size_t si = 0; si < samples.size(); ++si) {
    const Sample& sample = samples[si];
    const std::vector<int32_t>& prompt = prompts[si];
    const int64_t plen = static_cast<int64_t>(prompt.size());
    // Group the pending runs by a shareable prefill.
    std::vector<size_t> pending;
    for (size_t ri = 0; ri < runs.size(); ++ri) {
      auto done = log.done(key(sample.task, sample.id, runs[ri]), inputs[si]);
      if (!done.is_ok()) return done.status().with_context("sample " + sample.task + "/" + sample.id);
      if (*done) {
        ++summary.runs_skipped;
        progress.skip();
      } else {
        pending.push_back(ri);
      }
    }
    auto planned = plan_prefills(runs, pending, plen, n_ctx);
    if (!planned.is_ok()) return planned.status().with_context("sample " + sample.task + "/" + sample.id);

    const std::vector<PrefillGroup>& groups = planned->groups;
    const std::optional<SharedPrefix> sp = shared_prefix(groups, plen, so.n_batch);
    double prefix_s = 0.0;  // shared by every group
    if (sp) {
      const auto t0 = Clock::now();
      if (!prefix) {
        VATP_ASSIGN_OR_RETURN(prefix, runtime::Session::create(m.model, m.tok, m.pool, so));
      }
      prefix->reset();
      VATP_RETURN_IF_ERROR(prefix->prefill_shared(
          std::span<const int32_t>(prompt).first(static_cast<size_t>(sp->split)), sp->req));
      prefix_s = seconds_since(t0) / static_cast<double>(groups.size());
    }
    for (const PrefillGroup& g : groups) {
      const auto t0 = Clock::now();
      if (sp) {
        VATP_RETURN_IF_ERROR(source->copy_sequence_from(*prefix));
        VATP_RETURN_IF_ERROR(source->continue_shared(
            std::span<const int32_t>(prompt).subspan(static_cast<size_t>(sp->split)), g.req));
      } else {
        source->reset();
        VATP_RETURN_IF_ERROR(source->prefill_shared(prompt, g.req));
      }
      // The prefill's time is shared by the group's runs.
      const double prefill_s = (prefix_s + seconds_since(t0)) / static_cast<double>(g.runs.size());
      for (size_t ri : g.runs) {
        const auto t1 = Clock::now();
        if (engine) {
          Result<runtime::Sequence> fork = source->fork_sequence(runs[ri].cfg, so.sampling);
          if (!fork.is_ok()) return fork.status().with_context(ctx_of(si, ri));
          Result<int64_t> id = engine->submit_prefilled(engine_request(si, ri), std::move(fork).value());
          if (!id.is_ok()) return id.status().with_context(ctx_of(si, ri));
          in_flight[*id] = InFlight{si, ri, t1, prefill_s};
          continue;
        }
        Status st = worker->fork_policy(*source, runs[ri].cfg);
        if (!st.is_ok()) return st.with_context(ctx_of(si, ri));
        auto o = decode(*worker, prompt, sample);
        if (!o.is_ok()) return o.status().with_context(ctx_of(si, ri));
        VATP_RETURN_IF_ERROR(finish_run(si, ri, *o, prefill_s + seconds_since(t1)));
      }
    }
    for (size_t ri : planned->standalone) {
      const auto t1 = Clock::now();
      if (engine) {
        Result<int64_t> id = engine->submit(engine_request(si, ri));
        if (!id.is_ok()) return id.status().with_context(ctx_of(si, ri));
        in_flight[*id] = InFlight{si, ri, t1, 0.0};
        continue;
      }
      runtime::SessionOptions o2 = so;
      o2.kv_policy = runs[ri].cfg;
      auto s = runtime::Session::create(m.model, m.tok, m.pool, o2);
      if (!s.is_ok()) return s.status().with_context(ctx_of(si, ri));
      runtime::Session& sess = **s;
      Status st = sess.begin_policy(plen);
      if (st.is_ok()) st = sess.prefill(prompt);
      if (!st.is_ok()) return st.with_context(ctx_of(si, ri));
      auto o = decode(sess, prompt, sample);
      if (!o.is_ok()) return o.status().with_context(ctx_of(si, ri));
      VATP_RETURN_IF_ERROR(finish_run(si, ri, *o, seconds_since(t1)));
    }
    if (engine) VATP_RETURN_IF_ERROR(step_until(static_cast<size_t>(opts.parallel) - 1));
  }
  if (engine) VATP_RETURN_IF_ERROR(step_until(0));
  progress.finish();
  summary.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();

  // Cells over the records of this sweep's samples and runs (a resumed file may hold more).
  std::set<std::string> sample_keys;
  for (const Sample& s : samples) sample_keys.insert(s.task + '\t' + s.id);
  std::map<std::tuple<std::string, std::string, std::string>, SweepCell> cells;
  std::vector<std::tuple<std::string, std::string, std::string>> order;
  for (const Sample& s : samples) {
    for (const RunSpec& r : runs) {
      auto key = std::make_tuple(s.task, r.policy, r.budget);
      if (!cells.count(key)) {
        cells[key] = SweepCell{s.task, r.policy, r.budget};
        order.push_back(key);
      }
    }
  }
  for (const json& r : log.records()) {
    const std::string task = r["task"].get<std::string>();
    if (!sample_keys.count(task + '\t' + r["id"].get<std::string>())) continue;
    auto it = cells.find({task, r["policy"].get<std::string>(), r["budget"].get<std::string>()});
    if (it == cells.end()) continue;
    SweepCell& c = it->second;
    c.n += 1;
    c.score += r["score"].get<double>();
    c.seconds += r.value("seconds", 0.0);
    c.mean_kv_fraction += r.value("kv_fraction", 1.0);
  }
  for (const auto& k : order) {
    SweepCell c = cells[k];
    if (c.n > 0) {
      c.score = 100.0 * c.score / c.n;
      c.mean_kv_fraction /= c.n;
    }
    summary.cells.push_back(std::move(c));
  }
  VATP_RETURN_IF_ERROR(write_sweep_report(opts.out_dir, summary, opts.command_line));
  return summary;
}

}  // namespace vatp::eval
