#include "core/json_text.h"

#include <string>

namespace vatp {
namespace {

// nlohmann's what() is "[json.exception.<kind>.<id>] <reason>", where a parse_error's
// reason starts "parse error at line 1, column N: "; keep only what follows.
std::string reason(const nlohmann::json::exception& e) {
  const std::string what = e.what();
  size_t at = what.find("] ");
  at = at == std::string::npos ? 0 : at + 2;
  const size_t col = what.find("column", at);
  if (col != std::string::npos) {
    const size_t colon = what.find(": ", col);
    if (colon != std::string::npos) at = colon + 2;
  }
  return what.substr(at);
}

}  // namespace

Result<nlohmann::json> parse_json_text(std::string_view text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return invalid_argument("invalid JSON at byte " + std::to_string(e.byte) + ": " + reason(e));
  } catch (const nlohmann::json::exception& e) {
    // out_of_range 406 (number overflow) carries no byte offset.
    return invalid_argument("invalid JSON: " + reason(e));
  }
}

}  // namespace vatp
