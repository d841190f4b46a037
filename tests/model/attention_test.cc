// Attention over the KV cache vs a naive double-precision full-matrix reference:
// decode (m = 1) and prefill (m > 1, causal), GQA groups 1/3, f32 and f16 caches,
// evicted (non-contiguous) slots, masked slots, and the statistics (column sums,
// windowed column sums, last-row probabilities, sum/mean/max group reduction).
#include "model/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"

namespace vatp::model {
namespace {

struct Case {
  int n_kv = 2, group = 3, hd = 16;
  int n_old = 30;  // tokens in the cache before the call
  int m = 6;       // new tokens (positions n_old .. n_old+m-1)
  bool evict = true;
  kvcache::KvType type = kvcache::KvType::F32;
  GroupReduce reduce = GroupReduce::Sum;
  int threads = 2;
  float k_scale = 1.5f;
};

struct Token {
  std::vector<double> k, v;  // [n_kv][hd], as stored (f16-rounded for an f16 cache)
};

double stored(float x, kvcache::KvType t) {
  return t == kvcache::KvType::F16 ? static_cast<double>(fp16_to_f32(f32_to_fp16(x)))
                                   : static_cast<double>(x);
}

void check(const Case& c, kernels::Isa isa) {
  SCOPED_TRACE(::testing::Message() << "group " << c.group << " m " << c.m << " type "
                                    << kvcache::kv_type_name(c.type) << " evict " << c.evict << " reduce "
                                    << static_cast<int>(c.reduce) << " isa " << kernels::isa_name(isa));
  const kernels::KernelTable kt = kernels::make_kernel_table(isa);
  const int n_heads = c.n_kv * c.group, hd = c.hd, cap = c.n_old + c.m + 2;
  auto cache = kvcache::KvCache::create({2, c.n_kv, hd, cap, c.type});
  ASSERT_TRUE(cache.is_ok());
  const int layer = 1;
  std::mt19937 rng(static_cast<uint32_t>(c.group * 100 + c.m));
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::map<int32_t, Token> toks;
  auto add = [&](int32_t p) {
    std::vector<float> k(static_cast<size_t>(c.n_kv * hd)), v(k.size());
    for (float& x : k) x = c.k_scale * nd(rng);  // peaked enough that probabilities differ a lot
    for (float& x : v) x = nd(rng);
    Token t;
    for (size_t i = 0; i < k.size(); ++i) {
      t.k.push_back(stored(k[i], c.type));
      t.v.push_back(stored(v[i], c.type));
    }
    toks[p] = t;
    ASSERT_TRUE(cache->append(layer, k.data(), v.data(), p).is_ok());
  };
  for (int32_t p = 0; p < c.n_old; ++p) add(p);
  // live[g] = positions still in head g's cache.
  std::vector<std::vector<int32_t>> live(static_cast<size_t>(c.n_kv));
  kvcache::EvictionPlan plan;
  for (int g = 0; g < c.n_kv; ++g) {
    kvcache::HeadKeep hk{layer, g, {}};
    for (int32_t p = 0; p < c.n_old; ++p) {
      if (!c.evict || (p + g) % 3 != 1) {
        hk.keep.push_back(p);
        live[static_cast<size_t>(g)].push_back(p);
      }
    }
    plan.heads.push_back(hk);
  }
  ASSERT_TRUE(cache->apply(plan).is_ok());
  std::vector<int32_t> pos(static_cast<size_t>(c.m));
  for (int i = 0; i < c.m; ++i) {
    pos[static_cast<size_t>(i)] = c.n_old + i;
    add(c.n_old + i);
    for (auto& l : live) l.push_back(c.n_old + i);
  }
  std::vector<float> q(static_cast<size_t>(c.m * n_heads * hd));
  for (float& x : q) x = nd(rng);

  AttentionStatsRequest req;
  req.accumulate = true;
  req.window_start = c.n_old + c.m / 2;  // the last rows only
  req.last = true;
  req.reduce = c.reduce;
  ThreadPool pool(c.threads);
  AttentionScratch scratch;
  scratch.reserve(pool.size(), c.n_kv, cap, hd, c.group);
  std::vector<float> out(q.size(), -7.0f);
  attention(kt, *cache, layer, q.data(), pos.data(), c.m, n_heads, out.data(), &req, scratch, pool);

  // Reference: per row and head, the full score row over the head's live positions.
  const double tol = c.type == kvcache::KvType::F32 ? 2e-5 : 3e-3;  // f16: q is rounded to f16 too
  for (int g = 0; g < c.n_kv; ++g) {
    const auto& lv = live[static_cast<size_t>(g)];
    ASSERT_EQ(cache->length(layer, g), static_cast<int>(lv.size()));
    std::vector<double> acc(lv.size(), 0.0), win(lv.size(), 0.0), last(lv.size(), 0.0);
    for (int i = 0; i < c.m; ++i) {
      std::vector<double> red(lv.size(), 0.0);
      for (int hq = 0; hq < c.group; ++hq) {
        const int h = g * c.group + hq;
        const float* qh = &q[static_cast<size_t>((i * n_heads + h) * hd)];
        std::vector<double> p(lv.size(), 0.0);
        double mx = -INFINITY;
        for (size_t s = 0; s < lv.size(); ++s) {
          if (lv[s] > pos[static_cast<size_t>(i)]) continue;
          double d = 0;
          for (int e = 0; e < hd; ++e) d += qh[e] * toks[lv[s]].k[static_cast<size_t>(g * hd + e)];
          p[s] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, p[s]);
        }
        double sum = 0;
        for (size_t s = 0; s < lv.size(); ++s)
          sum += (p[s] = lv[s] > pos[static_cast<size_t>(i)] ? 0.0 : std::exp(p[s] - mx));
        for (int e = 0; e < hd; ++e) {
          double o = 0;
          for (size_t s = 0; s < lv.size(); ++s)
            o += p[s] / sum * toks[lv[s]].v[static_cast<size_t>(g * hd + e)];
          ASSERT_NEAR(out[static_cast<size_t>((i * n_heads + h) * hd + e)], o, tol)
              << "row " << i << " head " << h;
        }
        for (size_t s = 0; s < lv.size(); ++s) {
          const double pr = p[s] / sum;
          red[s] = c.reduce == GroupReduce::Max ? std::max(red[s], pr) : red[s] + pr;
        }
      }
      if (c.reduce == GroupReduce::Mean) {
        for (double& r : red) r /= c.group;
      }
      for (size_t s = 0; s < lv.size(); ++s) {
        acc[s] += red[s];
        if (pos[static_cast<size_t>(i)] >= req.window_start) win[s] += red[s];
        if (i == c.m - 1) last[s] = red[s];
      }
    }
    for (size_t s = 0; s < lv.size(); ++s) {
      EXPECT_EQ(cache->pos(layer, g)[s], lv[s]);
      EXPECT_NEAR(cache->acc_attn(layer, g)[s], acc[s], tol) << "slot " << s;
      EXPECT_NEAR(cache->window_attn(layer, g)[s], win[s], tol) << "slot " << s;
      EXPECT_NEAR(cache->last_attn(layer, g)[s], last[s], tol) << "slot " << s;
    }
    // Column sums of a Sum reduction add up to (rows × group): each row is a distribution.
    if (c.reduce == GroupReduce::Sum) {
      double tot = 0;
      for (size_t s = 0; s < lv.size(); ++s) tot += cache->acc_attn(layer, g)[s];
      EXPECT_NEAR(tot, c.m * c.group, 1e-3);
    }
  }
}

TEST(Attention, DecodeMatchesReference) {
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::detect_isa()}) {
    for (kvcache::KvType t : {kvcache::KvType::F32, kvcache::KvType::F16}) {
      for (int group : {1, 3}) {
        for (bool ev : {false, true}) {
          Case c;
          c.m = 1;
          c.group = group;
          c.type = t;
          c.evict = ev;
          check(c, isa);
        }
      }
    }
  }
}

TEST(Attention, PrefillMatchesReference) {
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::detect_isa()}) {
    for (kvcache::KvType t : {kvcache::KvType::F32, kvcache::KvType::F16}) {
      for (int group : {1, 3}) {
        for (int m : {2, 7, 40}) {
          Case c;
          c.m = m;
          c.group = group;
          c.type = t;
          c.n_old = m == 40 ? 0 : 30;  // a first prefill into an empty cache, and a later chunk
          check(c, isa);
        }
      }
    }
  }
}

TEST(Attention, GroupReductions) {
  for (GroupReduce r : {GroupReduce::Sum, GroupReduce::Mean, GroupReduce::Max}) {
    for (int m : {1, 5}) {
      Case c;
      c.reduce = r;
      c.m = m;
      check(c, kernels::detect_isa());
    }
  }
}

TEST(Attention, ThreadCountsAndHeadShapes) {
  for (int threads : {1, 2, 3}) {
    Case c;
    c.type = threads == 2 ? kvcache::KvType::F16 : kvcache::KvType::F32;
    c.threads = threads;
    c.n_kv = 3;
    c.group = 2;
    c.hd = 64;
    c.m = 9;
    check(c, kernels::detect_isa());
    c.m = 1;
    c.hd = 128;
    check(c, kernels::detect_isa());
  }
}

// SmolLM2-like shape with large keys: the tiled (prefill) and per-slot (decode) paths.
TEST(Attention, LargeScoresF16Hd64) {
  for (int m : {1, 5}) {
    Case c;
    c.type = kvcache::KvType::F16;
    c.n_kv = 3;
    c.group = 3;
    c.hd = 64;
    c.n_old = 0;
    c.m = m;
    c.evict = false;
    c.k_scale = 6.0f;
    check(c, kernels::detect_isa());
  }
}

// Slots masked with KvCache::mask() (the reference "eviction" of the research code)
// are never attended and get no statistics.
TEST(Attention, MaskedSlotsAreNotAttended) {
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  const int hd = 8;
  auto a = kvcache::KvCache::create({1, 1, hd, 8, kvcache::KvType::F32});
  auto b = kvcache::KvCache::create({1, 1, hd, 8, kvcache::KvType::F32});
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  std::vector<float> k(hd), v(hd);
  for (int32_t p = 0; p < 6; ++p) {
    for (int e = 0; e < hd; ++e) k[static_cast<size_t>(e)] = nd(rng), v[static_cast<size_t>(e)] = nd(rng);
    ASSERT_TRUE(a->append(0, k.data(), v.data(), p).is_ok());
    if (p != 2 && p != 4) {
      ASSERT_TRUE(b->append(0, k.data(), v.data(), p).is_ok());
    }
  }
  a->mask(0, 0, 2);
  a->mask(0, 0, 4);
  std::vector<float> q(hd), oa(hd), ob(hd);
  for (float& x : q) x = nd(rng);
  const int32_t pos = 5;
  AttentionStatsRequest req;
  req.accumulate = true;
  ThreadPool pool(1);
  AttentionScratch s;
  s.reserve(1, 1, 8, hd, 1);
  attention(kt, *a, 0, q.data(), &pos, 1, 1, oa.data(), &req, s, pool);
  attention(kt, *b, 0, q.data(), &pos, 1, 1, ob.data(), &req, s, pool);
  for (int e = 0; e < hd; ++e) EXPECT_NEAR(oa[static_cast<size_t>(e)], ob[static_cast<size_t>(e)], 1e-6f);
  EXPECT_EQ(a->acc_attn(0, 0)[2], 0.0f);
  EXPECT_EQ(a->acc_attn(0, 0)[4], 0.0f);
  EXPECT_NEAR(a->acc_attn(0, 0)[5], b->acc_attn(0, 0)[3], 1e-6f);
}

}  // namespace
}  // namespace vatp::model
