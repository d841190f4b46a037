// Pieces shared by the sweeps (generation, fidelity, streaming perplexity): the list of
// (policy, budget) runs, merging prefill statistics requests, the resumable run log and
// the progress line.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/dir_lock.h"
#include "core/status.h"
#include "eval/fingerprint.h"
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

// Groups differ only in the statistics of their observation windows at the prompt's end
// (K/V and logits do not depend on statistics), so the part of the prompt before every
// window can be prefilled once for all of them: `split` tokens, a multiple of n_batch (so
// every forward call is the one a straight prefill makes, and the accumulated statistics
// sum in the same order), with `req` (the groups' accumulation; no window, no last row).
// Each group then prefills only the rest on a copy. None when there is one group, the
// groups' statistics layouts (per query head or not) differ, two accumulating groups
// reduce differently, or no split would help.
struct SharedPrefix {
  int64_t split = 0;
  model::AttentionStatsRequest req;
};
std::optional<SharedPrefix> shared_prefix(const std::vector<PrefillGroup>& groups, int64_t prompt_len,
                                          int n_batch);

// What a run log's records hold: the fields that name a run (the key; strings, except
// those also in integer_keys) and the numbers the summaries read.
struct RunLogSchema {
  std::vector<std::string> keys;
  std::vector<std::string> integer_keys;
  std::vector<std::string> numbers;
};

// One checked record of a run log and its 1-based line.
struct LoggedRun {
  nlohmann::json rec;
  int64_t line = 0;
};

// The records of a runs.jsonl text, checked: a last line without its newline (an
// interrupted write) is left out; every other line must be a JSON object with the
// schema's fields, made with `fp` (Fingerprint::difference), and no two records may have
// the same key. Every error names `path` and the line(s). Pure, for RunLog::open and the
// fuzz target.
Result<std::vector<LoggedRun>> parse_run_log(std::string_view text, const std::string& path,
                                             const RunLogSchema& schema, const Fingerprint& fp);

// The key of a record: its key fields joined by tabs (strings as they are, numbers as JSON).
std::string run_key(const nlohmann::json& rec, const std::vector<std::string>& keys);

// OUT/runs.jsonl: one JSON object per finished run, appended and flushed as runs end,
// each with the sweep's fingerprint and the digest of its input. The log holds OUT's
// DirLock for as long as it lives, so one sweep at a time writes into a directory.
class RunLog {
 public:
  struct Options {
    std::string dir;
    // false: start over; a previous runs.jsonl is moved to runs.jsonl.prev.
    bool resume = true;
    RunLogSchema schema;
    // The "vatp" part (version and revision) is added by open().
    Fingerprint fingerprint;
  };
  static Result<RunLog> open(Options o);

  // Whether the run `key` is logged. A run logged from another input (`input` is the
  // digest of the prompt or tokens it ran on) is an error naming its line.
  Result<bool> done(const std::string& key, const std::string& input) const;
  const std::vector<nlohmann::json>& records() const { return records_; }
  Status append(nlohmann::json rec, const std::string& input);
  std::string key_of(const nlohmann::json& rec) const { return run_key(rec, schema_.keys); }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return lock_.dir(); }

 private:
  DirLock lock_;
  std::string path_;
  RunLogSchema schema_;
  Fingerprint fingerprint_;
  std::vector<nlohmann::json> records_;
  std::vector<int64_t> lines_;          // of records_, in the file
  int64_t n_lines_ = 0;                 // lines in the file
  std::map<std::string, size_t> done_;  // key → index into records_
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
