// What a sweep's results depend on, written into every runs.jsonl record so that a
// resumed sweep never mixes results of two configurations (docs/eval.md, "Resume").
//
// A fingerprint is an ordered list of named parts compared as strings: the vatp build
// ("vatp", added by the run log itself), the command, the content of the model and data
// files (core/hash.h's file_digest, not their paths: a moved file still resumes) and every
// flag that changes results, by its effective value (cli/eval_common.cc decides which).
// Per-record inputs (a sample's prompt, a segment's tokens) are checked separately, by
// key (RunLog::done).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vatp::eval {

class Fingerprint {
 public:
  struct Part {
    std::string name;  // "model", "--tokens"; words of the mismatch message
    std::string value;
  };
  // A later part with the same name replaces the earlier one.
  void add(std::string name, std::string value);
  const std::vector<Part>& parts() const { return parts_; }

  // {"name": "value", ...}, as records store it.
  nlohmann::json to_json() const;
  // "" when `recorded` (a record's "fingerprint" object) equals this one; else the first
  // difference, e.g. "a different model (xxh64 …, 12 bytes; now xxh64 …, 14 bytes)".
  std::string difference(const nlohmann::json& recorded) const;

 private:
  std::vector<Part> parts_;
};

}  // namespace vatp::eval
