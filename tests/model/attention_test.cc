// Attention over the KV cache vs a naive double-precision full-matrix reference:
// decode (m = 1) and prefill (m > 1, causal), GQA groups 1/3, f32, f16 and q8_0
// caches, evicted (non-contiguous) slots, masked slots, keys rotated when read
// (rerotation), and the statistics (column sums, windowed column sums, last-row
// probabilities; sum/mean group reduction or one row per query head).
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
#include "kernels/ops.h"
#include "kernels/quant.h"

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
  bool rerotate = false;  // keys stored unrotated; after the eviction positions are renumbered
};

struct Token {
  std::vector<float> k, v;  // [n_kv][hd], as stored (rounded to f16 / q8_0), keys unrotated if rerotate
};

// One head's row as the cache stores it.
std::vector<float> stored(const float* x, int hd, kvcache::KvType t) {
  std::vector<float> r(x, x + hd);
  if (t == kvcache::KvType::F16) {
    for (float& e : r) e = fp16_to_f32(f32_to_fp16(e));
  } else if (t == kvcache::KvType::Q8_0) {
    std::vector<uint8_t> b(static_cast<size_t>(hd / 32 * 34));
    kernels::quantize_row_ref(DType::Q8_0, x, b.data(), hd);
    kernels::dequant_row_ref(DType::Q8_0, b.data(), r.data(), hd);
  }
  return r;
}

void check(const Case& c, kernels::Isa isa) {
  SCOPED_TRACE(::testing::Message() << "group " << c.group << " m " << c.m << " type "
                                    << kvcache::kv_type_name(c.type) << " evict " << c.evict << " reduce "
                                    << static_cast<int>(c.reduce) << " isa " << kernels::isa_name(isa));
  const kernels::KernelTable kt = kernels::make_kernel_table(isa);
  const int n_heads = c.n_kv * c.group, hd = c.hd, cap = c.n_old + c.m + 2;
  const bool per_head = c.reduce == GroupReduce::PerHead;
  auto cache = kvcache::KvCache::create({2, c.n_kv, hd, cap, c.type, per_head ? c.group : 1});
  ASSERT_TRUE(cache.is_ok());
  kernels::RopeParams rope;
  const int layer = 1;
  std::mt19937 rng(static_cast<uint32_t>(c.group * 100 + c.m));
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::map<int32_t, Token> toks;
  auto add = [&](int32_t p) {
    std::vector<float> k(static_cast<size_t>(c.n_kv * hd)), v(k.size());
    for (float& x : k) x = c.k_scale * nd(rng);  // peaked enough that probabilities differ a lot
    for (float& x : v) x = nd(rng);
    Token t;
    for (int g = 0; g < c.n_kv; ++g) {
      for (float x : stored(&k[static_cast<size_t>(g * hd)], hd, c.type)) t.k.push_back(x);
      for (float x : stored(&v[static_cast<size_t>(g * hd)], hd, c.type)) t.v.push_back(x);
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
  // ids[g][s] = the token in head g's slot s; live[g][s] its position.
  std::vector<std::vector<int32_t>> ids = live;
  int32_t next = c.n_old;
  if (c.rerotate) {
    cache->renumber_positions();
    for (auto& l : live) {
      for (size_t s = 0; s < l.size(); ++s) l[s] = static_cast<int32_t>(s);
    }
    next = static_cast<int32_t>(live[0].size());
    for (const auto& l : live) ASSERT_EQ(l.size(), live[0].size());
  }
  std::vector<int32_t> pos(static_cast<size_t>(c.m));
  for (int i = 0; i < c.m; ++i) {
    pos[static_cast<size_t>(i)] = next + i;
    add(c.n_old + i);  // token id
    ASSERT_TRUE(cache->length(layer, 0) > 0);
    for (int g = 0; g < c.n_kv; ++g) {
      live[static_cast<size_t>(g)].push_back(next + i);
      ids[static_cast<size_t>(g)].push_back(c.n_old + i);
    }
  }
  if (c.rerotate) {  // append() recorded the token id as position; use the cache positions
    cache->renumber_positions();
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
  if (c.rerotate) scratch.enable_key_rope(rope, hd, kernels::RopeLayout::Normal);
  // The key of head g's slot s as attention must see it.
  auto key = [&](int g, size_t s) {
    const Token& t = toks[ids[static_cast<size_t>(g)][s]];
    std::vector<float> k(t.k.begin() + g * hd, t.k.begin() + (g + 1) * hd);
    if (c.rerotate)
      kernels::rope(k.data(), 1, hd, hd, live[static_cast<size_t>(g)][s], rope, kernels::RopeLayout::Normal);
    return k;
  };
  std::vector<float> out(q.size(), -7.0f);
  attention(kt, *cache, layer, q.data(), pos.data(), c.m, n_heads, out.data(), &req, scratch, pool);

  // Reference: per row and head, the full score row over the head's live positions.
  const double tol = c.type == kvcache::KvType::F16 ? 3e-3 : 2e-5;  // f16: q is rounded to f16 too
  const size_t ccap = static_cast<size_t>(cap);
  for (int g = 0; g < c.n_kv; ++g) {
    const auto& lv = live[static_cast<size_t>(g)];
    ASSERT_EQ(cache->length(layer, g), static_cast<int>(lv.size()));
    std::vector<std::vector<float>> keys;
    for (size_t s = 0; s < lv.size(); ++s) keys.push_back(key(g, s));
    const int rows = per_head ? c.group : 1;  // statistics rows kept per slot
    std::vector<double> acc(lv.size() * rows, 0.0), win(acc.size(), 0.0), last(acc.size(), 0.0);
    for (int i = 0; i < c.m; ++i) {
      std::vector<double> red(lv.size() * rows, 0.0);
      for (int hq = 0; hq < c.group; ++hq) {
        const int h = g * c.group + hq;
        const float* qh = &q[static_cast<size_t>((i * n_heads + h) * hd)];
        std::vector<double> p(lv.size(), 0.0);
        double mx = -INFINITY;
        for (size_t s = 0; s < lv.size(); ++s) {
          if (lv[s] > pos[static_cast<size_t>(i)]) continue;
          double d = 0;
          for (int e = 0; e < hd; ++e) d += qh[e] * static_cast<double>(keys[s][static_cast<size_t>(e)]);
          p[s] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, p[s]);
        }
        double sum = 0;
        for (size_t s = 0; s < lv.size(); ++s)
          sum += (p[s] = lv[s] > pos[static_cast<size_t>(i)] ? 0.0 : std::exp(p[s] - mx));
        for (int e = 0; e < hd; ++e) {
          double o = 0;
          for (size_t s = 0; s < lv.size(); ++s)
            o += p[s] / sum * toks[ids[static_cast<size_t>(g)][s]].v[static_cast<size_t>(g * hd + e)];
          ASSERT_NEAR(out[static_cast<size_t>((i * n_heads + h) * hd + e)], o, tol)
              << "row " << i << " head " << h;
        }
        for (size_t s = 0; s < lv.size(); ++s) red[(per_head ? hq * lv.size() : 0) + s] += p[s] / sum;
      }
      if (c.reduce == GroupReduce::Mean) {
        for (double& r : red) r /= c.group;
      }
      for (size_t s = 0; s < red.size(); ++s) {
        acc[s] += red[s];
        if (pos[static_cast<size_t>(i)] >= req.window_start) win[s] += red[s];
        if (i == c.m - 1) last[s] = red[s];
      }
    }
    for (int r = 0; r < rows; ++r) {
      for (size_t s = 0; s < lv.size(); ++s) {
        const size_t o = r * ccap + s, e = r * lv.size() + s;
        EXPECT_EQ(cache->pos(layer, g)[s], lv[s]);
        EXPECT_NEAR(cache->acc_attn(layer, g)[o], acc[e], tol) << "slot " << s << " row " << r;
        EXPECT_NEAR(cache->window_attn(layer, g)[o], win[e], tol) << "slot " << s << " row " << r;
        EXPECT_NEAR(cache->last_attn(layer, g)[o], last[e], tol) << "slot " << s << " row " << r;
      }
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
  for (GroupReduce r : {GroupReduce::Sum, GroupReduce::Mean, GroupReduce::PerHead}) {
    for (int m : {1, 5}) {
      Case c;
      c.reduce = r;
      c.m = m;
      check(c, kernels::detect_isa());
    }
  }
}

// q8_0 storage: the reference reads the dequantized values, queries stay f32.
TEST(Attention, Q8_0Cache) {
  for (kernels::Isa isa : {kernels::Isa::Scalar, kernels::detect_isa()}) {
    for (int m : {1, 7}) {
      for (int hd : {32, 64}) {
        Case c;
        c.type = kvcache::KvType::Q8_0;
        c.hd = hd;
        c.m = m;
        check(c, isa);
      }
    }
  }
}

// Rerotation: keys stored unrotated and rotated at their (renumbered) slot positions
// when read, in both paths, with every cache type.
TEST(Attention, KeysRotatedAtSlotPositions) {
  for (kvcache::KvType t : {kvcache::KvType::F32, kvcache::KvType::F16, kvcache::KvType::Q8_0}) {
    for (int m : {1, 6}) {
      Case c;
      c.type = t;
      c.hd = 32;
      c.m = m;
      c.rerotate = true;
      c.reduce = m == 1 ? GroupReduce::PerHead : GroupReduce::Sum;
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
