#include "eval/sweep_common.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "runtime/kv_evictor.h"

namespace vatp::eval {

using nlohmann::json;

Result<std::vector<RunSpec>> expand_runs(const std::vector<std::string>& policies,
                                         const std::vector<std::string>& budgets,
                                         const policy::PolicyFlags& overrides) {
  if (policies.empty()) return invalid_argument("no policies to run (--policies)");
  std::vector<RunSpec> runs;
  std::set<std::string> seen;
  for (const std::string& p : policies) {
    if (!seen.insert(p).second) return invalid_argument("policy '" + p + "' is listed twice");
    policy::PolicyFlags f = overrides;
    f.policy = p;
    if (p == "full") {
      f = policy::PolicyFlags{};  // the full cache has no settings to override
      f.policy = p;
      auto cfg = policy::config_from_flags(f);
      if (!cfg.is_ok()) return cfg.status().with_context("policy " + p);
      runs.push_back({p, "1", std::move(*cfg)});
      continue;
    }
    if (budgets.empty()) return invalid_argument("no budgets to run (--budgets)");
    std::set<std::string> seen_b;
    for (const std::string& b : budgets) {
      if (!seen_b.insert(b).second) return invalid_argument("budget '" + b + "' is listed twice");
      f.budget = b;
      auto cfg = policy::config_from_flags(f);
      if (!cfg.is_ok()) return cfg.status().with_context("policy " + p + " at budget " + b);
      runs.push_back({p, b, std::move(*cfg)});
    }
  }
  return runs;
}

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

Result<PrefillPlan> plan_prefills(const std::vector<RunSpec>& runs, const std::vector<size_t>& pending,
                                  int64_t prompt_len, int64_t n_ctx) {
  PrefillPlan plan;
  for (size_t ri : pending) {
    const policy::PolicyConfig& cfg = runs[ri].cfg;
    if (cfg.evict && policy::evicts_at(cfg, policy::Phase::kPrefillChunk)) {
      plan.standalone.push_back(ri);
      continue;
    }
    model::AttentionStatsRequest req;
    if (cfg.evict) {
      auto ev = runtime::KvEvictor::create(cfg, prompt_len, n_ctx);
      if (!ev.is_ok())
        return ev.status().with_context("policy " + runs[ri].policy + " at budget " + runs[ri].budget);
      if (const auto* r = ev->request(/*decoding=*/false)) req = *r;
    }
    bool placed = false;
    for (PrefillGroup& g : plan.groups) {
      model::AttentionStatsRequest merged = g.req;
      if (merge_request(merged, req)) {
        g.req = merged;
        g.runs.push_back(ri);
        placed = true;
        break;
      }
    }
    if (!placed) plan.groups.push_back({req, {ri}});
  }
  return plan;
}

std::string RunLog::key_of(const json& rec) const {
  std::string k;
  for (const std::string& f : keys_) {
    const json& v = rec.at(f);
    k += v.is_string() ? v.get<std::string>() : v.dump();
    k += '\t';
  }
  return k;
}

Result<RunLog> RunLog::open(const std::string& path, bool resume, std::vector<std::string> keys) {
  RunLog log;
  log.path_ = path;
  log.keys_ = std::move(keys);
  if (resume) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string all = ss.str();
      size_t begin = 0;
      int line_no = 0;
      while (begin < all.size()) {
        ++line_no;
        const size_t nl = all.find('\n', begin);
        if (nl == std::string::npos) break;  // partial last line: that run is redone
        const std::string line = all.substr(begin, nl - begin);
        begin = nl + 1;
        if (line.empty()) continue;
        json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
        bool ok = !j.is_discarded() && j.is_object();
        for (const std::string& k : log.keys_) ok = ok && j.contains(k);
        if (!ok) {
          return invalid_argument(path + ":" + std::to_string(line_no) +
                                  ": not a run record of this sweep (delete the file or use --no-resume)");
        }
        log.done_.insert(log.key_of(j));
        log.records_.push_back(std::move(j));
      }
    }
  }
  // Rewrite without a partial last line, so appends start on a fresh line.
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const json& r : log.records_) out << r.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
  if (!out) return io_error("cannot write " + path);
  return log;
}

Status RunLog::append(json rec) {
  std::ofstream out(path_, std::ios::binary | std::ios::app);
  out << rec.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
  out.flush();
  if (!out) return io_error("cannot append to " + path_);
  done_.insert(key_of(rec));
  records_.push_back(std::move(rec));
  return Status::ok();
}

namespace {
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
}  // namespace

void Progress::done(const std::string& what) {
  ++finished_;
  ++timed_;
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0_).count();
  const double eta = static_cast<double>(total_ - finished_) * (elapsed / static_cast<double>(timed_));
  std::fprintf(stderr, "\r[%lld/%lld] %5.1f%%  elapsed %s  ETA %s  %-40s", static_cast<long long>(finished_),
               static_cast<long long>(total_),
               100.0 * static_cast<double>(finished_) / std::max<int64_t>(1, total_),
               fmt_duration(elapsed).c_str(), fmt_duration(eta).c_str(), what.c_str());
  std::fflush(stderr);
}

void Progress::finish() const {
  if (enabled_ && timed_ > 0) std::fprintf(stderr, "\n");
}

}  // namespace vatp::eval
