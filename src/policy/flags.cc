// Flag parsing for the KV policy (flags.h).
#include "policy/flags.h"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string>

#include "policy/registry.h"

namespace vatp::policy {
namespace {

// Quoted flag value. (Built by appending: `"'" + std::string` trips a gcc 12 -O3
// -Wrestrict false positive.)
std::string q(std::string_view s) {
  std::string r;
  r.reserve(s.size() + 2);
  r += '\'';
  r.append(s);
  r += '\'';
  return r;
}

}  // namespace

Result<Budget> parse_budget(std::string_view s) {
  const std::string str(s);
  const std::string bad =
      "--kv-budget " + q(s) + ": expected a token count (512) or a fraction of the prompt (0.5, 50%)";
  if (str.empty()) return invalid_argument(bad);
  const bool percent = str.back() == '%';
  const std::string num = percent ? str.substr(0, str.size() - 1) : str;
  if (num.empty() || num.find_first_not_of("0123456789.") != std::string::npos) return invalid_argument(bad);
  if (!percent && num.find('.') == std::string::npos) {
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(num.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' ||
        v > static_cast<unsigned long long>(std::numeric_limits<int32_t>::max())) {
      return invalid_argument(bad);
    }
    if (v == 0)
      return invalid_argument("--kv-budget 0 keeps nothing; use a positive token count or fraction");
    return Budget{Budget::Kind::kTokens, static_cast<double>(v)};
  }
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  if (end == num.c_str() || *end != '\0') return invalid_argument(bad);
  if (percent) v /= 100.0;
  if (!(v > 0 && v <= 1)) return invalid_argument("--kv-budget " + q(s) + ": a fraction must be in (0, 1]");
  return Budget{Budget::Kind::kFraction, v};
}

Result<Schedule> parse_schedule(std::string_view s) {
  if (s == "oneshot" || s == "one-shot") return Schedule::kOneShot;
  if (s == "continuous") return Schedule::kContinuous;
  if (s == "chunked") return Schedule::kChunked;
  return invalid_argument("--kv-schedule " + q(s) + ": expected oneshot, continuous or chunked");
}

Result<GroupReduce> parse_group(std::string_view s) {
  if (s == "sum") return GroupReduce::kSum;
  if (s == "mean") return GroupReduce::kMean;
  if (s == "max") return GroupReduce::kMax;
  return invalid_argument("--kv-group " + q(s) + ": expected sum, mean or max");
}

Result<ValueNorm> parse_value_norm(std::string_view s) {
  if (s == "none") return ValueNorm::kNone;
  if (s == "l1") return ValueNorm::kL1;
  if (s == "l2") return ValueNorm::kL2;
  return invalid_argument("--kv-value-norm " + q(s) + ": expected none, l1 or l2");
}

Result<int64_t> parse_count(std::string_view flag, std::string_view s) {
  const std::string str(s);
  if (str.empty() || str.find_first_not_of("0123456789") != std::string::npos) {
    return invalid_argument(std::string(flag) + " " + q(s) + ": expected a non-negative integer");
  }
  errno = 0;
  const unsigned long long v = std::strtoull(str.c_str(), nullptr, 10);
  if (errno != 0 || v > static_cast<unsigned long long>(std::numeric_limits<int32_t>::max())) {
    return invalid_argument(std::string(flag) + " " + q(s) + ": too large");
  }
  return static_cast<int64_t>(v);
}

Result<PolicyConfig> config_from_flags(const PolicyFlags& f) {
  VATP_ASSIGN_OR_RETURN(PolicyConfig c, preset(f.policy));
  if (f.budget) {
    VATP_ASSIGN_OR_RETURN(c.budget, parse_budget(*f.budget));
  }
  if (f.sinks) {
    VATP_ASSIGN_OR_RETURN(int64_t v, parse_count("--kv-sinks", *f.sinks));
    c.sinks = static_cast<int32_t>(v);
  }
  if (f.recent) {
    VATP_ASSIGN_OR_RETURN(int64_t v, parse_count("--kv-recent", *f.recent));
    c.recent = static_cast<int32_t>(v);
  }
  if (f.schedule) {
    VATP_ASSIGN_OR_RETURN(c.schedule, parse_schedule(*f.schedule));
  }
  if (f.chunk) {
    VATP_ASSIGN_OR_RETURN(int64_t v, parse_count("--kv-chunk", *f.chunk));
    if (v < 1) return invalid_argument("--kv-chunk must be ≥ 1");
    c.chunk = static_cast<int32_t>(v);
  }
  if (f.group) {
    VATP_ASSIGN_OR_RETURN(c.group, parse_group(*f.group));
  }
  if (f.value_norm) {
    VATP_ASSIGN_OR_RETURN(c.value_norm, parse_value_norm(*f.value_norm));
  }
  if (f.window) {
    VATP_ASSIGN_OR_RETURN(int64_t v, parse_count("--kv-window", *f.window));
    c.window = static_cast<int32_t>(v);
  }
  if (f.seed) {
    VATP_ASSIGN_OR_RETURN(int64_t v, parse_count("--kv-seed", *f.seed));
    c.seed = static_cast<uint64_t>(v);
  }
  if (!c.evict && (f.budget || f.sinks || f.recent || f.schedule || f.chunk || f.value_norm)) {
    return invalid_argument(
        "--kv-policy full keeps every token; the other --kv-* flags need an evicting policy");
  }
  if (c.schedule == Schedule::kChunked && c.chunk < 1) {
    return invalid_argument("--kv-schedule chunked needs --kv-chunk");
  }
  return c;
}

std::string_view scorer_name(Scorer s) { return scorer_info(s).name; }

std::string_view schedule_name(Schedule s) {
  switch (s) {
    case Schedule::kOneShot: return "oneshot";
    case Schedule::kContinuous: return "continuous";
    case Schedule::kChunked: return "chunked";
  }
  return "?";
}

std::string_view group_name(GroupReduce g) {
  switch (g) {
    case GroupReduce::kSum: return "sum";
    case GroupReduce::kMean: return "mean";
    case GroupReduce::kMax: return "max";
  }
  return "?";
}

std::string_view value_norm_name(ValueNorm v) {
  switch (v) {
    case ValueNorm::kNone: return "none";
    case ValueNorm::kL1: return "l1";
    case ValueNorm::kL2: return "l2";
  }
  return "?";
}

std::string describe(const PolicyConfig& c) {
  if (!c.evict) return c.name + ": full cache";
  std::string s = c.name + ": " + std::string(scorer_name(c.scorer));
  if (c.value_norm != ValueNorm::kNone) s += " x " + std::string(value_norm_name(c.value_norm));
  s += ", sinks " + std::to_string(c.sinks);
  s += ", recent " + (c.recent < 0 ? std::string("auto") : std::to_string(c.recent));
  char b[64];
  if (c.budget.kind == Budget::Kind::kTokens) {
    std::snprintf(b, sizeof b, "%lld tokens", static_cast<long long>(c.budget.value));
  } else {
    std::snprintf(b, sizeof b, "%g of the prompt", c.budget.value);
  }
  s += ", budget " + std::string(b) + ", " + std::string(schedule_name(c.schedule));
  if (c.schedule == Schedule::kChunked) s += " " + std::to_string(c.chunk);
  s += ", group " + std::string(group_name(c.group));
  if (c.layer_shared) s += " (shared per layer)";
  if (c.window > 0) s += ", window " + std::to_string(c.window);
  if (c.pool_kernel > 1) s += ", pool " + std::to_string(c.pool_kernel);
  return s;
}

}  // namespace vatp::policy
