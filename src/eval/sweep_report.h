// Writes a sweep's summary: summary.json, summary.csv, summary.md (one table per task,
// policies × budgets, plus the mean over tasks) and score-vs-budget plots.
#pragma once

#include <string>

#include "core/status.h"
#include "eval/sweep.h"

namespace vatp::eval {

Status write_sweep_report(const std::string& out_dir, const SweepSummary& summary,
                          const std::string& command_line);

// One SVG: value vs KV budget, one line per policy ("full" drawn flat across the
// budgets). Points are (policy, budget label, value); budget labels parse as budgets.
struct BudgetPoint {
  std::string policy, budget;
  double value = 0;
};
Status write_budget_plot(const std::string& path, const std::string& title, const std::string& y_label,
                         const std::vector<BudgetPoint>& points, bool log_y);

// The Markdown tables alone (also used by docs/results.md generation).
std::string sweep_markdown(const SweepSummary& summary);

}  // namespace vatp::eval
