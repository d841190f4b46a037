#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/mmap_file.h"
#include "core/status.h"
#include "core/thread_pool.h"

namespace vatp {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return invalid_argument("must be positive, got " + std::to_string(x));
  return x;
}

Result<int> twice(int x) {
  VATP_ASSIGN_OR_RETURN(int v, parse_positive(x));
  return 2 * v;
}

TEST(Status, ResultPropagatesErrors) {
  EXPECT_EQ(*twice(4), 8);
  Result<int> bad = twice(-1);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().to_string(), "invalid argument: must be positive, got -1");
  EXPECT_EQ(bad.status().with_context("flag -n").message(), "flag -n: must be positive, got -1");
}

// Reference half->float by the definition of binary16, independent of the bit tricks.
float half_by_definition(uint16_t h) {
  const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  const float sign = s ? -1.0f : 1.0f;
  if (e == 0) return sign * std::ldexp(static_cast<float>(m), -24);
  if (e == 31) return m ? std::nanf("") : sign * INFINITY;
  return sign * std::ldexp(static_cast<float>(1024 + m), e - 25);
}

TEST(Fp16, AllHalvesRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_f32(static_cast<uint16_t>(h));
    const float ref = half_by_definition(static_cast<uint16_t>(h));
    if (std::isnan(ref)) {
      EXPECT_TRUE(std::isnan(f)) << h;
      continue;
    }
    ASSERT_EQ(f, ref) << h;
    ASSERT_EQ(f32_to_fp16(f), h) << h;
  }
}

TEST(Fp16, RoundsToNearestEven) {
  // Midpoints between consecutive halves round to the even one; just above rounds up.
  for (uint16_t h = 1; h < 0x7BFF; h += 7) {
    const float a = fp16_to_f32(h), b = fp16_to_f32(static_cast<uint16_t>(h + 1));
    const float mid = 0.5f * (a + b);
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    EXPECT_EQ(f32_to_fp16(mid), even) << h;
    EXPECT_EQ(f32_to_fp16(std::nextafter(mid, INFINITY)), h + 1) << h;
  }
  EXPECT_EQ(f32_to_fp16(1e6f), 0x7C00);
  EXPECT_EQ(f32_to_fp16(-1e6f), 0xFC00);
  EXPECT_EQ(f32_to_fp16(1e-10f), 0);
}

TEST(Bf16, RoundTripAndRne) {
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.5f)), 1.5f);
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

TEST(DType, LayoutFacts) {
  EXPECT_EQ(row_bytes(DType::Q4_0, 64), 36u);
  EXPECT_EQ(row_bytes(DType::Q6_K, 512), 420u);
  EXPECT_FALSE(dtype_info(4u).has_value());   // removed ggml id
  EXPECT_FALSE(dtype_info(16u).has_value());  // IQ2_XXS: not supported
  EXPECT_EQ(dtype_from_name("q8_0"), DType::Q8_0);
  EXPECT_FALSE(dtype_from_name("Q9_9").has_value());
}

TEST(ThreadPool, CoversRangeExactlyOnce) {
  ThreadPool pool(2);
  for (int64_t n : {0, 1, 7, 1000, 4097}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.parallel_for(n, 13, [&](int64_t b, int64_t e, int t) {
      ASSERT_LT(t, pool.size());
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(MappedFile, MissingFileIsNotFound) {
  Result<MappedFile> f = MappedFile::open("/nonexistent/vatp/file.gguf");
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  Result<MappedFile> d = MappedFile::open("/tmp");
  ASSERT_FALSE(d.is_ok());
}

}  // namespace
}  // namespace vatp
