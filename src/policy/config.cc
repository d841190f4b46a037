// Presets, budget arithmetic, validation and the statistics plan (docs/policies.md).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>

#include "policy/policy.h"

namespace vatp::policy {
namespace {

constexpr std::array<std::string_view, 11> kPresetNames = {
    "full",  "streaming", "h2o",  "scissorhands",      "tova",       "snapkv",
    "knorm", "random",    "vatp", "vatp-scissorhands", "vatp-snapkv"};

bool is_attention(Scorer s) {
  return s == Scorer::kAccumAttention || s == Scorer::kWindowAttention || s == Scorer::kLastQuery;
}

std::string fmt_budget(const Budget& b) {
  if (b.kind == Budget::Kind::kTokens) return std::to_string(static_cast<int64_t>(b.value)) + " tokens";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g of the prompt", b.value);
  return buf;
}

}  // namespace

std::span<const std::string_view> preset_names() { return kPresetNames; }

Result<PolicyConfig> preset(std::string_view name) {
  PolicyConfig c;
  c.name = std::string(name);
  c.evict = true;
  // Defaults shared by the scored presets: 50 % of the prompt, continuous eviction.
  c.budget = Budget{Budget::Kind::kFraction, 0.5};
  c.schedule = Schedule::kContinuous;
  if (name == "full") {
    c.evict = false;
  } else if (name == "streaming") {  // mit-han-lab StartRecentKVCache: 4 sinks + recent
    c.scorer = Scorer::kNone;
    c.sinks = 4;
  } else if (name == "h2o" || name == "vatp") {  // specs/vatp.md §1.2 (--h2o), §2.1
    c.scorer = Scorer::kAccumAttention;
    if (name == "vatp") {
      c.value_norm = ValueNorm::kL1;
      c.sinks = 20;  // README command: --sink_len 20
    }
  } else if (name == "scissorhands" || name == "vatp-scissorhands") {  // §1.2 without --h2o, §2.3
    c.scorer = Scorer::kWindowAttention;
    c.window = 400;
    c.window_scale = 1.0f / 400.0f;  // divisor 400 even when the prompt is shorter
    c.recent = 10;
    if (name == "vatp-scissorhands") {
      c.value_norm = ValueNorm::kL1;
      c.sinks = 20;
    }
  } else if (name == "tova") {  // last query, mean over all heads of the layer (§4.2, A.2)
    c.scorer = Scorer::kLastQuery;
    c.group = GroupReduce::kMean;
    c.layer_shared = true;
    c.recent = 0;
  } else if (name == "snapkv" || name == "vatp-snapkv") {  // FasterDecoding defaults: w = 32, avgpool 5
    c.scorer = Scorer::kWindowAttention;
    c.window = 32;
    c.recent = 32;  // the observation window itself is kept
    c.pool_kernel = 5;
    c.group = GroupReduce::kMean;
    c.schedule = Schedule::kOneShot;
    if (name == "vatp-snapkv") c.value_norm = ValueNorm::kL1;  // LAVa's "SnapKV + VATP" row
  } else if (name == "knorm") {  // kvpress KnormPress: keep the smallest ‖k‖₂, one shot
    c.scorer = Scorer::kKeyNorm;
    c.recent = 0;
    c.schedule = Schedule::kOneShot;
  } else if (name == "random") {
    c.scorer = Scorer::kRandom;
    c.recent = 0;
    c.schedule = Schedule::kOneShot;
  } else {
    std::string known;
    for (auto n : kPresetNames) known += (known.empty() ? "" : ", ") + std::string(n);
    return invalid_argument("unknown KV policy '" + std::string(name) + "' (known: " + known + ")");
  }
  return c;
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
  switch (cfg.scorer) {
    case Scorer::kAccumAttention:
      p.attention = true;
      p.decode = StatPlan::Decode::kAdd;
      break;
    case Scorer::kWindowAttention:
      p.attention = true;
      p.prefill_window = cfg.window;
      p.prefill_scale = cfg.window_scale;
      p.decode = StatPlan::Decode::kAdd;  // Scissorhands (VATP repo): raw rows added while decoding
      break;
    case Scorer::kLastQuery:
      p.attention = true;
      p.prefill_window = 1;
      p.decode = StatPlan::Decode::kReplace;
      break;
    case Scorer::kKeyNorm: p.key_l2 = true; break;
    case Scorer::kNone:
    case Scorer::kRandom: break;
  }
  p.per_query_head = p.attention && cfg.group == GroupReduce::kMax;
  p.value_l1 = p.attention && cfg.value_norm == ValueNorm::kL1;
  p.value_l2 = p.attention && cfg.value_norm == ValueNorm::kL2;
  return p;
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
