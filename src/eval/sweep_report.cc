#include "eval/sweep_report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "core/output_file.h"
#include "eval/plot_svg.h"
#include "policy/flags.h"

namespace vatp::eval {
namespace {

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

Status write_file(const std::filesystem::path& p, const std::string& text) {
  return write_file_atomic(p.string(), text);
}

// Policies and budgets in first-seen order.
struct Axes {
  std::vector<std::string> tasks, policies, budgets;
};
Axes axes_of(const SweepSummary& s) {
  Axes a;
  std::set<std::string> t, p, b;
  for (const SweepCell& c : s.cells) {
    if (t.insert(c.task).second) a.tasks.push_back(c.task);
    if (p.insert(c.policy).second) a.policies.push_back(c.policy);
    if (c.policy != "full" && b.insert(c.budget).second) a.budgets.push_back(c.budget);
  }
  return a;
}

}  // namespace

std::string sweep_markdown(const SweepSummary& s) {
  const Axes a = axes_of(s);
  std::map<std::tuple<std::string, std::string, std::string>, const SweepCell*> at;
  for (const SweepCell& c : s.cells) at[{c.task, c.policy, c.budget}] = &c;
  std::ostringstream md;
  auto table = [&](const std::string& title, auto value_of) {
    md << "| " << title << " |";
    for (const std::string& b : a.budgets) md << " budget " << b << " |";
    md << "\n|---|";
    for (size_t i = 0; i < a.budgets.size(); ++i) md << "---:|";
    md << "\n";
    for (const std::string& p : a.policies) {
      md << "| " << p << " |";
      for (const std::string& b : a.budgets)
        md << " " << value_of(p, p == "full" ? std::string("1") : b) << " |";
      md << "\n";
    }
    md << "\n";
  };
  for (const std::string& t : a.tasks) {
    table(t, [&](const std::string& p, const std::string& b) -> std::string {
      auto it = at.find({t, p, b});
      if (it == at.end() || it->second->n == 0) return "–";
      return fixed2(it->second->score);
    });
  }
  if (a.tasks.size() > 1) {
    table("mean over tasks", [&](const std::string& p, const std::string& b) -> std::string {
      double sum = 0;
      for (const std::string& t : a.tasks) {
        auto it = at.find({t, p, b});
        if (it == at.end() || it->second->n == 0) return "–";
        sum += it->second->score;
      }
      return fixed2(sum / a.tasks.size());
    });
  }
  return md.str();
}

Status write_budget_plot(const std::string& path, const std::string& title, const std::string& y_label,
                         const std::vector<BudgetPoint>& points, bool log_y) {
  std::vector<std::string> policies;
  std::set<std::string> seen;
  double bmin = 0, bmax = 0;
  bool any_budget = false, all_fraction = true;
  for (const BudgetPoint& p : points) {
    if (seen.insert(p.policy).second) policies.push_back(p.policy);
    if (p.policy == "full") continue;
    VATP_ASSIGN_OR_RETURN(policy::Budget b, policy::parse_budget(p.budget));
    all_fraction = all_fraction && b.kind == policy::Budget::Kind::kFraction;
    bmin = any_budget ? std::min(bmin, b.value) : b.value;
    bmax = any_budget ? std::max(bmax, b.value) : b.value;
    any_budget = true;
  }
  if (!any_budget) return Status::ok();  // only the full cache: nothing to plot against
  plot::XyChart c;
  c.title = title;
  c.x = plot::Axis(all_fraction ? "KV budget (fraction of the prompt)" : "KV budget", plot::Scale::kLog);
  c.y = plot::Axis(y_label, log_y ? plot::Scale::kLog : plot::Scale::kLinear);
  for (const std::string& name : policies) {
    std::vector<std::pair<double, double>> xy;
    for (const BudgetPoint& p : points) {
      if (p.policy != name) continue;
      if (name == "full") {
        xy = {{bmin, p.value}, {bmax, p.value}};
        break;
      }
      VATP_ASSIGN_OR_RETURN(policy::Budget b, policy::parse_budget(p.budget));
      xy.emplace_back(b.value, p.value);
    }
    std::sort(xy.begin(), xy.end());
    std::vector<double> x, y;
    for (const auto& [a, b] : xy) {
      if (log_y && b <= 0) continue;  // a zero on a log axis has no place; the table has it
      x.push_back(a);
      y.push_back(b);
    }
    if (x.empty()) continue;
    plot::Series ser = plot::line_series(name, std::move(x), std::move(y));
    ser.mark = name == "full" ? plot::Mark::kLine : plot::Mark::kLineAndPoints;
    c.series.push_back(std::move(ser));
  }
  if (c.series.empty()) return Status::ok();
  return plot::write_svg(path, c);
}

Status write_sweep_report(const std::string& out_dir, const SweepSummary& s,
                          const std::string& command_line) {
  namespace fs = std::filesystem;
  using nlohmann::json;
  const fs::path dir(out_dir);
  json cells = json::array();
  std::ostringstream csv;
  csv << "task,policy,budget,n,score,seconds,mean_kv_fraction\n";
  for (const SweepCell& c : s.cells) {
    cells.push_back({{"task", c.task},
                     {"policy", c.policy},
                     {"budget", c.budget},
                     {"n", c.n},
                     {"score", c.score},
                     {"seconds", c.seconds},
                     {"mean_kv_fraction", c.mean_kv_fraction}});
    csv << c.task << ',' << c.policy << ',' << c.budget << ',' << c.n << ',' << fixed2(c.score) << ','
        << fixed2(c.seconds) << ',' << c.mean_kv_fraction << '\n';
  }
  const json j = {{"command", command_line},
                  {"runs_done", s.runs_done},
                  {"runs_skipped", s.runs_skipped},
                  {"seconds", s.seconds},
                  {"cells", cells}};
  VATP_RETURN_IF_ERROR(write_file(dir / "summary.json", j.dump(2) + "\n"));
  VATP_RETURN_IF_ERROR(write_file(dir / "summary.csv", csv.str()));
  std::string md =
      "Scores × 100 (mean over samples). Command: `" + command_line + "`\n\n" + sweep_markdown(s);
  VATP_RETURN_IF_ERROR(write_file(dir / "summary.md", md));
  const Axes a = axes_of(s);
  for (const std::string& t : a.tasks) {
    std::vector<BudgetPoint> pts;
    for (const SweepCell& c : s.cells) {
      if (c.task == t && c.n > 0) pts.push_back({c.policy, c.budget, c.score});
    }
    VATP_RETURN_IF_ERROR(write_budget_plot((dir / ("score_" + t + ".svg")).string(),
                                           t + ": score vs KV budget", "score (× 100)", pts,
                                           /*log_y=*/false));
  }
  return Status::ok();
}

}  // namespace vatp::eval
