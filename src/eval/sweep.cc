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

#include "eval/prompt.h"
#include "eval/sweep_report.h"
#include "runtime/kv_evictor.h"
#include "runtime/session.h"

namespace vatp::eval {
namespace {

using nlohmann::json;

struct RunSpec {
  std::string policy, budget;  // labels
  policy::PolicyConfig cfg;
};

Result<std::vector<RunSpec>> expand_runs(const SweepOptions& o) {
  if (o.policies.empty()) return invalid_argument("no policies to run (--policies)");
  std::vector<RunSpec> runs;
  std::set<std::string> seen;
  for (const std::string& p : o.policies) {
    if (!seen.insert(p).second) return invalid_argument("policy '" + p + "' is listed twice");
    policy::PolicyFlags f = o.overrides;
    f.policy = p;
    if (p == "full") {
      f.budget.reset();
      auto cfg = policy::config_from_flags(f);
      if (!cfg.is_ok()) return cfg.status().with_context("policy " + p);
      runs.push_back({p, "1", std::move(*cfg)});
      continue;
    }
    if (o.budgets.empty()) return invalid_argument("no budgets to run (--budgets)");
    for (const std::string& b : o.budgets) {
      f.budget = b;
      auto cfg = policy::config_from_flags(f);
      if (!cfg.is_ok()) return cfg.status().with_context("policy " + p + " at budget " + b);
      runs.push_back({p, b, std::move(*cfg)});
    }
  }
  return runs;
}

// The union of two prefill statistics requests, if one prefill can serve both.
bool merge_request(model::AttentionStatsRequest& into, const model::AttentionStatsRequest& r) {
  if (into.reduce != r.reduce) return false;
  if (into.window_start != INT32_MAX && r.window_start != INT32_MAX && into.window_start != r.window_start) {
    return false;
  }
  into.accumulate = into.accumulate || r.accumulate;
  into.last = into.last || r.last;
  into.window_start = std::min(into.window_start, r.window_start);
  return true;
}

std::string run_key(const std::string& task, const std::string& id, const std::string& policy,
                    const std::string& budget) {
  return task + '\t' + id + '\t' + policy + '\t' + budget;
}

// Runs already in runs.jsonl. A last line without its newline (interrupted write) is
// dropped; any other malformed line is an error naming the line.
Result<std::vector<json>> load_runs(const std::filesystem::path& path) {
  std::vector<json> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  size_t begin = 0;
  int line_no = 0;
  while (begin < all.size()) {
    ++line_no;
    const size_t nl = all.find('\n', begin);
    if (nl == std::string::npos) break;  // partial last line
    const std::string line = all.substr(begin, nl - begin);
    begin = nl + 1;
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("task") || !j.contains("id") ||
        !j.contains("policy") || !j.contains("budget") || !j.contains("score")) {
      return invalid_argument(path.string() + ":" + std::to_string(line_no) +
                              ": not a run record (delete the file to start over)");
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::string fmt_duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  }
  return buf;
}

struct RunOutcome {
  std::string prediction;
  int64_t n_generated = 0;
  double kv_fraction = 1.0;
};

Result<RunOutcome> decode(runtime::Session& s, std::span<const int32_t> prompt, const Sample& sample) {
  RunOutcome o;
  const auto& st = s.stats();
  o.kv_fraction = st.kv_bytes_full > 0 ? static_cast<double>(st.kv_bytes_used) / st.kv_bytes_full : 1.0;
  auto ids = s.continue_generation(prompt, sample.max_new_tokens, [&](int32_t, std::string_view piece) {
    o.prediction.append(piece);
    return !(sample.stop_at_newline && piece.find('\n') != std::string_view::npos);
  });
  if (!ids.is_ok()) return ids.status();
  o.n_generated = static_cast<int64_t>(ids->size());
  return o;
}

}  // namespace

Result<SweepSummary> run_generation_sweep(const ModelRef& m, std::span<const Sample> samples,
                                          const ScoreFn& score, const SweepOptions& opts) {
  namespace fs = std::filesystem;
  using Clock = std::chrono::steady_clock;
  if (opts.out_dir.empty()) return invalid_argument("an output directory is required (-o)");
  if (samples.empty()) return invalid_argument("no samples to run");
  VATP_ASSIGN_OR_RETURN(std::vector<RunSpec> runs, expand_runs(opts));

  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  if (ec) return io_error("cannot create " + opts.out_dir + ": " + ec.message());
  const fs::path runs_path = fs::path(opts.out_dir) / "runs.jsonl";
  std::vector<json> records;
  if (opts.resume) {
    VATP_ASSIGN_OR_RETURN(records, load_runs(runs_path));
  } else {
    fs::remove(runs_path, ec);
  }
  std::set<std::string> done;
  for (const json& r : records) {
    done.insert(run_key(r["task"].get<std::string>(), r["id"].get<std::string>(),
                        r["policy"].get<std::string>(), r["budget"].get<std::string>()));
  }
  // Rewrite the file without a possibly partial last line, then append.
  {
    std::ofstream out(runs_path, std::ios::binary | std::ios::trunc);
    for (const json& r : records) out << r.dump() << '\n';
    if (!out) return io_error("cannot write " + runs_path.string());
  }
  std::ofstream runs_out(runs_path, std::ios::binary | std::ios::app);

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

  SweepSummary summary;
  const int64_t total = static_cast<int64_t>(samples.size() * runs.size());
  int64_t finished = 0;
  const auto t_start = Clock::now();
  double run_seconds_sum = 0.0;
  int64_t runs_timed = 0;

  for (size_t si = 0; si < samples.size(); ++si) {
    const Sample& sample = samples[si];
    const std::vector<int32_t>& prompt = prompts[si];
    const int64_t plen = static_cast<int64_t>(prompt.size());
    // Group the pending runs by a shareable prefill.
    struct Group {
      model::AttentionStatsRequest req;
      std::vector<size_t> runs;
    };
    std::vector<Group> groups;
    std::vector<size_t> standalone;
    for (size_t ri = 0; ri < runs.size(); ++ri) {
      if (done.count(run_key(sample.task, sample.id, runs[ri].policy, runs[ri].budget))) {
        ++summary.runs_skipped;
        ++finished;
        continue;
      }
      const policy::PolicyConfig& cfg = runs[ri].cfg;
      if (cfg.evict && policy::evicts_at(cfg, policy::Phase::kPrefillChunk)) {
        standalone.push_back(ri);
        continue;
      }
      model::AttentionStatsRequest req;
      if (cfg.evict) {
        auto ev = runtime::KvEvictor::create(cfg, plen, n_ctx);
        if (!ev.is_ok()) {
          return ev.status().with_context("sample " + sample.task + "/" + sample.id + ", policy " +
                                          runs[ri].policy + " at budget " + runs[ri].budget);
        }
        if (const auto* r = ev->request(/*decoding=*/false)) req = *r;
      }
      bool placed = false;
      for (Group& g : groups) {
        model::AttentionStatsRequest merged = g.req;
        if (merge_request(merged, req)) {
          g.req = merged;
          g.runs.push_back(ri);
          placed = true;
          break;
        }
      }
      if (!placed) groups.push_back({req, {ri}});
    }

    auto finish_run = [&](size_t ri, const RunOutcome& o, double seconds) -> Status {
      const double sc = score(sample, o.prediction);
      json rec = {{"task", sample.task},          {"id", sample.id},   {"policy", runs[ri].policy},
                  {"budget", runs[ri].budget},    {"score", sc},       {"pred", o.prediction},
                  {"answers", sample.answers},    {"n_prompt", plen},  {"n_generated", o.n_generated},
                  {"kv_fraction", o.kv_fraction}, {"seconds", seconds}};
      runs_out << rec.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
      runs_out.flush();
      if (!runs_out) return io_error("cannot append to " + runs_path.string());
      records.push_back(std::move(rec));
      ++summary.runs_done;
      ++finished;
      run_seconds_sum += seconds;
      ++runs_timed;
      if (opts.progress) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - t_start).count();
        const double eta = runs_timed > 0 ? (total - finished) * (elapsed / runs_timed) : 0.0;
        std::fprintf(stderr, "\r[%lld/%lld] %5.1f%%  elapsed %s  ETA %s  %s/%s %s@%s        ",
                     static_cast<long long>(finished), static_cast<long long>(total),
                     100.0 * finished / std::max<int64_t>(1, total), fmt_duration(elapsed).c_str(),
                     fmt_duration(eta).c_str(), sample.task.c_str(), sample.id.c_str(),
                     runs[ri].policy.c_str(), runs[ri].budget.c_str());
        std::fflush(stderr);
      }
      return Status::ok();
    };
    auto ctx_of = [&](size_t ri) {
      return "sample " + sample.task + "/" + sample.id + ", policy " + runs[ri].policy + " at budget " +
             runs[ri].budget;
    };

    for (const Group& g : groups) {
      const auto t0 = Clock::now();
      source->reset();
      VATP_RETURN_IF_ERROR(source->prefill_shared(prompt, g.req));
      // The prefill's time is shared by the group's runs.
      const double prefill_s = std::chrono::duration<double>(Clock::now() - t0).count() / g.runs.size();
      for (size_t ri : g.runs) {
        const auto t1 = Clock::now();
        Status st = worker->fork_policy(*source, runs[ri].cfg);
        if (!st.is_ok()) return st.with_context(ctx_of(ri));
        auto o = decode(*worker, prompt, sample);
        if (!o.is_ok()) return o.status().with_context(ctx_of(ri));
        VATP_RETURN_IF_ERROR(
            finish_run(ri, *o, prefill_s + std::chrono::duration<double>(Clock::now() - t1).count()));
      }
    }
    for (size_t ri : standalone) {
      const auto t1 = Clock::now();
      runtime::SessionOptions o2 = so;
      o2.kv_policy = runs[ri].cfg;
      auto s = runtime::Session::create(m.model, m.tok, m.pool, o2);
      if (!s.is_ok()) return s.status().with_context(ctx_of(ri));
      runtime::Session& sess = **s;
      Status st = sess.begin_policy(plen);
      if (st.is_ok()) st = sess.prefill(prompt);
      if (!st.is_ok()) return st.with_context(ctx_of(ri));
      auto o = decode(sess, prompt, sample);
      if (!o.is_ok()) return o.status().with_context(ctx_of(ri));
      VATP_RETURN_IF_ERROR(finish_run(ri, *o, std::chrono::duration<double>(Clock::now() - t1).count()));
    }
  }
  if (opts.progress) std::fprintf(stderr, "\n");
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
  for (const json& r : records) {
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
