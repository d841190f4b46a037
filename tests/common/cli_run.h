// Runs the built vatp binary with a command line and returns its exit code and its
// stdout + stderr; shared by the CLI tests (VATP_BINARY_DIR comes from CMake).
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace vatp::testing_util {

struct CliRun {
  int exit_code = -1;
  std::string out;  // stdout + stderr
};

inline CliRun run_vatp(const std::string& args) {
  const std::string cmd = std::string(VATP_BINARY_DIR) + "/vatp " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace vatp::testing_util
