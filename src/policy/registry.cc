// Scorer and preset rows (docs/policies.md has the definitions and sources).
#include "policy/registry.h"

#include <array>

#include "core/check.h"

namespace vatp::policy {

// Defined in select.cc: the group reduction + value weighting of attention scorers.
void score_attention(const PolicyConfig& cfg, const HeadStats& st, Rng& rng, std::span<float> out);

namespace {

void score_none(const PolicyConfig&, const HeadStats& st, Rng&, std::span<float> out) {
  for (int64_t i = 0; i < st.size(); ++i) out[i] = 0.0f;
}
void score_random(const PolicyConfig&, const HeadStats& st, Rng& rng, std::span<float> out) {
  for (int64_t i = 0; i < st.size(); ++i) out[i] = rng.uniform();
}
void score_key_norm(const PolicyConfig&, const HeadStats& st, Rng&, std::span<float> out) {
  VATP_CHECK(static_cast<int64_t>(st.key_l2.size()) == st.size());
  for (int64_t i = 0; i < st.size(); ++i) out[i] = -st.key_l2[i];  // small keys are kept
}

using D = StatPlan::Decode;
constexpr ScorerInfo kScorers[] = {
    {Scorer::kNone, "none", "no score: sinks + recent only", AttnStat::kNone, D::kNone, false, score_none},
    {Scorer::kAccumAttention, "accum-attention", "attention column sums over every query so far",
     AttnStat::kAccumulated, D::kAdd, false, score_attention},
    {Scorer::kWindowAttention, "window-attention",
     "attention of the last prompt queries, then each decode row", AttnStat::kWindow, D::kAdd, false,
     score_attention},
    {Scorer::kLastQuery, "last-query", "attention of the newest query", AttnStat::kLast, D::kReplace, false,
     score_attention},
    {Scorer::kKeyNorm, "key-norm", "smallest key norms kept", AttnStat::kNone, D::kNone, true,
     score_key_norm},
    {Scorer::kRandom, "random", "uniform random, seeded", AttnStat::kNone, D::kNone, false, score_random},
};

void set_h2o(PolicyConfig& c) { c.scorer = Scorer::kAccumAttention; }
void set_vatp(PolicyConfig& c) {  // specs/vatp.md §2.1; README command --sink_len 20
  set_h2o(c);
  c.value_norm = ValueNorm::kL1;
  c.sinks = 20;
}
void set_scissorhands(PolicyConfig& c) {  // §1.2 without --h2o
  c.scorer = Scorer::kWindowAttention;
  c.window = 400;
  c.window_scale = 1.0f / 400.0f;  // divisor 400 even when the prompt is shorter
  c.recent = 10;
}
void set_vatp_scissorhands(PolicyConfig& c) {  // §2.3
  set_scissorhands(c);
  c.value_norm = ValueNorm::kL1;
  c.sinks = 20;
}
void set_snapkv(PolicyConfig& c) {  // FasterDecoding defaults: w = 32, avgpool 5
  c.scorer = Scorer::kWindowAttention;
  c.window = 32;
  c.recent = 32;  // the observation window itself is kept
  c.pool_kernel = 5;
  c.group = GroupReduce::kMean;
  c.schedule = Schedule::kOneShot;
}
void set_vatp_snapkv(PolicyConfig& c) {  // LAVa's "SnapKV + VATP" row
  set_snapkv(c);
  c.value_norm = ValueNorm::kL1;
}
void set_one_shot(PolicyConfig& c, Scorer s) {
  c.scorer = s;
  c.recent = 0;
  c.schedule = Schedule::kOneShot;
}

constexpr PresetInfo kPresets[] = {
    {"full", "keep every token (no eviction)", [](PolicyConfig& c) { c.evict = false; }},
    {"streaming", "StreamingLLM: 4 attention sinks + the most recent tokens",
     [](PolicyConfig& c) {
       c.scorer = Scorer::kNone;
       c.sinks = 4;
     }},
    {"h2o", "H2O: accumulated attention, half heavy hitters + half recent", set_h2o},
    {"scissorhands", "Scissorhands: attention of the last 400 prompt queries, 10 recent", set_scissorhands},
    {"tova", "TOVA: the newest query's attention, mean over the layer's heads, one set per layer",
     [](PolicyConfig& c) {
       c.scorer = Scorer::kLastQuery;
       c.group = GroupReduce::kMean;
       c.layer_shared = true;
       c.recent = 0;
     }},
    {"snapkv", "SnapKV: last-32-query window, pooled, once after the prefill", set_snapkv},
    {"knorm", "kvpress KnormPress: smallest ‖k‖₂, once after the prefill",
     [](PolicyConfig& c) { set_one_shot(c, Scorer::kKeyNorm); }},
    {"random", "uniform random tokens, once after the prefill",
     [](PolicyConfig& c) { set_one_shot(c, Scorer::kRandom); }},
    {"vatp", "VATP: H2O's accumulated attention × ‖v‖₁, 20 sinks", set_vatp},
    {"vatp-scissorhands", "VATP on Scissorhands' scores (× ‖v‖₁, 20 sinks)", set_vatp_scissorhands},
    {"vatp-snapkv", "SnapKV's scores × ‖v‖₁ (LAVa's SnapKV + VATP)", set_vatp_snapkv},
};

}  // namespace

std::span<const ScorerInfo> scorers() { return kScorers; }

const ScorerInfo& scorer_info(Scorer s) {
  for (const ScorerInfo& r : kScorers) {
    if (r.id == s) return r;
  }
  VATP_CHECK(false && "scorer without a registry row");
  return kScorers[0];
}

std::span<const PresetInfo> presets() { return kPresets; }

}  // namespace vatp::policy
