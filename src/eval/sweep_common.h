// Pieces shared by the sweeps (generation, fidelity, streaming perplexity): the list of
// (policy, budget) runs, merging prefill statistics requests, the resumable run log and
// the progress line.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/attention.h"
#include "policy/flags.h"

namespace vatp::eval {

struct RunSpec {
  std::string policy, budget;  // labels: preset name, budget as given ("1" for full)
  policy::PolicyConfig cfg;
};
// Every policy at every budget; "full" once. Duplicates and bad values are errors.
Result<std::vector<RunSpec>> expand_runs(const std::vector<std::string>& policies,
                                         const std::vector<std::string>& budgets,
                                         const policy::PolicyFlags& overrides);

// The union of two prefill statistics requests into `into`, if one prefill can serve
// both (same group reduction, compatible observation windows).
bool merge_request(model::AttentionStatsRequest& into, const model::AttentionStatsRequest& r);

// The pending runs of one prompt split by how they prefill: groups that can share one
// prefill (statistics requests merged) and runs that must prefill alone (chunked).
struct PrefillGroup {
  model::AttentionStatsRequest req;
  std::vector<size_t> runs;  // indices into the RunSpec list
};
struct PrefillPlan {
  std::vector<PrefillGroup> groups;
  std::vector<size_t> standalone;
};
Result<PrefillPlan> plan_prefills(const std::vector<RunSpec>& runs, const std::vector<size_t>& pending,
                                  int64_t prompt_len, int64_t n_ctx);

// OUT/runs.jsonl: one JSON object per finished run, appended and flushed as runs end.
// On open, a last line without its newline (an interrupted write) is dropped; any other
// malformed line is an error naming the file and line. Records need the fields `keys`.
class RunLog {
 public:
  static Result<RunLog> open(const std::string& path, bool resume, std::vector<std::string> keys);
  bool done(const std::string& key) const { return done_.count(key) > 0; }
  const std::vector<nlohmann::json>& records() const { return records_; }
  Status append(nlohmann::json rec);
  std::string key_of(const nlohmann::json& rec) const;

 private:
  std::string path_;
  std::vector<std::string> keys_;
  std::vector<nlohmann::json> records_;
  std::set<std::string> done_;
};

// "[12/270]  4.4%  elapsed 1m02s  ETA 22m31s  <what>" on stderr, rewritten in place.
class Progress {
 public:
  Progress(int64_t total, bool enabled) : total_(total), enabled_(enabled), t0_(Clock::now()) {}
  void skip() { ++finished_; }
  void done(const std::string& what);
  void finish() const;

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_, finished_ = 0, timed_ = 0;
  bool enabled_;
  Clock::time_point t0_;
};

}  // namespace vatp::eval
