// `vatp eval score-longbench`: LongBench's eval.py on prediction files (no model), and
// `vatp eval longbench`: LongBench records → samples → the generation sweep (eval/sweep.h).
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/eval_common.h"
#include "eval/jsonl.h"
#include "eval/longbench_metrics.h"
#include "eval/longbench_tasks.h"

namespace vatp::cli {
namespace {

namespace lb = eval::longbench;
using nlohmann::json;

struct ScoreFlags {
  std::vector<std::string> preds;
  std::string task;
  bool e = false;
  bool json = false;
};

struct TaskScore {
  std::string task;
  size_t n = 0;
  double score = 0.0;                     // without --e
  std::map<std::string, double> buckets;  // with --e
};

// One prediction file, read as eval.py reads it: "pred", "answers", "all_classes" (the
// last line's value applies to the whole file) and, for LongBench-E, "length".
Result<TaskScore> score_file(const std::string& path, const std::string& task_flag, bool e) {
  const std::string task = task_flag.empty() ? lb::task_from_path(path) : task_flag;
  VATP_RETURN_IF_ERROR(lb::task_metric(task).status().with_context(path));
  VATP_ASSIGN_OR_RETURN(const auto records, eval::read_jsonl(path));
  auto file = lb::prediction_file(task, records, e);
  if (!file.is_ok()) return records.empty() ? file.status().with_context(path) : file.status();
  const std::vector<lb::ScoredPrediction>& preds = file->preds;
  const std::vector<std::string>& all_classes = file->all_classes;
  TaskScore out{task, preds.size(), 0.0, {}};
  if (e) {
    VATP_ASSIGN_OR_RETURN(out.buckets, lb::score_task_e(task, preds, all_classes));
  } else {
    VATP_ASSIGN_OR_RETURN(out.score, lb::score_task(task, preds, all_classes));
  }
  return out;
}

// Python's repr of a 2-decimal score ("23.4", "100.0", "nan").
std::string score_text(double v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  if (s.size() > 1 && s.back() == '0') s.pop_back();
  return s;
}

Status run_score(const ScoreFlags& fl) {
  if (!fl.task.empty() && fl.preds.size() > 1)
    return invalid_argument(
        "--task names the task of a single --pred file; with several files each "
        "file's name gives its task");
  std::vector<TaskScore> scores;
  for (const auto& p : fl.preds) {
    VATP_ASSIGN_OR_RETURN(auto s, score_file(p, fl.task, fl.e));
    scores.push_back(std::move(s));
  }
  if (fl.json) {
    // result.json's shape: task → score, or task → {bucket → score}; NaN as null.
    json out = json::object();
    for (const auto& s : scores) {
      if (fl.e) {
        json b = json::object();
        for (const auto& [k, v] : s.buckets) b[k] = std::isnan(v) ? json(nullptr) : json(v);
        out[s.task] = b;
      } else {
        out[s.task] = s.score;
      }
    }
    std::printf("%s\n", out.dump(2).c_str());
    return Status::ok();
  }
  for (const auto& s : scores) {
    if (fl.e) {
      std::printf("%s (n=%zu): 0-4k %s  4-8k %s  8k+ %s\n", s.task.c_str(), s.n,
                  score_text(s.buckets.at("0-4k")).c_str(), score_text(s.buckets.at("4-8k")).c_str(),
                  score_text(s.buckets.at("8k+")).c_str());
    } else {
      std::printf("%s (n=%zu): %s\n", s.task.c_str(), s.n, score_text(s.score).c_str());
    }
  }
  return Status::ok();
}

struct RunFlags {
  ModelFlags model;
  std::vector<std::string> data;
  std::string task;
  int64_t max_length = lb::kDefaultMaxLength;
  int64_t limit = 0;
  SweepFlags sweep;
};

Status run_longbench(const RunFlags& fl, CLI::App& cmd) {
  if (!fl.task.empty() && fl.data.size() > 1)
    return invalid_argument(
        "--task names the task of a single --data file; with several files each "
        "file's \"dataset\" field or name gives its task");
  if (fl.limit < 0) return invalid_argument("--limit must be >= 0");
  // Without a cap the context is sized for the longest record (800k tokens for some).
  if (fl.max_length < 1)
    return invalid_argument("--max-length must be >= 1 token, got " + std::to_string(fl.max_length));
  std::vector<eval::Sample> samples;
  for (const auto& path : fl.data) {
    VATP_ASSIGN_OR_RETURN(auto recs, eval::read_jsonl(path));
    // The whole file is checked, also the records past --limit.
    VATP_ASSIGN_OR_RETURN(const std::string task, lb::task_of_records(path, recs, fl.task));
    if (fl.limit > 0 && static_cast<int64_t>(recs.size()) > fl.limit)
      recs.resize(static_cast<size_t>(fl.limit));
    VATP_ASSIGN_OR_RETURN(auto s, lb::longbench_samples(task, recs, fl.max_length));
    if (s.empty()) return invalid_argument(path + ": no records");
    for (auto& x : s) samples.push_back(std::move(x));
  }
  VATP_ASSIGN_OR_RETURN(eval::SweepOptions opts, sweep_options(fl.sweep, cmd));
  // Before the model loads: a busy or stale output directory fails at once.
  VATP_ASSIGN_OR_RETURN(eval::RunLog log, eval::open_sweep_log(opts));
  VATP_ASSIGN_OR_RETURN(LoadedModel lm, load_model(fl.model));
  VATP_ASSIGN_OR_RETURN(eval::SweepSummary summary,
                        eval::run_generation_sweep(lm.ref(), samples, lb::longbench_score_fn(), opts, log));
  std::printf("%-22s %-12s %-8s %6s %8s\n", "task", "policy", "budget", "n", "score");
  for (const auto& c : summary.cells) {
    std::printf("%-22s %-12s %-8s %6lld %8.2f\n", c.task.c_str(), c.policy.c_str(), c.budget.c_str(),
                static_cast<long long>(c.n), c.score);
  }
  std::printf("%lld runs done, %lld skipped (already in %s/runs.jsonl)\n",
              static_cast<long long>(summary.runs_done), static_cast<long long>(summary.runs_skipped),
              opts.out_dir.c_str());
  return Status::ok();
}

}  // namespace

void add_eval_longbench_commands(CLI::App& eval, CommandFn& selected) {
  auto sf = std::make_shared<ScoreFlags>();
  CLI::App* score = eval.add_subcommand(
      "score-longbench", "Score LongBench prediction files exactly as LongBench's eval.py (no model)");
  score
      ->add_option("--pred", sf->preds,
                   "Prediction jsonl ({\"pred\", \"answers\", \"all_classes\"[, \"length\"]})")
      ->required();
  score->add_option("--task", sf->task,
                    "Task name (default: the file name up to the first '.', like eval.py)");
  score->add_flag("--e", sf->e, "LongBench-E: scores per length bucket (0-4k, 4-8k, 8k+)");
  score->add_flag("--json", sf->json, "Print a JSON object shaped like eval.py's result.json");
  score->callback([sf, &selected] { selected = [sf] { return run_score(*sf); }; });

  auto rf = std::make_shared<RunFlags>();
  CLI::App* run = eval.add_subcommand(
      "longbench",
      "LongBench v1 (16 English and code tasks): prompts as pred.py builds them, greedy decoding "
      "per KV policy × budget, scored as eval.py scores");
  add_model_flags(run, rf->model);
  run->add_option("--data", rf->data, "LongBench jsonl (input, context, answers, length, all_classes, _id)")
      ->required();
  run->add_option("--task", rf->task,
                  "Task name (default: the records' \"dataset\" field, else the file name)");
  run->add_option("--max-length", rf->max_length,
                  "Middle-truncate prompts longer than this many tokens (default 7500, for 8k models)");
  run->add_option("--limit", rf->limit, "Use only the first N records of each file (0: all)");
  add_sweep_flags(run, rf->sweep);
  run->callback([rf, run, &selected] { selected = [rf, run] { return run_longbench(*rf, *run); }; });
}

}  // namespace vatp::cli
