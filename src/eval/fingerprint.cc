#include "eval/fingerprint.h"

#include <algorithm>

namespace vatp::eval {

using nlohmann::json;

void Fingerprint::add(std::string name, std::string value) {
  auto it = std::find_if(parts_.begin(), parts_.end(), [&](const Part& p) { return p.name == name; });
  if (it != parts_.end()) {
    it->value = std::move(value);
  } else {
    parts_.push_back({std::move(name), std::move(value)});
  }
}

json Fingerprint::to_json() const {
  json j = json::object();
  for (const Part& p : parts_) j[p.name] = p.value;
  return j;
}

std::string Fingerprint::difference(const json& recorded) const {
  if (!recorded.is_object()) return "no configuration fingerprint (written by an older vatp)";
  for (const Part& p : parts_) {
    const auto it = recorded.find(p.name);
    if (it == recorded.end() || !it->is_string())
      return "no " + p.name + " in its fingerprint (now " + p.value + ")";
    if (it->get<std::string>() != p.value)
      return "a different " + p.name + " (" + it->get<std::string>() + "; now " + p.value + ")";
  }
  for (const auto& item : recorded.items()) {
    const std::string& name = item.key();
    const bool known =
        std::any_of(parts_.begin(), parts_.end(), [&](const Part& p) { return p.name == name; });
    if (!known) return "a " + name + " (" + item.value().dump() + ") that this run does not have";
  }
  return "";
}

}  // namespace vatp::eval
