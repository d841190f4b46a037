// Presets, budget arithmetic, validation and the statistics plan (docs/policies.md).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "policy/registry.h"

namespace vatp::policy {
namespace {

bool is_attention(Scorer s) { return scorer_info(s).stat != AttnStat::kNone; }

std::string fmt_budget(const Budget& b) {
  if (b.kind == Budget::Kind::kTokens) return std::to_string(static_cast<int64_t>(b.value)) + " tokens";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g of the prompt", b.value);
  return buf;
}

}  // namespace

std::span<const std::string_view> preset_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const PresetInfo& p : presets()) v.push_back(p.name);
    return v;
  }();
  return names;
}

Result<PolicyConfig> preset(std::string_view name) {
  for (const PresetInfo& p : presets()) {
    if (p.name != name) continue;
    PolicyConfig c;
    c.name = std::string(name);
    c.evict = true;
    // Defaults shared by the scored presets: 50 % of the prompt, continuous eviction.
    c.budget = Budget{Budget::Kind::kFraction, 0.5};
    c.schedule = Schedule::kContinuous;
    p.apply(c);
    return c;
  }
  std::string known;
  for (auto n : preset_names()) known += (known.empty() ? "" : ", ") + std::string(n);
  return invalid_argument("unknown KV policy '" + std::string(name) + "' (known: " + known + ")");
}

Result<BudgetSplit> resolve_budget(const PolicyConfig& cfg, int64_t prompt_len) {
  if (prompt_len < 1) return invalid_argument("KV budget: the prompt is empty");
  BudgetSplit s;
  const Budget& b = cfg.budget;
  if (b.kind == Budget::Kind::kTokens) {
    s.total = static_cast<int64_t>(b.value);
  } else {
    // pred.py: heavy = recent = int(heavy_ratio · L), heavy_ratio = half the budget.
    s.total = 2 * static_cast<int64_t>(b.value / 2 * static_cast<double>(prompt_len));
  }
  if (s.total < 1) {
    return invalid_argument("KV budget " + fmt_budget(b) + " of a " + std::to_string(prompt_len) +
                            "-token prompt keeps 0 tokens");
  }
  s.sinks = cfg.sinks;
  if (cfg.scorer == Scorer::kNone) {
    s.recent = s.total - s.sinks;
  } else if (cfg.recent < 0) {
    s.recent = s.total / 2;
  } else {
    s.recent = cfg.recent;
  }
  s.heavy = s.total - s.recent;
  const std::string ctx = " (budget " + std::to_string(s.total) + " tokens = " + fmt_budget(b) + ")";
  if (s.sinks >= s.total) {
    return invalid_argument("KV policy " + cfg.name + ": " + std::to_string(s.sinks) +
                            " sink tokens leave no room in the budget" + ctx);
  }
  if (s.recent < 0 || s.heavy < s.sinks) {
    return invalid_argument("KV policy " + cfg.name + ": " + std::to_string(s.sinks) + " sinks + " +
                            std::to_string(s.recent) + " recent tokens exceed the budget" + ctx);
  }
  return s;
}

Status validate(const PolicyConfig& cfg, int64_t prompt_len, int64_t ctx) {
  if (!cfg.evict) return Status::ok();
  const Budget& b = cfg.budget;
  if (b.kind == Budget::Kind::kTokens) {
    if (!(b.value >= 1) || b.value != std::floor(b.value)) {
      return invalid_argument("--kv-budget must be a positive token count or a fraction in (0, 1]");
    }
    if (b.value > static_cast<double>(ctx)) {
      return invalid_argument("--kv-budget " + fmt_budget(b) + " exceeds the context of " +
                              std::to_string(ctx) + " tokens");
    }
  } else if (!(b.value > 0 && b.value <= 1)) {
    return invalid_argument("--kv-budget fraction must be in (0, 1]");
  }
  if (cfg.sinks < 0) return invalid_argument("--kv-sinks must be ≥ 0");
  if (cfg.recent < -1) return invalid_argument("--kv-recent must be ≥ 0");
  if (cfg.scorer == Scorer::kNone && cfg.recent >= 0) {
    return invalid_argument(
        "KV policy " + cfg.name +
        " keeps sinks + recent = budget; set --kv-budget and --kv-sinks, not --kv-recent");
  }
  if (cfg.value_norm != ValueNorm::kNone && !is_attention(cfg.scorer)) {
    return invalid_argument("--kv-value-norm weights attention scores; KV policy " + cfg.name +
                            " does not use attention");
  }
  if (cfg.schedule == Schedule::kChunked && cfg.chunk < 1) {
    return invalid_argument("--kv-schedule chunked needs --kv-chunk ≥ 1");
  }
  if (cfg.window < 0) return invalid_argument("KV observation window must be ≥ 0");
  if (cfg.pool_kernel < 1 || cfg.pool_kernel % 2 == 0)
    return invalid_argument("KV pool kernel must be odd and ≥ 1");
  return resolve_budget(cfg, prompt_len).status();
}

StatPlan stat_plan(const PolicyConfig& cfg) {
  StatPlan p;
  if (!cfg.evict) return p;
  const ScorerInfo& info = scorer_info(cfg.scorer);
  p.attention = info.stat != AttnStat::kNone;
  p.decode = info.decode;  // Scissorhands (VATP repo): raw rows added while decoding
  p.key_l2 = info.key_l2;
  if (info.stat == AttnStat::kWindow) {
    p.prefill_window = cfg.window;
    p.prefill_scale = cfg.window_scale;
  } else if (info.stat == AttnStat::kLast) {
    p.prefill_window = 1;
  }
  p.per_query_head = p.attention && cfg.group == GroupReduce::kMax;
  p.value_l1 = p.attention && cfg.value_norm == ValueNorm::kL1;
  p.value_l2 = p.attention && cfg.value_norm == ValueNorm::kL2;
  return p;
}

Result<PolicyConfig> with_token_budget(const PolicyConfig& cfg, int64_t tokens) {
  if (!cfg.evict) return invalid_argument("KV policy " + cfg.name + " keeps everything: it has no budget");
  if (tokens <= cfg.sinks) {
    return invalid_argument("a budget of " + std::to_string(tokens) + " tokens leaves no room beside the " +
                            std::to_string(cfg.sinks) + " sinks of KV policy " + cfg.name);
  }
  PolicyConfig c = cfg;
  c.budget = Budget{Budget::Kind::kTokens, static_cast<double>(tokens)};
  if (c.recent >= 0 && c.sinks + c.recent > tokens) c.recent = -1;
  return c;
}

int64_t slots_needed(const PolicyConfig& cfg, const BudgetSplit& split, int64_t prompt_len, int64_t ctx) {
  if (!cfg.evict || cfg.schedule == Schedule::kOneShot) return ctx;
  const int64_t peak = cfg.schedule == Schedule::kChunked ? split.total + std::max(cfg.chunk, 1)
                                                          : std::max(prompt_len, split.total + 1);
  return std::min(peak, ctx);
}

bool evicts_at(const PolicyConfig& cfg, Phase phase) {
  if (!cfg.evict) return false;
  switch (phase) {
    case Phase::kPrefillChunk: return cfg.schedule == Schedule::kChunked;
    case Phase::kPrefillEnd: return true;
    case Phase::kDecodeStep: return cfg.schedule != Schedule::kOneShot;
  }
  return false;
}

}  // namespace vatp::policy
