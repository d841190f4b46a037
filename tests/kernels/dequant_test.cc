// Dequantization of hand-built blocks against values worked out from the §3.2 formulas
// (element-index form, independent of the loop structure of ref/dequant_ref.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "kernels/quant.h"

namespace vatp::kernels {
namespace {

std::vector<float> deq(DType t, const void* blk, int n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequant_row_ref(t, blk, y.data(), n);
  return y;
}

TEST(Dequant, Q4_0) {
  BlockQ4_0 b{};
  b.d = f32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = deq(DType::Q4_0, &b, 32);
  EXPECT_EQ(y[0], -4.0f);   // (0 − 8)·0.5
  EXPECT_EQ(y[15], 3.5f);   // (15 − 8)·0.5
  EXPECT_EQ(y[16], 3.5f);   // high nibble of qs[0] = 15
  EXPECT_EQ(y[31], -4.0f);  // high nibble of qs[15] = 0
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f);
    EXPECT_EQ(y[j + 16], (7 - j) * 0.5f);
  }
}

TEST(Dequant, Q4_1) {
  BlockQ4_1 b{};
  b.d = f32_to_fp16(0.25f);
  b.m = f32_to_fp16(-1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = deq(DType::Q4_1, &b, 32);
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[16], 2.75f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j * 0.25f - 1.0f);
    EXPECT_EQ(y[j + 16], (15 - j) * 0.25f - 1.0f);
  }
}

TEST(Dequant, Q5_0AndQ5_1) {
  // qh = 0x80000005: 5th bit set for elements 0, 2 and 31.
  BlockQ5_0 b0{};
  b0.d = f32_to_fp16(2.0f);
  const uint8_t qh[4] = {0x05, 0x00, 0x00, 0x80};
  std::memcpy(b0.qh, qh, 4);
  for (int j = 0; j < 16; ++j) b0.qs[j] = static_cast<uint8_t>(3 | (15 << 4));
  auto y = deq(DType::Q5_0, &b0, 32);
  EXPECT_EQ(y[0], (19 - 16) * 2.0f);
  EXPECT_EQ(y[1], (3 - 16) * 2.0f);
  EXPECT_EQ(y[2], (19 - 16) * 2.0f);
  EXPECT_EQ(y[16], (15 - 16) * 2.0f);
  EXPECT_EQ(y[31], (31 - 16) * 2.0f);

  BlockQ5_1 b1{};
  b1.d = f32_to_fp16(0.5f);
  b1.m = f32_to_fp16(1.0f);
  std::memcpy(b1.qh, qh, 4);
  for (int j = 0; j < 16; ++j) b1.qs[j] = static_cast<uint8_t>(3 | (15 << 4));
  y = deq(DType::Q5_1, &b1, 32);
  EXPECT_EQ(y[0], 19 * 0.5f + 1.0f);
  EXPECT_EQ(y[1], 3 * 0.5f + 1.0f);
  EXPECT_EQ(y[30], 15 * 0.5f + 1.0f);
  EXPECT_EQ(y[31], 31 * 0.5f + 1.0f);
}

TEST(Dequant, Q8_0AndBf16F16) {
  BlockQ8_0 b{};
  b.d = f32_to_fp16(0.125f);
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 128);
  const auto y = deq(DType::Q8_0, &b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (j * 8 - 128) * 0.125f);

  const uint16_t h[3] = {0x3C00, 0xC000, 0x0001};  // 1, −2, smallest subnormal
  const auto f = deq(DType::F16, h, 3);
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_EQ(f[1], -2.0f);
  EXPECT_EQ(f[2], std::ldexp(1.0f, -24));
  const uint16_t bf[2] = {0x3F80, 0x4049};  // 1, 3.140625
  const auto g = deq(DType::BF16, bf, 2);
  EXPECT_EQ(g[0], 1.0f);
  EXPECT_EQ(g[1], 3.140625f);
}

// Q4_K/Q5_K 6-bit scale packing, bytes worked out by hand:
// scales {1, 2, 63, 4, 17, 33, 48, 63}, mins {0, 5, 10, 15, 20, 40, 60, 62}.
// j<4: s[j] low 6 = scale j, top 2 = scale(j+4)>>4; s[j+4] low 6 = min j, top 2 = min(j+4)>>4;
// s[j+8] = scale(j+4)&15 | (min(j+4)&15)<<4.
constexpr uint8_t kPacked[12] = {
    0x41, 0x82, 0xFF, 0xC4,  // 1|1<<6, 2|2<<6, 63|3<<6, 4|3<<6
    0x40, 0x85, 0xCA, 0xCF,  // 0|1<<6, 5|2<<6, 10|3<<6, 15|3<<6
    0x41, 0x81, 0xC0, 0xEF,  // 1|4<<4, 1|8<<4, 0|12<<4, 15|14<<4
};
constexpr uint8_t kScales[8] = {1, 2, 63, 4, 17, 33, 48, 63};
constexpr uint8_t kMins[8] = {0, 5, 10, 15, 20, 40, 60, 62};

TEST(Dequant, ScaleMinK4Packing) {
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    get_scale_min_k4(j, kPacked, &s, &m);
    EXPECT_EQ(s, kScales[j]) << j;
    EXPECT_EQ(m, kMins[j]) << j;
  }
}

TEST(Dequant, Q4_K) {
  BlockQ4_K b{};
  b.d = f32_to_fp16(0.5f);
  b.dmin = f32_to_fp16(0.25f);
  std::memcpy(b.scales, kPacked, 12);
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i % 16) | ((15 - i % 16) << 4));
  const auto y = deq(DType::Q4_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, l = e % 32;
    const bool high = (e % 64) >= 32;
    const int sub = 2 * c + (high ? 1 : 0);
    const int q = high ? 15 - (32 * c + l) % 16 : (32 * c + l) % 16;
    EXPECT_EQ(y[e], 0.5f * kScales[sub] * q - 0.25f * kMins[sub]) << e;
  }
  EXPECT_EQ(y[64 * 3 + 32], 0.5f * 63 * 15 - 0.25f * 62);  // scale 7 = 63, min 7 = 62, q = 15
}

TEST(Dequant, Q5_K) {
  BlockQ5_K b{};
  b.d = f32_to_fp16(1.0f);
  b.dmin = f32_to_fp16(2.0f);
  std::memcpy(b.scales, kPacked, 12);
  for (int i = 0; i < 128; ++i) b.qs[i] = 0x93;  // low 3, high 9
  for (int l = 0; l < 32; ++l) b.qh[l] = static_cast<uint8_t>(l % 2 ? 0xAA : 0x55);
  const auto y = deq(DType::Q5_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, l = e % 32;
    const bool high = (e % 64) >= 32;
    const int sub = 2 * c + (high ? 1 : 0);
    const int bit = (b.qh[l] >> sub) & 1;  // qh bit 2c (low nibble) or 2c+1 (high)
    const int q = (high ? 9 : 3) + 16 * bit;
    EXPECT_EQ(y[e], 1.0f * kScales[sub] * q - 2.0f * kMins[sub]) << e;
  }
  EXPECT_EQ(y[0], 1.0f * 1 * 19 - 0.0f);      // qh[0] = 0x55: bit 0 set
  EXPECT_EQ(y[32], 1.0f * 2 * 9 - 2.0f * 5);  // bit 1 of 0x55 clear
}

TEST(Dequant, Q6_K) {
  BlockQ6_K b{};
  b.d = f32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j - 8);
  for (int i = 0; i < 128; ++i) b.ql[i] = static_cast<uint8_t>(i);
  for (int i = 0; i < 64; ++i) b.qh[i] = static_cast<uint8_t>(i * 37);
  const auto y = deq(DType::Q6_K, &b, 256);
  // Element e: half n = e/128, r = e%128, k = r/32, l = r%32; low 4 bits from
  // ql[64n + l + 32·(k%2)] (low nibble if k<2 else high), high 2 bits (qh[32n+l] >> 2k)&3,
  // scale index 8n + r/16.
  for (int e = 0; e < 256; ++e) {
    const int n = e / 128, r = e % 128, k = r / 32, l = r % 32;
    const uint8_t qlb = b.ql[64 * n + l + 32 * (k % 2)];
    const int lo = k < 2 ? (qlb & 0xF) : (qlb >> 4);
    const int hi = (b.qh[32 * n + l] >> (2 * k)) & 3;
    const int q = (lo | (hi << 4)) - 32;
    EXPECT_EQ(y[e], 0.5f * b.scales[8 * n + r / 16] * q) << e;
  }
}

TEST(Dequant, Q2_K) {
  BlockQ2_K b{};
  b.d = f32_to_fp16(0.5f);
  b.dmin = f32_to_fp16(0.25f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>((j % 16) | ((15 - j) << 4));
  for (int i = 0; i < 64; ++i) b.qs[i] = static_cast<uint8_t>(i * 29 + 7);
  const auto y = deq(DType::Q2_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int n = e / 128, eh = e % 128;
    const uint8_t byte = b.qs[32 * n + eh % 32];
    const int shift = 2 * (eh / 32);
    const int is = 8 * n + 2 * (eh / 32) + (eh % 32 >= 16);
    const uint8_t sc = b.scales[is];
    EXPECT_EQ(y[e], (0.5f * (sc & 0xF)) * ((byte >> shift) & 3) - 0.25f * (sc >> 4)) << e;
  }
}

TEST(Dequant, Q3_K) {
  BlockQ3_K b{};
  b.d = f32_to_fp16(0.5f);
  for (int i = 0; i < 32; ++i) b.hmask[i] = static_cast<uint8_t>(i * 53 + 1);
  for (int i = 0; i < 64; ++i) b.qs[i] = static_cast<uint8_t>(i * 29 + 7);
  for (int i = 0; i < 12; ++i) b.scales[i] = static_cast<uint8_t>(i * 71 + 3);
  const auto y = deq(DType::Q3_K, &b, 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 16;
    const int lo4 = j < 8 ? (b.scales[j] & 0xF) : (b.scales[j - 8] >> 4);
    const int hi2 = (b.scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    const int scale = (lo4 | (hi2 << 4)) - 32;
    const int n = e / 128, eh = e % 128;
    const int low = (b.qs[32 * n + eh % 32] >> (2 * (eh / 32))) & 3;
    const int q = low - (((b.hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4);
    EXPECT_EQ(y[e], 0.5f * scale * q) << e;
  }
}

}  // namespace
}  // namespace vatp::kernels
