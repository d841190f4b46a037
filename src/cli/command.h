// Each CLI subcommand lives in its own file (cmd_<name>.cc) and exposes one function
// that registers it on the app. The CLI holds no math: it parses flags, calls the
// library, prints results, and turns a non-ok Status into a message and exit code 1.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "core/status.h"

namespace vatp::cli {

// What a subcommand's callback runs after flags are parsed. Returning a non-ok Status
// makes main() print "vatp <cmd>: error: <message>" and exit 1.
using CommandFn = std::function<Status()>;

// Registration: each cmd_<name>.cc defines one of these.
void add_info_command(CLI::App& app, CommandFn& selected);
void add_tokenize_commands(CLI::App& app, CommandFn& selected);
void add_synth_command(CLI::App& app, CommandFn& selected);
void add_run_command(CLI::App& app, CommandFn& selected);
void add_ppl_command(CLI::App& app, CommandFn& selected);
void add_eval_commands(CLI::App& app, CommandFn& selected);
void add_inspect_command(CLI::App& app, CommandFn& selected);
void add_bench_command(CLI::App& app, CommandFn& selected);
void add_batch_command(CLI::App& app, CommandFn& selected);
void add_policies_command(CLI::App& app, CommandFn& selected);
void add_chat_command(CLI::App& app, CommandFn& selected);
void add_serve_command(CLI::App& app, CommandFn& selected);

// `vatp eval` tasks (cmd_eval_<task>.cc), registered on the `eval` parent by cmd_eval.cc.
void add_eval_longbench_commands(CLI::App& eval, CommandFn& selected);
void add_eval_ruler_commands(CLI::App& eval, CommandFn& selected);     // ruler, passkey
void add_eval_fidelity_commands(CLI::App& eval, CommandFn& selected);  // fidelity, ppl-stream

}  // namespace vatp::cli
