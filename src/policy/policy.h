// KV eviction policies as pure decisions: per-slot statistics of one KV head in, the
// sorted slot indices to keep out. Nothing here touches K/V storage (kvcache does) or
// computes attention (the model does); stat_plan() tells the engine which statistics
// to gather. Exact definitions and the official code they reproduce: docs/policies.md
// and specs/vatp.md §0–§2, §6.
//
//   policy = scorer × value weighting × selector (sinks + recent + top-k) × schedule
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vatp::policy {

enum class Scorer {
  kNone,             // no score (StreamingLLM: sinks + recent only)
  kAccumAttention,   // H2O: attention column sums over every query so far
  kWindowAttention,  // last `window` prompt queries (× window_scale), then + each decode row
  kLastQuery,        // TOVA: attention of the newest query only
  kKeyNorm,          // −‖k‖₂: keeps the smallest key norms
  kRandom,           // uniform random, reproducible from the Rng
};
enum class ValueNorm { kNone, kL1, kL2 };      // multiplies attention scores by ‖v‖
enum class GroupReduce { kSum, kMean, kMax };  // GQA: query-head stats → one per KV head
enum class Schedule {
  kOneShot,     // evict once, after the prefill; the cache grows while decoding
  kContinuous,  // after the prefill and after every decode step (H2O/VATP)
  kChunked,     // after every prefill chunk of `chunk` tokens, then continuous
};

struct Budget {
  enum class Kind { kTokens, kFraction };
  Kind kind = Kind::kFraction;
  double value = 0.5;  // a token count (integral, ≥ 1) or a fraction of the prompt in (0, 1]
  friend bool operator==(const Budget&, const Budget&) = default;
};

struct PolicyConfig {
  std::string name = "full";  // the preset it came from, for logs
  bool evict = false;         // false: keep everything (preset "full")
  Scorer scorer = Scorer::kNone;
  ValueNorm value_norm = ValueNorm::kNone;
  GroupReduce group = GroupReduce::kSum;
  bool layer_shared = false;  // TOVA: one score per layer (mean over KV heads); all heads keep the same slots
  Schedule schedule = Schedule::kContinuous;
  Budget budget;
  int32_t sinks = 0;    // positions [0, sinks) always kept; they count inside the heavy part
  int32_t recent = -1;  // newest positions always kept; -1 = auto (half the budget; budget − sinks for kNone)
  int32_t chunk = 0;    // prefill chunk length (kChunked)
  // Statistic for attention scorers (see StatPlan): window sum over the last `window`
  // prompt queries (0 = all of them), times window_scale.
  int32_t window = 0;
  float window_scale = 1.0f;
  int32_t pool_kernel = 1;  // SnapKV: average pool over neighbouring candidates (odd, zero padded)
  uint64_t seed = 0;        // kRandom
  friend bool operator==(const PolicyConfig&, const PolicyConfig&) = default;
};

// Named presets: full, streaming, h2o, scissorhands, tova, snapkv, vatp-snapkv, knorm,
// random, vatp, vatp-scissorhands. Unknown names list the known ones.
Result<PolicyConfig> preset(std::string_view name);
std::span<const std::string_view> preset_names();

// The budget resolved against a prompt: after an eviction each KV head keeps `total`
// slots = `heavy` chosen by score (the sinks among them) + `recent` newest positions.
// Fractions follow the official code: total = 2·⌊(f/2)·L⌋ (heavy_ratio r = f/2).
struct BudgetSplit {
  int64_t total = 0;
  int64_t heavy = 0;
  int64_t recent = 0;
  int64_t sinks = 0;
};
Result<BudgetSplit> resolve_budget(const PolicyConfig& cfg, int64_t prompt_len);

// Every input-caused problem as a clear error: zero or negative budgets, a token budget
// above the context, a fraction outside (0, 1], sinks ≥ budget, sinks + recent > budget,
// value weighting on a scorer without attention, bad chunk/window/pool settings.
Status validate(const PolicyConfig& cfg, int64_t prompt_len, int64_t ctx);

// What the engine must gather per slot for this policy.
struct StatPlan {
  enum class Decode { kNone, kAdd, kReplace };
  bool attention = false;  // needs attention probabilities
  // Prefill: attn[slot] = prefill_scale · Σ_{q in the last prefill_window prompt queries
  // (all if 0)} A[q][slot].
  int32_t prefill_window = 0;
  float prefill_scale = 1.0f;
  Decode decode = Decode::kNone;  // each decode row: add to attn (H2O) or replace it (TOVA)
  bool per_query_head = false;  // GroupReduce::kMax needs one row per query head; sum/mean can be pre-summed
  bool value_l1 = false, value_l2 = false, key_l2 = false;
};
StatPlan stat_plan(const PolicyConfig& cfg);

// The same policy with a budget of `tokens` (KV pressure: a running sequence compressed
// so that a newcomer fits). An explicit --kv-recent that no longer fits beside the sinks
// becomes auto (half the budget); sinks that fill the budget are an error.
Result<PolicyConfig> with_token_budget(const PolicyConfig& cfg, int64_t tokens);

// Slots one KV head must hold at the peak: the whole prompt before the first eviction
// (continuous), T + chunk (chunked), T + 1 during a decode step; one-shot and full grow
// to the context. Never more than ctx.
int64_t slots_needed(const PolicyConfig& cfg, const BudgetSplit& split, int64_t prompt_len, int64_t ctx);

enum class Phase { kPrefillChunk, kPrefillEnd, kDecodeStep };
// Whether the session runs a selection at this point of the schedule.
bool evicts_at(const PolicyConfig& cfg, Phase phase);

// Per-slot statistics of one (layer, KV head); slots in any order, positions unique.
struct HeadStats {
  std::span<const int32_t> pos;     // [n] original token position
  int32_t group = 1;                // query-head rows in attn (1 = already reduced)
  std::span<const float> attn;      // [group][n] the StatPlan statistic; empty for non-attention scorers
  int64_t attn_stride = 0;          // floats from one query-head row of attn to the next (0 = n)
  std::span<const float> value_l1;  // [n] Σ_d |v_d|, needed for ValueNorm::kL1
  std::span<const float> value_l2;  // [n] ‖v‖₂, needed for ValueNorm::kL2
  std::span<const float> key_l2;    // [n] ‖k‖₂, needed for Scorer::kKeyNorm
  int64_t size() const { return static_cast<int64_t>(pos.size()); }
};

// SplitMix64: small, seedable, no global state.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }  // [0, 1)

 private:
  uint64_t s_;
};

// Reusable buffers so selection does not allocate once warmed up.
struct SelectScratch {
  std::vector<float> score;    // [n]
  std::vector<float> shared;   // [n] layer-shared score
  std::vector<int32_t> order;  // [n]
  std::vector<int32_t> cand;   // [n]
  std::vector<float> pooled;   // [n]
};

// The scorer with value weighting and group reduction, for every slot (higher = keep).
// Sinks and recent are not applied here. SnapKV pooling is applied in select_keep,
// over the candidates only.
void compute_scores(const PolicyConfig& cfg, const HeadStats& stats, Rng& rng, std::span<float> out);

// Sorted slot indices to keep: everything if n ≤ split.total (or !cfg.evict); otherwise
// slots with pos < sinks, the split.recent newest positions, and the best-scoring other
// slots up to split.total. Ties keep the lower position.
void select_keep(const PolicyConfig& cfg, const BudgetSplit& split, const HeadStats& stats, Rng& rng,
                 SelectScratch& scratch, std::vector<int32_t>* keep);
std::vector<int32_t> select_keep(const PolicyConfig& cfg, const BudgetSplit& split, const HeadStats& stats,
                                 Rng& rng);

// All KV heads of one layer. With cfg.layer_shared the heads' scores are averaged and
// every head keeps the same slots (their positions must then be identical).
Status select_keep_layer(const PolicyConfig& cfg, const BudgetSplit& split, std::span<const HeadStats> heads,
                         Rng& rng, SelectScratch& scratch, std::vector<std::vector<int32_t>>* keep);

}  // namespace vatp::policy
