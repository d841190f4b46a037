// Helpers shared by the runtime tests.
#pragma once

#include <cstdlib>
#include <filesystem>
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

}  // namespace vatp::runtime
