// Parsing one JSON text (a JSONL line, a request body) into nlohmann::json without
// letting any of the library's exceptions escape. nlohmann throws parse_error for
// malformed text but out_of_range (406) for a number that overflows a double, e.g.
// 1e999; both become the same invalid_argument here, so callers have one error path.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/status.h"

namespace vatp {

// The parsed value, or invalid_argument("invalid JSON at byte N: <why>") where N is the
// 1-based byte the parser stopped at and <why> is its reason without the library prefix.
Result<nlohmann::json> parse_json_text(std::string_view text);

}  // namespace vatp
