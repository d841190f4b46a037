// JSON Lines input for the evaluation harness: one JSON object per line, read whole into
// memory. Every error names the file and the 1-based line, e.g.
//   pred.jsonl:17: missing field "answers"
// Blank (whitespace-only) lines are skipped; anything else must be a JSON object.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vatp::eval {

// One object of a JSONL file and where it came from. The typed getters return an error
// naming "file:line" and the field when the field is missing or has the wrong type.
struct JsonlRecord {
  std::string file;  // the path as given to read_jsonl
  int64_t line = 0;  // 1-based
  nlohmann::json value;

  // data_loss("<file>:<line>: <message>").
  Status error(std::string_view message) const;

  bool has(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;
  // A list of strings; with `allow_empty` false an empty list is an error.
  Result<std::vector<std::string>> get_string_list(std::string_view key, bool allow_empty) const;
  // null → nullopt; otherwise as get_string_list (empty allowed).
  Result<std::optional<std::vector<std::string>>> get_nullable_string_list(std::string_view key) const;
};

// Reads every line. Errors: the file cannot be read (io_error naming the path), a line
// is not valid JSON or not an object (data_loss with file:line and the parser's reason).
Result<std::vector<JsonlRecord>> read_jsonl(const std::string& path);

// The same on text already in memory; `file` names it in errors. The one JSONL parser:
// read_jsonl and the run log (eval/sweep_common.h) both use it, and the fuzz targets
// drive it with arbitrary bytes.
Result<std::vector<JsonlRecord>> parse_jsonl(std::string_view text, const std::string& file);

}  // namespace vatp::eval
