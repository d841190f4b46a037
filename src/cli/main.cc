// vatp command-line entry point: subcommand dispatch and error reporting only.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

#include "cli/command.h"
#include "cli/stop_signal.h"
#include "core/output_file.h"
#include "core/version.h"

namespace {

// A closed fd 0/1/2 would be handed to the next open() (the --json file, the model), and
// printf would then write into it. /dev/null takes the slot; for stdout it is opened
// read-only so that writes still fail (EBADF) and check_stdout() reports them.
void occupy_closed_std_fds() {
  const int modes[3] = {O_RDONLY, O_RDONLY, O_WRONLY};
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1) continue;
    const int got = ::open("/dev/null", modes[fd]);
    if (got >= 0 && got != fd) {
      ::dup2(got, fd);
      ::close(got);
    }
  }
}

std::string names_of(const CLI::App& app) {
  std::string s;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    s += (s.empty() ? "" : ", ") + sub->get_name();
  return s;
}

// "vatp frobnicate" / "vatp eval frobnicate": CLI11 would say "A subcommand is required";
// name the word and the valid commands instead. Empty when argv names known commands.
std::string unknown_command(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  std::string path = "vatp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') return "";
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; }))
      if (sub->check_name(arg)) next = sub;
    if (next == nullptr) {
      if (at->get_require_subcommand_min() == 0) return "";
      return path + ": unknown command '" + arg + "' (commands: " + names_of(*at) + ")";
    }
    at = next;
    path += " " + arg;
  }
  return "";
}

// Subcommand path of the parsed command line: "run", "eval fidelity".
std::string command_name(const CLI::App& app) {
  std::string name;
  for (const CLI::App* a = &app; !a->get_subcommands().empty();) {
    a = a->get_subcommands()[0];
    name += (name.empty() ? "" : " ") + a->get_name();
  }
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  occupy_closed_std_fds();
  CLI::App app{"vatp: LLM inference with a KV cache held to a memory budget (Value-Aware Token Pruning)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vatp " + vatp::version_string());
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
  vatp::cli::add_serve_command(app, selected);
  vatp::cli::add_policies_command(app, selected);
  vatp::cli::add_chat_command(app, selected);

  if (const std::string unknown = unknown_command(app, argc, argv); !unknown.empty()) {
    std::fprintf(stderr, "%s\n", unknown.c_str());
    return 1;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every parse error exits 1, as the README promises
    // (CLI11's own codes are 104-114).
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (!selected) {
    std::fprintf(stderr, "vatp: no command selected\n");
    return 1;
  }
  vatp::Status st;
  try {
    st = selected();
  } catch (const std::exception& e) {
    // The library returns Status; an exception here is a bug or out-of-memory.
    st = vatp::internal_error(e.what());
  }
  const std::string name = command_name(app);
  if (!st.is_ok()) {
    std::fprintf(stderr, "vatp %s: error: %s\n", name.c_str(), st.to_string().c_str());
    return 1;
  }
  // Output that never reached stdout is a failed command, whatever the command says.
  if (const vatp::Status out = vatp::check_stdout(); !out.is_ok()) {
    std::fprintf(stderr, "vatp %s: error: %s\n", name.c_str(), out.message().c_str());
    return 1;
  }
  if (const int sig = vatp::cli::stop_signal(); sig != 0) {
    std::fprintf(stderr, "vatp %s: stopped by signal %d after writing what was generated\n", name.c_str(),
                 sig);
    return 128 + sig;
  }
  return 0;
}
