// vatp command-line entry point: subcommand dispatch and error reporting only.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/command.h"

int main(int argc, char** argv) {
  CLI::App app{"vatp: LLM inference with a KV cache held to a memory budget (Value-Aware Token Pruning)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vatp 0.1.0");
  vatp::cli::CommandFn selected;
  // Subcommands register here, one line each.
  vatp::cli::add_run_command(app, selected);
  vatp::cli::add_ppl_command(app, selected);
  vatp::cli::add_info_command(app, selected);
  vatp::cli::add_tokenize_commands(app, selected);
  vatp::cli::add_synth_command(app, selected);
  vatp::cli::add_eval_commands(app, selected);
  vatp::cli::add_inspect_command(app, selected);
  vatp::cli::add_bench_command(app, selected);
  vatp::cli::add_batch_command(app, selected);
  vatp::cli::add_policies_command(app, selected);
  vatp::cli::add_chat_command(app, selected);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!selected) {
    std::fprintf(stderr, "vatp: no command selected\n");
    return 2;
  }
  vatp::Status st;
  try {
    st = selected();
  } catch (const std::exception& e) {
    // The library returns Status; an exception here is a bug or out-of-memory.
    st = vatp::internal_error(e.what());
  }
  if (!st.is_ok()) {
    const std::string name = app.get_subcommands().empty() ? "" : app.get_subcommands()[0]->get_name();
    std::fprintf(stderr, "vatp %s: error: %s\n", name.c_str(), st.to_string().c_str());
    return 1;
  }
  return 0;
}
