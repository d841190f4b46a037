// Where tests find the default model: $VATP_MODEL (set by scripts/test.sh), else the
// cache that scripts/fetch-model.sh fills.
#pragma once

#include <cstdlib>
#include <string>

namespace vatp::testing_util {

inline std::string default_model_path() {
  if (const char* p = std::getenv("VATP_MODEL")) return p;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/vatp/SmolLM2-135M-Instruct.Q4_1.gguf";
}

}  // namespace vatp::testing_util
