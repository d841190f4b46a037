#include "runtime/stop_strings.h"

#include <algorithm>

namespace vatp::runtime {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

size_t StopMatcher::held_tail() const {
  size_t held = 0;
  for (const std::string& s : stops_) {
    const size_t most = std::min(s.size() - 1, pending_.size());
    for (size_t n = most; n > held; --n) {
      if (std::string_view(pending_).substr(pending_.size() - n) == std::string_view(s).substr(0, n)) {
        held = n;
        break;
      }
    }
  }
  return held;
}

std::string StopMatcher::push(std::string_view piece) {
  if (stopped_) return {};
  pending_ += piece;
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, pending_.find(s));
  std::string out;
  if (first != std::string::npos) {
    stopped_ = true;
    out = pending_.substr(0, first);
    pending_.clear();
  } else {
    const size_t keep = held_tail();
    out = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
  }
  emitted_ += out;
  return out;
}

std::string StopMatcher::flush() {
  std::string out = std::move(pending_);
  pending_.clear();
  emitted_ += out;
  return out;
}

}  // namespace vatp::runtime
