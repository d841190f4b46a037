// KvCache: storage types, per-slot metadata computed at insert time from the stored
// values, per-head lengths, capacity limits, apply(plan) compaction, memory accounting.
#include "kvcache/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "kernels/quant.h"

namespace vatp::kvcache {
namespace {

constexpr int kHd = 4;

// K/V of token `p` for head h: distinct, sign-varying values; 0.1 is not exact in f16.
std::vector<float> kv_row(int32_t p, int n_heads, float base) {
  std::vector<float> r(static_cast<size_t>(n_heads * kHd));
  for (int h = 0; h < n_heads; ++h) {
    for (int d = 0; d < kHd; ++d)
      r[static_cast<size_t>(h * kHd + d)] = (d % 2 ? -1.0f : 1.0f) * (base + p + 0.1f * h + 0.01f * d);
  }
  return r;
}

float read(const KvCache& c, const void* rows, int slot, int d) {
  if (c.type() == KvType::F16) return fp16_to_f32(static_cast<const uint16_t*>(rows)[slot * kHd + d]);
  return static_cast<const float*>(rows)[slot * kHd + d];
}

TEST(KvCache, CreateRejectsBadConfigs) {
  EXPECT_FALSE(KvCache::create({0, 1, 4, 8, KvType::F16}).is_ok());
  EXPECT_FALSE(KvCache::create({1, 1, 4, 0, KvType::F16}).is_ok());
  EXPECT_TRUE(KvCache::create({1, 1, 4, 1, KvType::F16}).is_ok());
}

TEST(KvCache, TypeNames) {
  EXPECT_EQ(*kv_type_from_name("f16"), KvType::F16);
  EXPECT_EQ(*kv_type_from_name("f32"), KvType::F32);
  EXPECT_EQ(*kv_type_from_name("q8_0"), KvType::Q8_0);
  auto bad = kv_type_from_name("int4");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().to_string().find("int4"), std::string::npos);
  EXPECT_STREQ(kv_type_name(KvType::F16), "f16");
  EXPECT_STREQ(kv_type_name(KvType::Q8_0), "q8_0");
}

TEST(KvCache, AppendStoresRowsAndMetadataForEveryType) {
  for (KvType t : {KvType::F32, KvType::F16}) {
    auto c = KvCache::create({2, 3, kHd, 5, t});
    ASSERT_TRUE(c.is_ok());
    for (int32_t p = 0; p < 4; ++p) {
      const auto k = kv_row(p, 3, 1.0f), v = kv_row(p, 3, -2.5f);
      ASSERT_TRUE(c->append(1, k.data(), v.data(), 10 + p).is_ok());
    }
    EXPECT_EQ(c->length(1, 2), 4);
    EXPECT_EQ(c->length(0, 0), 0);
    EXPECT_EQ(c->max_length(), 4);
    EXPECT_EQ(c->free_slots(), 1);
    EXPECT_EQ(c->total_tokens(), 12);
    for (int h = 0; h < 3; ++h) {
      for (int s = 0; s < 4; ++s) {
        EXPECT_EQ(c->pos(1, h)[s], 10 + s);
        const auto k = kv_row(s, 3, 1.0f), v = kv_row(s, 3, -2.5f);
        double l1 = 0, l2 = 0, k2 = 0;
        for (int d = 0; d < kHd; ++d) {
          const float ks = read(*c, c->k(1, h), s, d), vs = read(*c, c->v(1, h), s, d);
          const float kin = k[static_cast<size_t>(h * kHd + d)], vin = v[static_cast<size_t>(h * kHd + d)];
          if (t == KvType::F32) {
            EXPECT_EQ(ks, kin);
            EXPECT_EQ(vs, vin);
          } else {
            EXPECT_EQ(ks, fp16_to_f32(f32_to_fp16(kin)));
            EXPECT_EQ(vs, fp16_to_f32(f32_to_fp16(vin)));
          }
          l1 += std::fabs(vs);  // from the STORED value
          l2 += static_cast<double>(vs) * vs;
          k2 += static_cast<double>(ks) * ks;
        }
        EXPECT_FLOAT_EQ(c->value_l1(1, h)[s], static_cast<float>(l1));
        EXPECT_FLOAT_EQ(c->value_l2(1, h)[s], static_cast<float>(std::sqrt(l2)));
        EXPECT_FLOAT_EQ(c->key_l2(1, h)[s], static_cast<float>(std::sqrt(k2)));
        EXPECT_EQ(c->acc_attn(1, h)[s], 0.0f);
      }
    }
  }
}

TEST(KvCache, FullHeadIsOutOfRange) {
  auto c = KvCache::create({1, 2, kHd, 2, KvType::F16});
  const auto k = kv_row(0, 2, 1.0f);
  ASSERT_TRUE(c->append(0, k.data(), k.data(), 0).is_ok());
  ASSERT_TRUE(c->append(0, k.data(), k.data(), 1).is_ok());
  const Status st = c->append(0, k.data(), k.data(), 2);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
  EXPECT_NE(st.to_string().find("full"), std::string::npos);
  EXPECT_EQ(c->length(0, 0), 2);
}

TEST(KvCache, ApplyCompactsEachHeadInOrderWithMetadata) {
  for (KvType t : {KvType::F32, KvType::F16}) {
    auto c = KvCache::create({2, 2, kHd, 8, t});
    for (int32_t p = 0; p < 6; ++p) {
      const auto k = kv_row(p, 2, 1.0f), v = kv_row(p, 2, 3.0f);
      ASSERT_TRUE(c->append(0, k.data(), v.data(), p).is_ok());
      ASSERT_TRUE(c->append(1, k.data(), v.data(), p).is_ok());
    }
    for (int s = 0; s < 6; ++s) {
      c->acc_attn(0, 1)[s] = 100.0f + s;
      c->window_attn(0, 1)[s] = 200.0f + s;
      c->last_attn(0, 1)[s] = 300.0f + s;
    }
    const float vl1_4 = c->value_l1(0, 1)[4];
    const float k_5 = read(*c, c->k(0, 1), 5, 2);
    EvictionPlan plan;
    plan.heads.push_back({0, 1, {0, 2, 4, 5}});
    plan.heads.push_back({1, 0, {3}});
    ASSERT_TRUE(c->apply(plan).is_ok());
    EXPECT_EQ(c->length(0, 0), 6);  // not listed: untouched
    EXPECT_EQ(c->length(0, 1), 4);
    EXPECT_EQ(c->length(1, 0), 1);
    EXPECT_EQ(c->length(1, 1), 6);
    const int32_t want[4] = {0, 2, 4, 5};
    for (int s = 0; s < 4; ++s) {
      EXPECT_EQ(c->pos(0, 1)[s], want[s]);
      EXPECT_EQ(c->acc_attn(0, 1)[s], 100.0f + want[s]);
      EXPECT_EQ(c->window_attn(0, 1)[s], 200.0f + want[s]);
      EXPECT_EQ(c->last_attn(0, 1)[s], 300.0f + want[s]);
    }
    EXPECT_EQ(c->value_l1(0, 1)[2], vl1_4);
    EXPECT_EQ(read(*c, c->k(0, 1), 3, 2), k_5);
    EXPECT_EQ(c->pos(1, 0)[0], 3);
    EXPECT_EQ(c->total_tokens(), 6 + 4 + 1 + 6);
    EXPECT_EQ(c->kv_bytes_used(), static_cast<size_t>(17) * 2 * kHd * (t == KvType::F16 ? 2 : 4));
    // Appending after an eviction lands after the kept slots, per head.
    const auto k = kv_row(9, 2, 1.0f);
    ASSERT_TRUE(c->append(1, k.data(), k.data(), 9).is_ok());
    EXPECT_EQ(c->length(1, 0), 2);
    EXPECT_EQ(c->pos(1, 0)[1], 9);
    EXPECT_EQ(c->pos(1, 1)[6], 9);
    // Empty keep list empties the head.
    plan.heads = {{1, 1, {}}};
    ASSERT_TRUE(c->apply(plan).is_ok());
    EXPECT_EQ(c->length(1, 1), 0);
  }
}

TEST(KvCache, BadPlansChangeNothing) {
  auto c = KvCache::create({1, 2, kHd, 4, KvType::F16});
  for (int32_t p = 0; p < 3; ++p) {
    const auto k = kv_row(p, 2, 1.0f);
    ASSERT_TRUE(c->append(0, k.data(), k.data(), p).is_ok());
  }
  const std::vector<EvictionPlan> bad = {
      {{{0, 0, {0}}, {0, 1, {2, 1}}}},  // second head not ascending: the first must not be applied either
      {{{0, 0, {0, 0}}}},               // duplicate
      {{{0, 0, {3}}}},                  // not live
      {{{0, 0, {-1}}}},                 // negative
      {{{1, 0, {0}}}},                  // no such layer
      {{{0, 2, {0}}}},                  // no such head
  };
  for (const EvictionPlan& p : bad) {
    EXPECT_FALSE(c->apply(p).is_ok());
    EXPECT_EQ(c->length(0, 0), 3);
    EXPECT_EQ(c->length(0, 1), 3);
  }
}

TEST(KvCache, ClearAndMemoryAccounting) {
  auto c = KvCache::create({3, 2, 64, 100, KvType::F16});
  EXPECT_EQ(c->kv_bytes_per_token(), static_cast<size_t>(2) * 3 * 2 * 64 * 2);
  // K and V storage is the bulk of the allocation; metadata is a few floats per slot.
  const size_t kv = static_cast<size_t>(3) * 2 * 100 * 64 * 2 * 2;
  EXPECT_GE(c->bytes_allocated(), kv);
  EXPECT_LE(c->bytes_allocated(), kv + static_cast<size_t>(3) * 2 * 100 * 64);
  auto f32 = KvCache::create({3, 2, 64, 100, KvType::F32});
  EXPECT_EQ(f32->kv_bytes_per_token(), 2 * c->kv_bytes_per_token());
  std::vector<float> k(2 * 64, 0.5f);
  ASSERT_TRUE(c->append(2, k.data(), k.data(), 0).is_ok());
  EXPECT_EQ(c->kv_bytes_used(), static_cast<size_t>(2) * 2 * 64 * 2);
  c->clear();
  EXPECT_EQ(c->total_tokens(), 0);
  EXPECT_EQ(c->kv_bytes_used(), 0u);
  ASSERT_TRUE(c->append(2, k.data(), k.data(), 7).is_ok());
  EXPECT_EQ(c->pos(2, 1)[0], 7);
}

// A cache made without statistics (a full cache nothing scores): K/V, positions and
// compaction exactly as with them; only the statistics and norms are absent, and asking
// for them is a programming error.
TEST(KvCache, WithoutStatisticsKeepsKvAndPositionsAndAllocatesLess) {
  KvCacheConfig with{2, 2, kHd, 8, KvType::F16};
  KvCacheConfig without = with;
  without.statistics = false;
  EXPECT_EQ(KvCache::bytes_for(with) - KvCache::bytes_for(without),
            static_cast<size_t>(2) * 2 * 8 * (3 + 3) * sizeof(float));
  auto a = KvCache::create(with), b = KvCache::create(without);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_TRUE(a->has_statistics());
  EXPECT_FALSE(b->has_statistics());
  EXPECT_EQ(b->bytes_allocated(), KvCache::bytes_for(without));
  for (int32_t p = 0; p < 6; ++p) {
    const auto k = kv_row(p, 2, 1.0f), v = kv_row(p, 2, 3.0f);
    for (int l = 0; l < 2; ++l) {
      ASSERT_TRUE(a->append(l, k.data(), v.data(), 10 + p).is_ok());
      ASSERT_TRUE(b->append(l, k.data(), v.data(), 10 + p).is_ok());
    }
  }
  EvictionPlan plan;
  plan.heads.push_back({1, 0, {1, 3, 4}});
  ASSERT_TRUE(a->apply(plan).is_ok());
  ASSERT_TRUE(b->apply(plan).is_ok());
  EXPECT_EQ(a->kv_bytes_used(), b->kv_bytes_used());
  for (int l = 0; l < 2; ++l) {
    for (int h = 0; h < 2; ++h) {
      ASSERT_EQ(a->length(l, h), b->length(l, h));
      const size_t n = static_cast<size_t>(a->length(l, h));
      EXPECT_EQ(std::memcmp(a->pos(l, h), b->pos(l, h), n * sizeof(int32_t)), 0);
      EXPECT_EQ(std::memcmp(a->k(l, h), b->k(l, h), n * a->row_bytes()), 0);
      EXPECT_EQ(std::memcmp(a->v(l, h), b->v(l, h), n * a->row_bytes()), 0);
    }
  }
  EXPECT_EQ(b->pos(1, 0)[1], 13);
  EXPECT_DEATH((void)b->acc_attn(0, 0), "");
  EXPECT_DEATH((void)b->value_l1(0, 0), "");
}

// q8_0: 34 bytes per 32 values, rows equal to the reference quantizer's, norms from
// the dequantized values; a head_dim that is not a multiple of 32 is refused.
TEST(KvCache, Q8_0Storage) {
  EXPECT_FALSE(KvCache::create({1, 1, 48, 4, KvType::Q8_0}).is_ok());
  auto c = KvCache::create({2, 2, 64, 4, KvType::Q8_0});
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->row_bytes(), 68u);
  EXPECT_EQ(c->kv_bytes_per_token(), static_cast<size_t>(2) * 2 * 2 * 68);
  std::vector<float> k(128), v(128);
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
    v[i] = std::cos(0.11f * static_cast<float>(i)) - 0.25f;
  }
  ASSERT_TRUE(c->append(1, k.data(), v.data(), 5).is_ok());
  for (int h = 0; h < 2; ++h) {
    std::vector<uint8_t> ref(68);
    kernels::quantize_row_ref(DType::Q8_0, &v[static_cast<size_t>(h) * 64], ref.data(), 64);
    EXPECT_EQ(std::memcmp(c->v(1, h), ref.data(), 68), 0);
    std::vector<float> deq(64);
    kernels::dequant_row_ref(DType::Q8_0, ref.data(), deq.data(), 64);
    double l1 = 0;
    for (float x : deq) l1 += std::fabs(x);
    EXPECT_NEAR(c->value_l1(1, h)[0], l1, 1e-4);
  }
  EXPECT_EQ(c->kv_bytes_used(), static_cast<size_t>(2) * 2 * 68);
}

// Per-query-head statistics rows move with their slot; renumbering gives slot j position j.
TEST(KvCache, StatRowsFollowApplyAndRenumber) {
  auto c = KvCache::create({1, 1, kHd, 6, KvType::F32, 3});
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->stat_rows(), 3);
  for (int32_t p = 0; p < 5; ++p) {
    const auto k = kv_row(p, 1, 1.0f);
    ASSERT_TRUE(c->append(0, k.data(), k.data(), 10 * p).is_ok());
    for (int r = 0; r < 3; ++r) c->acc_attn(0, 0)[r * 6 + p] = static_cast<float>(100 * r + p);
  }
  EvictionPlan plan;
  plan.heads = {{0, 0, {1, 3, 4}}};
  ASSERT_TRUE(c->apply(plan).is_ok());
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(c->acc_attn(0, 0)[r * 6 + 0], 100.0f * r + 1);
    EXPECT_EQ(c->acc_attn(0, 0)[r * 6 + 1], 100.0f * r + 3);
    EXPECT_EQ(c->acc_attn(0, 0)[r * 6 + 2], 100.0f * r + 4);
  }
  EXPECT_EQ(c->pos(0, 0)[1], 30);
  c->renumber_positions();
  for (int s = 0; s < 3; ++s) EXPECT_EQ(c->pos(0, 0)[s], s);
  EXPECT_EQ(c->min_length(), 3);
}

// with_capacity: a larger copy with every live slot's K/V, position, statistics (all
// rows) and norms, per-head lengths kept; the original untouched; too small refused.
TEST(KvCache, WithCapacityCopiesEveryHeadIntoALargerCache) {
  for (bool statistics : {true, false}) {
    KvCacheConfig cfg{2, 2, kHd, 4, KvType::F16, 2, statistics};
    auto c = KvCache::create(cfg);
    ASSERT_TRUE(c.is_ok());
    for (int l = 0; l < 2; ++l) {
      for (int32_t p = 0; p < 4; ++p) {
        const auto k = kv_row(p + 10 * l, 2, 1.0f), v = kv_row(p + 10 * l, 2, -2.0f);
        ASSERT_TRUE(c->append(l, k.data(), v.data(), 100 * l + p).is_ok());
        if (!statistics) continue;
        for (int h = 0; h < 2; ++h)
          for (int r = 0; r < 2; ++r)
            c->acc_attn(l, h)[r * 4 + p] = static_cast<float>(1000 * l + 100 * h + 10 * r + p);
      }
    }
    EvictionPlan plan;
    plan.heads = {{1, 1, {0, 2}}};  // heads of different lengths
    ASSERT_TRUE(c->apply(plan).is_ok());
    EXPECT_FALSE(c->with_capacity(3).is_ok());
    auto big = c->with_capacity(9);
    ASSERT_TRUE(big.is_ok()) << big.status().to_string();
    EXPECT_EQ(big->capacity(), 9);
    EXPECT_EQ(c->capacity(), 4);
    EXPECT_EQ(big->has_statistics(), statistics);
    for (int l = 0; l < 2; ++l) {
      for (int h = 0; h < 2; ++h) {
        ASSERT_EQ(big->length(l, h), c->length(l, h));
        for (int s = 0; s < c->length(l, h); ++s) {
          EXPECT_EQ(big->pos(l, h)[s], c->pos(l, h)[s]);
          for (int d = 0; d < kHd; ++d) {
            EXPECT_EQ(read(*big, big->k(l, h), s, d), read(*c, c->k(l, h), s, d));
            EXPECT_EQ(read(*big, big->v(l, h), s, d), read(*c, c->v(l, h), s, d));
          }
          if (!statistics) continue;
          EXPECT_EQ(big->value_l1(l, h)[s], c->value_l1(l, h)[s]);
          EXPECT_EQ(big->key_l2(l, h)[s], c->key_l2(l, h)[s]);
          for (int r = 0; r < 2; ++r) EXPECT_EQ(big->acc_attn(l, h)[r * 9 + s], c->acc_attn(l, h)[r * 4 + s]);
        }
      }
    }
    // It goes on appending where the copy left off.
    const auto k = kv_row(50, 2, 1.0f);
    ASSERT_TRUE(big->append(0, k.data(), k.data(), 50).is_ok());
    EXPECT_EQ(big->length(0, 0), 5);
    EXPECT_EQ(big->pos(0, 0)[4], 50);
  }
}

}  // namespace
}  // namespace vatp::kvcache
