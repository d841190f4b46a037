// Test helpers for the model module: a tiny random llama/qwen2 GGUF built in memory
// with GgufWriter (F32 weights), and a naive double-precision reference forward pass
// with full attention matrices and an optional attention mask — written from the
// formulas (specs/gguf.md §2.2, §2.6), independent of the engine's code.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf.h"

namespace vatp::model::testing {

struct TinySpec {
  std::string arch = "llama";
  int layers = 2;
  int dim = 32;
  int heads = 4;
  int kv_heads = 2;
  int head_dim = 8;
  int ff = 48;
  int vocab = 64;
  float rope_base = 10000.0f;
  float eps = 1e-5f;
  bool tied = false;
  bool rope_freqs = false;  // write a rope_freqs.weight tensor (llama3-style factors)
  bool biases = false;      // attn_{q,k,v}.bias (always written for qwen2)
  float scale = 0.35f;      // weight std-dev: large enough for peaked attention
  uint32_t seed = 7;
};

// Weights as doubles, indexed like the GGUF rows: W[out][in].
struct TinyWeights {
  using Mat = std::vector<std::vector<double>>;
  Mat embd, output;  // [vocab][dim]
  std::vector<double> out_norm, rope_ff;
  struct Layer {
    std::vector<double> attn_norm, ffn_norm, bq, bk, bv;
    Mat wq, wk, wv, wo, wg, wu, wd;
  };
  std::vector<Layer> layers;
};

class TinyModelBuilder {
 public:
  explicit TinyModelBuilder(TinySpec s) : s_(std::move(s)), rng_(s_.seed) {}

  // Random weights; then writer() holds the complete file (callers may add/override).
  void build() {
    const int qd = s_.heads * s_.head_dim, kvd = s_.kv_heads * s_.head_dim;
    const bool bias = s_.biases || s_.arch == "qwen2";
    const std::string a = s_.arch + ".";
    w_.set_string("general.architecture", s_.arch);
    auto u32 = [&](const std::string& key, int v) {
      if (std::find(skip_.begin(), skip_.end(), key) == skip_.end())
        w_.set_u32(key, static_cast<uint32_t>(v));
    };
    u32(a + "block_count", s_.layers);
    u32(a + "context_length", 256);
    u32(a + "embedding_length", s_.dim);
    u32(a + "feed_forward_length", s_.ff);
    u32(a + "attention.head_count", s_.heads);
    u32(a + "attention.head_count_kv", s_.kv_heads);
    u32(a + "attention.key_length", s_.head_dim);
    u32(a + "attention.value_length", s_.head_dim);
    u32(a + "rope.dimension_count", s_.head_dim);
    w_.set_f32(a + "rope.freq_base", s_.rope_base);
    w_.set_f32(a + "attention.layer_norm_rms_epsilon", s_.eps);
    u32(a + "vocab_size", s_.vocab);

    ref_.embd = mat("token_embd.weight", s_.vocab, s_.dim, 1.0);
    ref_.out_norm = norm_vec("output_norm.weight", s_.dim);
    if (s_.tied) {
      ref_.output = ref_.embd;
    } else {
      ref_.output = mat("output.weight", s_.vocab, s_.dim, s_.scale);
    }
    if (s_.rope_freqs) {
      ref_.rope_ff.resize(static_cast<size_t>(s_.head_dim / 2));
      for (size_t i = 0; i < ref_.rope_ff.size(); ++i) ref_.rope_ff[i] = 1.0 + 3.0 * i;  // 1, 4, 7, ...
      add_vec("rope_freqs.weight", ref_.rope_ff);
    }
    for (int l = 0; l < s_.layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      TinyWeights::Layer L;
      L.attn_norm = norm_vec(p + "attn_norm.weight", s_.dim);
      L.wq = mat(p + "attn_q.weight", qd, s_.dim, s_.scale);
      L.wk = mat(p + "attn_k.weight", kvd, s_.dim, s_.scale);
      L.wv = mat(p + "attn_v.weight", kvd, s_.dim, s_.scale);
      L.wo = mat(p + "attn_output.weight", s_.dim, qd, s_.scale);
      if (bias) {
        L.bq = rand_vec(p + "attn_q.bias", qd, 0.2);
        L.bk = rand_vec(p + "attn_k.bias", kvd, 0.2);
        L.bv = rand_vec(p + "attn_v.bias", kvd, 0.2);
      }
      L.ffn_norm = norm_vec(p + "ffn_norm.weight", s_.dim);
      L.wg = mat(p + "ffn_gate.weight", s_.ff, s_.dim, s_.scale);
      L.wu = mat(p + "ffn_up.weight", s_.ff, s_.dim, s_.scale);
      L.wd = mat(p + "ffn_down.weight", s_.dim, s_.ff, s_.scale);
      ref_.layers.push_back(std::move(L));
    }
  }

  // Tests for bad files skip tensors or integer keys by name (call before build()), or
  // replace them after build() (GgufWriter replaces a key that is set again).
  void skip(const std::string& name) { skip_.push_back(name); }
  gguf::GgufWriter& writer() { return w_; }
  const TinyWeights& weights() const { return ref_; }
  const TinySpec& spec() const { return s_; }

  // Random f32 matrix [rows][cols] as ggml {cols, rows}.
  TinyWeights::Mat mat(const std::string& name, int rows, int cols, double sd) {
    std::normal_distribution<double> nd(0.0, sd);
    TinyWeights::Mat m(static_cast<size_t>(rows), std::vector<double>(static_cast<size_t>(cols)));
    std::vector<float> flat;
    for (auto& r : m) {
      for (double& x : r) {
        x = static_cast<float>(nd(rng_));  // the reference uses the exact stored f32
        flat.push_back(static_cast<float>(x));
      }
    }
    add_f32(name, {cols, rows}, flat);
    return m;
  }

 private:
  std::vector<double> rand_vec(const std::string& name, int n, double sd) {
    std::normal_distribution<double> nd(0.0, sd);
    std::vector<double> v(static_cast<size_t>(n));
    for (double& x : v) x = static_cast<float>(nd(rng_));
    add_vec(name, v);
    return v;
  }
  std::vector<double> norm_vec(const std::string& name, int n) {
    std::uniform_real_distribution<double> ud(0.7, 1.3);
    std::vector<double> v(static_cast<size_t>(n));
    for (double& x : v) x = static_cast<float>(ud(rng_));
    add_vec(name, v);
    return v;
  }
  void add_vec(const std::string& name, const std::vector<double>& v) {
    add_f32(name, {static_cast<int64_t>(v.size())}, std::vector<float>(v.begin(), v.end()));
  }
  void add_f32(const std::string& name, std::vector<int64_t> ne, const std::vector<float>& data) {
    for (const std::string& s : skip_) {
      if (s == name) return;
    }
    std::vector<uint8_t> bytes(data.size() * 4);
    std::memcpy(bytes.data(), data.data(), bytes.size());
    (void)w_.add_tensor(name, DType::F32, std::move(ne), std::move(bytes));
  }

  TinySpec s_;
  std::mt19937 rng_;
  gguf::GgufWriter w_;
  TinyWeights ref_;
  std::vector<std::string> skip_;
};

// masked(layer, kv_head, query_pos, key_pos): true hides the key from that query.
using MaskFn = std::function<bool(int layer, int kv_head, int32_t qpos, int32_t kpos)>;

// Straightforward double-precision forward over the whole sequence (tokens at
// positions 0..n-1, full causal attention matrix per head, then the mask). Returns
// n × vocab logits.
inline std::vector<std::vector<double>> reference_forward(const TinySpec& s, const TinyWeights& w,
                                                          const std::vector<int32_t>& tokens,
                                                          const MaskFn& masked = nullptr) {
  const int n = static_cast<int>(tokens.size());
  const int hd = s.head_dim, group = s.heads / s.kv_heads;
  const bool neox = s.arch == "qwen2";
  auto matvec = [](const TinyWeights::Mat& W, const std::vector<double>& x, const std::vector<double>& b) {
    std::vector<double> y(W.size());
    for (size_t o = 0; o < W.size(); ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      for (size_t i = 0; i < x.size(); ++i) acc += W[o][i] * x[i];
      y[o] = acc;
    }
    return y;
  };
  auto rmsnorm = [&](const std::vector<double>& x, const std::vector<double>& g) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double r = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + s.eps);
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * g[i];
    return y;
  };
  auto rope = [&](std::vector<double>& v, int n_heads, int32_t pos) {
    for (int h = 0; h < n_heads; ++h) {
      double* x = &v[static_cast<size_t>(h * hd)];
      for (int i = 0; i < hd / 2; ++i) {
        double theta = pos * std::pow(static_cast<double>(s.rope_base), -2.0 * i / hd);
        if (!w.rope_ff.empty()) theta /= w.rope_ff[static_cast<size_t>(i)];
        const int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
        const double x0 = x[a], x1 = x[b];
        x[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
        x[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
      }
    }
  };

  std::vector<std::vector<double>> x(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t)
    x[static_cast<size_t>(t)] = w.embd[static_cast<size_t>(tokens[static_cast<size_t>(t)])];
  for (int l = 0; l < s.layers; ++l) {
    const TinyWeights::Layer& L = w.layers[static_cast<size_t>(l)];
    std::vector<std::vector<double>> q(static_cast<size_t>(n)), k(static_cast<size_t>(n)),
        v(static_cast<size_t>(n));
    for (int t = 0; t < n; ++t) {
      const std::vector<double> h = rmsnorm(x[static_cast<size_t>(t)], L.attn_norm);
      q[static_cast<size_t>(t)] = matvec(L.wq, h, L.bq);
      k[static_cast<size_t>(t)] = matvec(L.wk, h, L.bk);
      v[static_cast<size_t>(t)] = matvec(L.wv, h, L.bv);
      rope(q[static_cast<size_t>(t)], s.heads, t);
      rope(k[static_cast<size_t>(t)], s.kv_heads, t);
    }
    for (int t = 0; t < n; ++t) {
      std::vector<double> att(static_cast<size_t>(s.heads * hd), 0.0);
      for (int h = 0; h < s.heads; ++h) {
        const int g = h / group;
        std::vector<double> sc(static_cast<size_t>(t + 1), -INFINITY);
        double mx = -INFINITY;
        for (int j = 0; j <= t; ++j) {
          if (masked && masked(l, g, t, j)) continue;
          double d = 0;
          for (int e = 0; e < hd; ++e)
            d += q[static_cast<size_t>(t)][static_cast<size_t>(h * hd + e)] *
                 k[static_cast<size_t>(j)][static_cast<size_t>(g * hd + e)];
          sc[static_cast<size_t>(j)] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, sc[static_cast<size_t>(j)]);
        }
        double sum = 0;
        for (double& e : sc) sum += (e = std::isinf(e) ? 0.0 : std::exp(e - mx));
        for (int j = 0; j <= t; ++j) {
          for (int e = 0; e < hd; ++e) {
            att[static_cast<size_t>(h * hd + e)] +=
                sc[static_cast<size_t>(j)] / sum * v[static_cast<size_t>(j)][static_cast<size_t>(g * hd + e)];
          }
        }
      }
      const std::vector<double> o = matvec(L.wo, att, {});
      for (size_t i = 0; i < o.size(); ++i) x[static_cast<size_t>(t)][i] += o[i];
      const std::vector<double> h = rmsnorm(x[static_cast<size_t>(t)], L.ffn_norm);
      std::vector<double> gt = matvec(L.wg, h, {}), up = matvec(L.wu, h, {});
      for (size_t i = 0; i < gt.size(); ++i) gt[i] = gt[i] / (1.0 + std::exp(-gt[i])) * up[i];
      const std::vector<double> d = matvec(L.wd, gt, {});
      for (size_t i = 0; i < d.size(); ++i) x[static_cast<size_t>(t)][i] += d[i];
    }
  }
  std::vector<std::vector<double>> logits(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) {
    logits[static_cast<size_t>(t)] = matvec(w.output, rmsnorm(x[static_cast<size_t>(t)], w.out_norm), {});
  }
  return logits;
}

}  // namespace vatp::model::testing
