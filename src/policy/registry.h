// The tables of scorers and presets: one row each, read by preset(), stat_plan(),
// compute_scores(), the evictor, flag parsing, help texts and docs. A new scorer is one
// ScorerInfo row plus its score function; a new preset one PresetInfo row plus its
// settings function.
#pragma once

#include <span>
#include <string_view>

#include "policy/policy.h"

namespace vatp::policy {

// Which per-slot attention statistic a scorer reads from the cache.
enum class AttnStat {
  kNone,         // none: the scorer reads no attention (or nothing at all)
  kAccumulated,  // acc_attn: every query so far (H2O/VATP)
  kWindow,       // window_attn: the last `window` prompt queries, then each decode row
  kLast,         // last_attn: the newest query only (TOVA)
};

// out[i] for every slot of `st` (higher = keep), before value weighting.
using ScoreFn = void (*)(const PolicyConfig& cfg, const HeadStats& st, Rng& rng, std::span<float> out);

struct ScorerInfo {
  Scorer id;
  std::string_view name;  // as describe() prints it
  std::string_view description;
  AttnStat stat;
  StatPlan::Decode decode;  // what each decode row does to the statistic
  bool key_l2;              // needs ‖k‖₂ per slot
  ScoreFn score;
};

struct PresetInfo {
  std::string_view name;  // --kv-policy NAME
  std::string_view description;
  void (*apply)(PolicyConfig& c);  // on top of the shared defaults (evicting, 50 %, continuous)
};

std::span<const ScorerInfo> scorers();
const ScorerInfo& scorer_info(Scorer s);
std::span<const PresetInfo> presets();

}  // namespace vatp::policy
