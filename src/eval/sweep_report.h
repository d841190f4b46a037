// Writes a sweep's summary: summary.json, summary.csv, summary.md (one table per task,
// policies × budgets, plus the mean over tasks) and score-vs-budget plots.
#pragma once

#include <string>

#include "core/status.h"
#include "eval/sweep.h"

namespace vatp::eval {

Status write_sweep_report(const std::string& out_dir, const SweepSummary& summary,
                          const std::string& command_line);

// The Markdown tables alone (also used by docs/results.md generation).
std::string sweep_markdown(const SweepSummary& summary);

}  // namespace vatp::eval
