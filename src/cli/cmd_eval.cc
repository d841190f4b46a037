// `vatp eval <task>`: the evaluation harness (src/eval). Each task registers from its
// own cmd_eval_<task>.cc; this file only creates the parent command.
#include "cli/command.h"

namespace vatp::cli {

void add_eval_commands(CLI::App& app, CommandFn& selected) {
  CLI::App* eval = app.add_subcommand(
      "eval", "Measure what KV policies cost in quality (fidelity, RULER, passkey, LongBench)");
  eval->require_subcommand(1);
  // One line per task (declared in command.h).
  add_eval_longbench_commands(*eval, selected);
  add_eval_ruler_commands(*eval, selected);  // ruler, passkey
  add_eval_fidelity_commands(*eval, selected);
  (void)selected;
}

}  // namespace vatp::cli
