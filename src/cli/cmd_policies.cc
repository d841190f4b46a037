// `vatp policies`: the KV policy presets and scorers, printed from the registry
// (policy/registry.h), so this list and the flags cannot drift apart.
#include <cstdio>
#include <string>

#include "cli/command.h"
#include "policy/flags.h"
#include "policy/registry.h"

namespace vatp::cli {
namespace {

Status print_policies() {
  std::printf("KV policy presets (--kv-policy NAME; the other --kv-* flags override their settings):\n\n");
  for (const policy::PresetInfo& p : policy::presets()) {
    VATP_ASSIGN_OR_RETURN(const policy::PolicyConfig c, policy::preset(p.name));
    std::printf("  %-18s %s\n  %-18s   %s\n", std::string(p.name).c_str(), std::string(p.description).c_str(),
                "", policy::describe(c).c_str());
  }
  std::printf("\nScorers:\n\n");
  for (const policy::ScorerInfo& s : policy::scorers())
    std::printf("  %-18s %s\n", std::string(s.name).c_str(), std::string(s.description).c_str());
  return Status::ok();
}

}  // namespace

void add_policies_command(CLI::App& app, CommandFn& selected) {
  CLI::App* cmd = app.add_subcommand("policies", "List the KV policy presets and scorers");
  cmd->callback([&selected] { selected = [] { return print_policies(); }; });
}

}  // namespace vatp::cli
