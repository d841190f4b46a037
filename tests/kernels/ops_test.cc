// rms_norm / rope / swiglu / softmax vs straightforward double-precision references.
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "core/fp16.h"
#include "kernels/test_util.h"

namespace vatp::kernels {
namespace {

using testing::random_floats;

TEST(Ops, RmsNormMatchesDouble) {
  for (int64_t n : {1, 7, 576, 4096}) {
    const auto x = random_floats(static_cast<size_t>(n), 1, 3.0f);
    const auto w = random_floats(static_cast<size_t>(n), 2);
    std::vector<float> y(static_cast<size_t>(n)), y2(static_cast<size_t>(n));
    const float eps = 1e-5f;
    rms_norm(x.data(), w.data(), y.data(), n, eps);
    rms_norm(x.data(), nullptr, y2.data(), n, eps);
    double ss = 0.0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double s = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(y[i], x[i] * s * w[i], 1e-6 * std::fabs(x[i] * s * w[i]) + 1e-7);
      EXPECT_NEAR(y2[i], x[i] * s, 1e-6 * std::fabs(x[i] * s) + 1e-7);
    }
  }
  // In place.
  std::vector<float> x = {3.0f, 4.0f};
  rms_norm(x.data(), nullptr, x.data(), 2, 0.0f);
  EXPECT_NEAR(x[0], 3.0 / std::sqrt(12.5), 1e-6);
}

// Double reference: theta_i = pos · base^(−2i/n_rot) / ff_i, with YaRN mixing.
void rope_double(std::vector<double>& x, int n_heads, int head_dim, int n_rot, int pos, const RopeParams& p,
                 RopeLayout layout) {
  double corr0 = 0, corr1 = 0;
  if (p.ext_factor != 0.0f) {
    const auto cd = [&](double b) {
      return n_rot * std::log(p.n_ctx_orig / (b * 2 * std::numbers::pi)) / (2 * std::log(p.freq_base));
    };
    corr0 = std::max(0.0, std::floor(cd(p.beta_fast)));
    corr1 = std::min(static_cast<double>(n_rot - 1), std::ceil(cd(p.beta_slow)));
  }
  for (int h = 0; h < n_heads; ++h) {
    double* v = x.data() + h * head_dim;
    for (int i = 0; i < n_rot / 2; ++i) {
      const double ff = p.freq_factors ? p.freq_factors[i] : 1.0;
      const double extrap = pos * std::pow(static_cast<double>(p.freq_base), -2.0 * i / n_rot) / ff;
      const double interp = p.freq_scale * extrap;
      double th = interp, ms = p.attn_factor;
      if (p.ext_factor != 0.0f) {
        const double y = (i - corr0) / std::max(0.001, corr1 - corr0);
        const double ramp = (1 - std::min(1.0, std::max(0.0, y))) * p.ext_factor;
        th = interp * (1 - ramp) + extrap * ramp;
        ms *= 1 + 0.1 * std::log(1.0 / p.freq_scale);
      }
      const int a = layout == RopeLayout::Normal ? 2 * i : i;
      const int b = layout == RopeLayout::Normal ? 2 * i + 1 : i + n_rot / 2;
      const double x0 = v[a], x1 = v[b];
      v[a] = (x0 * std::cos(th) - x1 * std::sin(th)) * ms;
      v[b] = (x0 * std::sin(th) + x1 * std::cos(th)) * ms;
    }
  }
}

void check_rope(const RopeParams& p, RopeLayout layout, int n_rot) {
  const int n_heads = 3, head_dim = 64;
  for (int pos : {0, 1, 17, 500, 4000}) {
    const auto xf = random_floats(n_heads * head_dim, static_cast<uint32_t>(pos + 1));
    std::vector<float> got = xf;
    rope(got.data(), n_heads, head_dim, n_rot, pos, p, layout);
    std::vector<double> want(xf.begin(), xf.end());
    rope_double(want, n_heads, head_dim, n_rot, pos, p, layout);
    // The float theta is an iterated product: its error grows with pos (≈ pos·1e-7 rad).
    const double tol = 2e-5 + 4e-7 * pos;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], tol) << "pos=" << pos << " i=" << i;
      if (static_cast<int>(i % head_dim) >= n_rot) {
        ASSERT_EQ(got[i], xf[i]) << "dims past n_rot must be copied";
      }
    }
  }
}

TEST(Ops, RopeNormalAndNeox) {
  RopeParams p;
  p.freq_base = 10000.0f;
  check_rope(p, RopeLayout::Normal, 64);
  check_rope(p, RopeLayout::Neox, 64);
  check_rope(p, RopeLayout::Normal, 32);  // partial rotation
  check_rope(p, RopeLayout::Neox, 32);
  p.freq_base = 500000.0f;
  check_rope(p, RopeLayout::Normal, 64);
}

TEST(Ops, RopeWithFreqFactors) {
  std::vector<float> ff(32);
  for (int i = 0; i < 32; ++i) ff[i] = i < 10 ? 1.0f : (i < 20 ? 2.5f : 8.0f);
  RopeParams p;
  p.freq_base = 500000.0f;
  p.freq_factors = ff.data();
  check_rope(p, RopeLayout::Normal, 64);
  check_rope(p, RopeLayout::Neox, 64);
}

TEST(Ops, RopeYarn) {
  RopeParams p;
  p.freq_base = 10000.0f;
  p.freq_scale = 0.25f;
  p.ext_factor = 1.0f;
  p.n_ctx_orig = 4096;
  check_rope(p, RopeLayout::Neox, 64);
  check_rope(p, RopeLayout::Normal, 64);
}

TEST(Ops, RopePairing) {
  // A unit vector in dim 0 rotates into dim 1 (Normal) or dim n_rot/2 (Neox).
  RopeParams p;
  std::vector<float> x(8, 0.0f);
  x[0] = 1.0f;
  rope(x.data(), 1, 8, 8, 1, p, RopeLayout::Normal);
  EXPECT_NEAR(x[0], std::cos(1.0), 1e-6);
  EXPECT_NEAR(x[1], std::sin(1.0), 1e-6);
  EXPECT_EQ(x[4], 0.0f);
  std::fill(x.begin(), x.end(), 0.0f);
  x[0] = 1.0f;
  rope(x.data(), 1, 8, 8, 1, p, RopeLayout::Neox);
  EXPECT_NEAR(x[0], std::cos(1.0), 1e-6);
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_NEAR(x[4], std::sin(1.0), 1e-6);
}

TEST(Ops, RopeCacheIsIteratedFloatProduct) {
  // theta for pair i is pos·theta_scale^i computed by repeated float multiplication.
  RopeParams p;
  std::vector<float> cs(64);
  rope_cache(1000, 64, p, cs.data());
  const float ts = std::pow(10000.0f, -2.0f / 64.0f);
  float theta = 1000.0f;
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(cs[2 * i], std::cos(theta)) << i;
    EXPECT_EQ(cs[2 * i + 1], std::sin(theta)) << i;
    theta *= ts;
  }
}

TEST(Ops, SwigluRefMatchesDouble) {
  const auto g = random_floats(1000, 3, 4.0f);
  const auto u = random_floats(1000, 4);
  std::vector<float> y(1000);
  swiglu_ref(g.data(), u.data(), y.data(), 1000);
  for (size_t i = 0; i < g.size(); ++i) {
    const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
    EXPECT_NEAR(y[i], want, 1e-6 * std::fabs(want) + 1e-12);
  }
}

TEST(Ops, SoftmaxMatchesDouble) {
  auto x = random_floats(300, 5, 10.0f);
  std::vector<double> want(x.begin(), x.end());
  double mx = -1e300, sum = 0;
  for (double v : want) mx = std::max(mx, v);
  for (double& v : want) sum += (v = std::exp(v - mx));
  softmax(x.data(), 300);
  double total = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(x[i], want[i] / sum, 1e-6 * want[i] / sum + 1e-9);
    total += x[i];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(Ops, AddMulScaleFp16Rows) {
  const std::vector<float> a = {1, 2, 3}, b = {4, -5, 0.5f};
  std::vector<float> y(3);
  add(a.data(), b.data(), y.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{5, -3, 3.5f}));
  mul(a.data(), b.data(), y.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{4, -10, 1.5f}));
  scale(y.data(), 2.0f, 3);
  EXPECT_EQ(y, (std::vector<float>{8, -20, 3}));
  std::vector<uint16_t> h(3);
  const std::vector<float> f = {1.0f, 65504.0f, 1.0f + 1.0f / 4096};  // last one ties to even -> 1.0
  f32_to_fp16_row_ref(f.data(), h.data(), 3);
  EXPECT_EQ(h, (std::vector<uint16_t>{0x3C00, 0x7BFF, 0x3C00}));
  std::vector<float> back(3);
  fp16_to_f32_row_ref(h.data(), back.data(), 3);
  EXPECT_EQ(back, (std::vector<float>{1.0f, 65504.0f, 1.0f}));
}

}  // namespace
}  // namespace vatp::kernels
