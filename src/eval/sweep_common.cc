#include "eval/sweep_common.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/version.h"
#include "eval/jsonl.h"
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

std::optional<SharedPrefix> shared_prefix(const std::vector<PrefillGroup>& groups, int64_t prompt_len,
                                          int n_batch) {
  if (groups.size() < 2 || n_batch < 1) return std::nullopt;
  SharedPrefix p;
  auto per_head = [](const PrefillGroup& g) { return g.req.reduce == model::GroupReduce::PerHead; };
  p.req.reduce = groups.front().req.reduce;
  int64_t first_window = prompt_len;
  for (const PrefillGroup& g : groups) {
    // One statistics layout for every copy; one reduction for the shared accumulation.
    if (per_head(g) != per_head(groups.front())) return std::nullopt;
    first_window = std::min<int64_t>(first_window, g.req.window_start);
    if (!g.req.accumulate) continue;
    if (p.req.accumulate && p.req.reduce != g.req.reduce) return std::nullopt;
    p.req.accumulate = true;
    p.req.reduce = g.req.reduce;
  }
  // At least one token is left to each group: its last row gives the logits.
  p.split = std::min<int64_t>(first_window, prompt_len - 1) / n_batch * n_batch;
  if (p.split < n_batch) return std::nullopt;
  return p;
}

std::string run_key(const json& rec, const std::vector<std::string>& keys) {
  std::string k;
  for (const std::string& f : keys) {
    const json& v = rec.at(f);
    k += v.is_string() ? v.get<std::string>() : v.dump();
    k += '\t';
  }
  return k;
}

namespace {

// "task=code id=0 policy=h2o budget=0.5", for messages.
std::string display_key(const json& rec, const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& f : keys) {
    const json& v = rec.at(f);
    out += (out.empty() ? "" : " ") + f + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

Status check_fields(const JsonlRecord& r, const RunLogSchema& schema) {
  for (const std::string& k : schema.keys) {
    if (!r.has(k)) return r.error("missing field \"" + k + "\" (not a run record of this sweep)");
    const json& v = r.value.at(k);
    const bool integer =
        std::find(schema.integer_keys.begin(), schema.integer_keys.end(), k) != schema.integer_keys.end();
    if (integer ? !v.is_number_integer() : !v.is_string())
      return r.error("field \"" + k + "\" must be " + (integer ? "an integer" : "a string") + ", got " +
                     v.type_name());
  }
  for (const std::string& n : schema.numbers) {
    if (!r.has(n)) return r.error("missing field \"" + n + "\"");
    const json& v = r.value.at(n);
    if (!v.is_number()) return r.error("field \"" + n + "\" must be a number, got " + v.type_name());
  }
  return Status::ok();
}

const char* kStartOver = "; use --no-resume to start over (it moves runs.jsonl to runs.jsonl.prev)";

}  // namespace

Result<std::vector<LoggedRun>> parse_run_log(std::string_view text, const std::string& path,
                                             const RunLogSchema& schema, const Fingerprint& fp) {
  // An interrupted append leaves a last line without its newline: that run is redone.
  const size_t last_nl = text.rfind('\n');
  text = last_nl == std::string_view::npos ? std::string_view() : text.substr(0, last_nl + 1);
  VATP_ASSIGN_OR_RETURN(std::vector<JsonlRecord> recs, parse_jsonl(text, path));
  std::vector<LoggedRun> out;
  std::map<std::string, int64_t> line_of;
  for (JsonlRecord& r : recs) {
    VATP_RETURN_IF_ERROR(check_fields(r, schema));
    const std::string diff = fp.difference(r.has("fingerprint") ? r.value.at("fingerprint") : json());
    if (!diff.empty())
      return invalid_argument(path + " line " + std::to_string(r.line) + " was made with " + diff +
                              kStartOver);
    if (r.has("input") && !r.value.at("input").is_string())
      return r.error(std::string("field \"input\" must be a string, got ") + r.value.at("input").type_name());
    const auto [it, fresh] = line_of.emplace(run_key(r.value, schema.keys), r.line);
    if (!fresh) {
      return data_loss(path + " lines " + std::to_string(it->second) + " and " + std::to_string(r.line) +
                       " hold the same run (" + display_key(r.value, schema.keys) +
                       "), which would be counted twice; delete one" + kStartOver);
    }
    out.push_back({std::move(r.value), r.line});
  }
  return out;
}

Result<RunLog> RunLog::open(Options o) {
  namespace fs = std::filesystem;
  VATP_ASSIGN_OR_RETURN(DirLock lock, DirLock::acquire(o.dir));
  RunLog log;
  log.lock_ = std::move(lock);
  log.path_ = (fs::path(o.dir) / "runs.jsonl").string();
  log.schema_ = std::move(o.schema);
  log.fingerprint_.add("vatp", version_string());
  for (const Fingerprint::Part& p : o.fingerprint.parts()) log.fingerprint_.add(p.name, p.value);
  std::error_code ec;
  if (!fs::exists(log.path_, ec)) return log;
  if (!o.resume) {
    fs::rename(log.path_, log.path_ + ".prev", ec);
    if (ec) return io_error("cannot move " + log.path_ + " to " + log.path_ + ".prev: " + ec.message());
    std::fprintf(stderr, "eval: --no-resume: moved the previous %s to %s.prev\n", log.path_.c_str(),
                 log.path_.c_str());
    return log;
  }
  std::ifstream in(log.path_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) return io_error("cannot read " + log.path_);
  const std::string text = ss.str();
  VATP_ASSIGN_OR_RETURN(std::vector<LoggedRun> runs,
                        parse_run_log(text, log.path_, log.schema_, log.fingerprint_));
  const size_t kept = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  if (kept < text.size()) {
    // Cut the interrupted last line so that appends start on a fresh line.
    fs::resize_file(log.path_, kept, ec);
    if (ec) return io_error("cannot truncate " + log.path_ + ": " + ec.message());
  }
  log.n_lines_ = static_cast<int64_t>(std::count(text.begin(), text.begin() + kept, '\n'));
  for (LoggedRun& r : runs) {
    log.done_[log.key_of(r.rec)] = log.records_.size();
    log.lines_.push_back(r.line);
    log.records_.push_back(std::move(r.rec));
  }
  return log;
}

Result<bool> RunLog::done(const std::string& key, const std::string& input) const {
  const auto it = done_.find(key);
  if (it == done_.end()) return false;
  const json& rec = records_[it->second];
  const std::string logged = rec.contains("input") ? rec.at("input").get<std::string>() : "";
  if (logged != input) {
    return invalid_argument(path_ + " line " + std::to_string(lines_[it->second]) +
                            " holds this run made from a different input (" + logged + "; now " + input +
                            ")" + kStartOver);
  }
  return true;
}

Status RunLog::append(json rec, const std::string& input) {
  rec["fingerprint"] = fingerprint_.to_json();
  rec["input"] = input;
  std::ofstream out(path_, std::ios::binary | std::ios::app);
  out << rec.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
  out.flush();
  if (!out) return io_error("cannot append to " + path_);
  done_[key_of(rec)] = records_.size();
  lines_.push_back(++n_lines_);
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
