// Helpers shared by the runtime tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace vatp::runtime {

// The real model for end-to-end tests: $VATP_MODEL, else the cached SmolLM2 GGUF;
// empty if neither exists (the caller skips with a message).
inline std::string test_model_path() {
  if (const char* env = std::getenv("VATP_MODEL"); env != nullptr && *env != '\0') {
    return std::filesystem::exists(env) ? std::string(env) : std::string();
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr) return {};
  const std::string p = std::string(home) + "/.cache/vatp/SmolLM2-135M-Instruct.Q4_1.gguf";
  return std::filesystem::exists(p) ? p : std::string();
}

// What a run of the built binary printed.
struct Ran {
  int exit_code = -1;
  std::string out, err;  // stdout, stderr
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A per-process temp file: ctest runs a binary's tests in parallel processes.
inline std::string cli_temp_path(const std::string& tag, const std::string& name) {
  return ::testing::TempDir() + "/vatp_" + tag + "_" + std::to_string(::getpid()) + "_" + name;
}

// `vatp ARGS < input` through the shell.
inline Ran run_vatp_with_input(const std::string& tag, const std::string& args, const std::string& input) {
  const std::string in = cli_temp_path(tag, "stdin"), out = cli_temp_path(tag, "stdout"),
                    err = cli_temp_path(tag, "stderr");
  std::ofstream(in, std::ios::binary) << input;
  const std::string cmd =
      std::string(VATP_BINARY_DIR) + "/vatp " + args + " <" + in + " >" + out + " 2>" + err;
  const int st = std::system(cmd.c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(out), slurp(err)};
}

}  // namespace vatp::runtime
