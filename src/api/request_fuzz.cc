// libFuzzer target for generation requests (one line of `vatp batch --requests`, and the
// body the server will take): any bytes must parse into a checked request or be refused
// with an error naming the field; never crash, never accept a value the engine rejects.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "api/request_json.h"
#include "core/json_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  vatp::Result<nlohmann::json> j = vatp::parse_json_text(text);
  if (!j.is_ok()) return 0;
  vatp::api::RequestDefaults d;
  auto r = vatp::api::parse_request(*j, d);
  if (!r.is_ok()) {
    // Every refusal names what was wrong.
    if (r.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (r->max_tokens < 0) __builtin_trap();
  if (!r->prompt && !r->prompt_ids && r->messages.empty()) __builtin_trap();
  if (r->prompt_ids && r->prompt_ids->empty()) __builtin_trap();
  return 0;
}
