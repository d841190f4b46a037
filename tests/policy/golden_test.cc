// Replays the golden cases of scripts/reference/make_policy_golden.py (a numpy rewrite
// of the official VATP/H2O masking code) the way the engine works: physical slots,
// attention over the kept slots only, per-slot statistics accumulated in f32 (column
// sums at prefill, + each decode row), value norms multiplied in at selection, sinks
// forced instead of fp16_max, and select_keep after the prefill and after every decode
// step. The kept token sets must be identical at every step, for every head.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace vatp::policy {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

fs::path golden_dir() { return fs::path(VATP_SOURCE_DIR) / "tests" / "data" / "policy"; }

std::vector<std::string> golden_files() {
  std::vector<std::string> out;
  if (!fs::exists(golden_dir())) return out;
  for (const auto& e : fs::directory_iterator(golden_dir())) {
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// [H][N][d] from JSON.
using Tensor3 = std::vector<std::vector<std::vector<float>>>;

// One KV head's physical slots.
struct Slots {
  std::vector<int32_t> pos;     // [n]
  std::vector<float> attn;      // [group][n], row-major per query head (resized on compaction)
  std::vector<float> value_l1;  // [n]
  int group = 1;

  int64_t n() const { return static_cast<int64_t>(pos.size()); }
  void append(int32_t p, float vl1) {
    const int64_t old = n();
    std::vector<float> a(group * (old + 1), 0.0f);
    for (int g = 0; g < group; ++g) {
      for (int64_t i = 0; i < old; ++i) a[g * (old + 1) + i] = attn[g * old + i];
    }
    attn = std::move(a);
    pos.push_back(p);
    value_l1.push_back(vl1);
  }
  void compact(const std::vector<int32_t>& keep) {
    const int64_t old = n(), m = static_cast<int64_t>(keep.size());
    std::vector<int32_t> p(m);
    std::vector<float> a(group * m), v(m);
    for (int64_t j = 0; j < m; ++j) {
      p[j] = pos[keep[j]];
      v[j] = value_l1[keep[j]];
      for (int g = 0; g < group; ++g) a[g * m + j] = attn[g * old + keep[j]];
    }
    pos = std::move(p), attn = std::move(a), value_l1 = std::move(v);
  }
  HeadStats stats() const {
    HeadStats s;
    s.pos = pos;
    s.group = group;
    s.attn = attn;
    s.value_l1 = value_l1;
    return s;
  }
  std::vector<int32_t> sorted_positions() const {
    std::vector<int32_t> p = pos;
    std::sort(p.begin(), p.end());
    return p;
  }
};

// Softmax of q against the listed key rows of `k` (one head), in f32 like the engine.
std::vector<float> attention_row(const std::vector<float>& q, const std::vector<std::vector<float>>& k,
                                 const std::vector<int32_t>& keys) {
  const size_t d = q.size();
  std::vector<float> p(keys.size());
  float mx = -INFINITY;
  for (size_t j = 0; j < keys.size(); ++j) {
    float dot = 0;
    for (size_t t = 0; t < d; ++t) dot += q[t] * k[keys[j]][t];
    p[j] = dot / std::sqrt(static_cast<float>(d));
    mx = std::max(mx, p[j]);
  }
  float sum = 0;
  for (float& x : p) sum += (x = std::exp(x - mx));
  for (float& x : p) x /= sum;
  return p;
}

float l1(const std::vector<float>& v) {
  float s = 0;
  for (float x : v) s += std::fabs(x);
  return s;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, KeptSetsMatchReferenceEveryStep) {
  std::ifstream in(GetParam());
  ASSERT_TRUE(in) << GetParam();
  const Json c = Json::parse(in);
  const std::string variant = c["variant"];
  const bool clone = c["clone_mask"];
  const int hq = c["n_head"], hkv = c["n_head_kv"], L = c["prompt_len"], T = c["decode_steps"];
  const int group = hq / hkv;
  const Tensor3 q = c["q"].get<Tensor3>(), k = c["k"].get<Tensor3>(), v = c["v"].get<Tensor3>();
  SCOPED_TRACE(std::string(c["name"]) + " (" + variant + (clone ? ", H2O .clone()" : "") + ")");

  // Config from the preset, with the case's sink count and budget (heavy_ratio r = f/2).
  auto pc = preset(variant);
  ASSERT_TRUE(pc.is_ok()) << pc.status().to_string();
  PolicyConfig cfg = *pc;
  cfg.budget = Budget{Budget::Kind::kFraction, 2.0 * c["heavy_ratio"].get<double>()};
  if (cfg.value_norm != ValueNorm::kNone) cfg.sinks = c["sink_len"];
  ASSERT_TRUE(validate(cfg, L, 4096).is_ok()) << validate(cfg, L, 4096).to_string();
  auto split = resolve_budget(cfg, L);
  ASSERT_TRUE(split.is_ok());
  // The integer budget formulas of the official code.
  EXPECT_EQ(split->heavy, c["heavy"].get<int64_t>());
  EXPECT_EQ(split->recent, c["recent"].get<int64_t>());
  EXPECT_EQ(split->total, c["cache_budget"].get<int64_t>());
  const StatPlan plan = stat_plan(cfg);
  ASSERT_TRUE(plan.attention);
  ASSERT_EQ(plan.decode, StatPlan::Decode::kAdd);
  ASSERT_EQ(evicts_at(cfg, Phase::kDecodeStep), true);

  Rng rng(0);
  SelectScratch scratch;
  std::vector<Slots> heads(hkv);
  const auto& steps = c["steps"];
  ASSERT_EQ(static_cast<int>(steps.size()), T + 1);

  auto evict_and_compare = [&](int step, int kv_len) {
    for (int h = 0; h < hkv; ++h) {
      std::vector<int32_t> keep;
      select_keep(cfg, *split, heads[h].stats(), rng, scratch, &keep);
      heads[h].compact(keep);
      const auto want = steps[step]["kept"][h].get<std::vector<int32_t>>();
      ASSERT_EQ(heads[h].sorted_positions(), want)
          << "step " << step << " (kv_len " << kv_len << "), kv head " << h;
    }
  };

  // Prefill: full causal attention; the statistic is the plan's window column sum.
  const int win_from = plan.prefill_window > 0 ? std::max(0, L - plan.prefill_window) : 0;
  for (int h = 0; h < hkv; ++h) {
    heads[h].group = group;
    for (int p = 0; p < L; ++p) heads[h].append(p, l1(v[h][p]));
  }
  for (int qh = 0; qh < hq; ++qh) {
    Slots& s = heads[qh / group];
    float* acc = s.attn.data() + (qh % group) * L;
    for (int i = win_from; i < L; ++i) {
      std::vector<int32_t> keys(i + 1);
      for (int j = 0; j <= i; ++j) keys[j] = j;
      const auto p = attention_row(q[qh][i], k[qh / group], keys);
      for (int j = 0; j <= i; ++j) acc[j] += p[j];
    }
    for (int j = 0; j < L; ++j) acc[j] *= plan.prefill_scale;
  }
  evict_and_compare(0, L);

  // Decode: append, attend the kept slots (+ itself), add the row, evict back to budget.
  for (int t = 1; t <= T; ++t) {
    const int p = L + t - 1;  // the new token; p tokens came before it
    // Original H2O stores a copy of the mask, so the token at p − recent (still kept,
    // about to join the heavy pool) is masked for this one step (specs/vatp.md §1.4).
    const bool evicting = p > split->total;
    const int32_t masked = (clone && evicting) ? p - static_cast<int32_t>(split->recent) : -1;
    for (int h = 0; h < hkv; ++h) heads[h].append(p, l1(v[h][p]));
    for (int qh = 0; qh < hq; ++qh) {
      Slots& s = heads[qh / group];
      std::vector<int32_t> keys, slot_of;
      for (int64_t i = 0; i < s.n(); ++i) {
        if (s.pos[i] == masked) continue;
        keys.push_back(s.pos[i]);
        slot_of.push_back(static_cast<int32_t>(i));
      }
      if (t > 0 && steps[t - 1].contains("attended_next")) {
        std::vector<int32_t> want = steps[t - 1]["attended_next"][qh / group].get<std::vector<int32_t>>();
        want.push_back(p);
        std::vector<int32_t> got = keys;
        std::sort(got.begin(), got.end());
        ASSERT_EQ(got, want) << "attended set at decode step " << t << ", query head " << qh;
      }
      const auto row = attention_row(q[qh][p], k[qh / group], keys);
      float* acc = s.attn.data() + (qh % group) * s.n();
      for (size_t j = 0; j < keys.size(); ++j) acc[slot_of[j]] += row[j];
    }
    evict_and_compare(t, p + 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, GoldenTest, ::testing::ValuesIn(golden_files()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = fs::path(i.param).stem().string();
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

TEST(GoldenFiles, Present) {
  // The parametrised suite silently has no cases if the files vanish; fail instead.
  EXPECT_GE(golden_files().size(), 10u) << "golden files missing under " << golden_dir();
}

}  // namespace
}  // namespace vatp::policy
