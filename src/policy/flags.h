// String → PolicyConfig, so front ends only forward the flag values:
//   --kv-policy NAME --kv-budget B --kv-sinks N --kv-recent R
//   --kv-schedule oneshot|continuous|chunked --kv-chunk C --kv-group sum|mean|max
//   --kv-value-norm none|l1|l2 --kv-window W --kv-seed S
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "policy/policy.h"

namespace vatp::policy {

// Unset flags keep the preset's value.
struct PolicyFlags {
  std::string policy = "full";
  std::optional<std::string> budget, sinks, recent, schedule, chunk, group, value_norm, window, seed;
};

// "512" → 512 tokens; "0.5", ".25", "1.0", "50%" → a fraction of the prompt. An integer
// without a dot is a token count, so "1" is one token and "1.0" the whole prompt.
Result<Budget> parse_budget(std::string_view s);
Result<Schedule> parse_schedule(std::string_view s);
Result<GroupReduce> parse_group(std::string_view s);
Result<ValueNorm> parse_value_norm(std::string_view s);
// A non-negative integer for flag `flag` (used in the message).
Result<int64_t> parse_count(std::string_view flag, std::string_view s);

// The preset named by flags.policy with the other flags applied. Checks the values
// themselves; validate() checks them against a prompt and context.
Result<PolicyConfig> config_from_flags(const PolicyFlags& flags);

std::string_view scorer_name(Scorer s);
std::string_view schedule_name(Schedule s);
std::string_view group_name(GroupReduce g);
std::string_view value_norm_name(ValueNorm v);
// One line for logs: "vatp: accum-attention × l1, sinks 20, recent auto, budget 0.5, continuous, group sum".
std::string describe(const PolicyConfig& cfg);

}  // namespace vatp::policy
