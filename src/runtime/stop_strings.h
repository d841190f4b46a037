// Stop strings (OpenAI's `stop`): generation ends at the first occurrence of any of them,
// which is not part of the output. Text arrives piece by piece; a piece whose tail could
// begin a stop string is held back until the next piece shows whether it does, so a
// stream never emits text that a later piece turns into a stop.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vatp::runtime {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds a piece of generated text; returns what can be emitted now. After a match,
  // stopped() is true and nothing more is emitted.
  std::string push(std::string_view piece);
  // At the end of generation: the held-back tail (empty after a match).
  std::string flush();
  bool stopped() const { return stopped_; }
  // Everything emitted so far (push and flush results concatenated).
  const std::string& text() const { return emitted_; }

 private:
  // Bytes at the end of pending_ that are a proper prefix of some stop string.
  size_t held_tail() const;

  std::vector<std::string> stops_;
  std::string pending_;  // not yet emitted
  std::string emitted_;
  bool stopped_ = false;
};

}  // namespace vatp::runtime
