#include "runtime/inspect.h"

#include <algorithm>
#include <memory>
#include <numeric>

#include "runtime/session.h"

namespace vatp::runtime {

Result<std::vector<int>> parse_layer_list(const std::string& text, int n_layers) {
  std::vector<int> layers;
  if (text == "all") {
    layers.resize(static_cast<size_t>(n_layers));
    std::iota(layers.begin(), layers.end(), 0);
    return layers;
  }
  if (text.empty()) return invalid_argument("--layers is empty (use 'all' or a list such as 0,5,29)");
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    if (item.empty() || item.size() > 6 || item.find_first_not_of("0123456789") != std::string::npos) {
      return invalid_argument("--layers: '" + item +
                              "' is not a layer number (use 'all' or a list such as 0,5,29)");
    }
    const int l = std::stoi(item);
    if (l >= n_layers) {
      return out_of_range("--layers: layer " + item + " does not exist (the model has " +
                          std::to_string(n_layers) + " layers, 0.." + std::to_string(n_layers - 1) + ")");
    }
    layers.push_back(l);
    start = comma + 1;
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}

Result<InspectTrace> trace_prompt(const model::Model& model, const tokenizer::Tokenizer& tok,
                                  ThreadPool& pool, std::span<const int32_t> tokens,
                                  const InspectOptions& opts) {
  if (tokens.empty()) return invalid_argument("the prompt is empty (no tokens to inspect)");
  const model::ModelConfig& cfg = model.config();
  for (int l : opts.layers) {
    if (l < 0 || l >= cfg.n_layers) return out_of_range("layer " + std::to_string(l) + " does not exist");
  }
  SessionOptions so;
  so.n_ctx = static_cast<int>(tokens.size()) + 1;  // check_fits keeps room for one generated token
  so.n_batch = opts.n_batch;
  so.kv_type = opts.kv_type;
  VATP_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::create(model, tok, pool, so));
  // The statistic h2o and vatp score with: column sums over every prompt row, summed
  // over the group's query heads.
  model::AttentionStatsRequest req;
  req.accumulate = true;
  req.reduce = model::GroupReduce::Sum;
  VATP_RETURN_IF_ERROR(session->prefill_shared(tokens, req));

  InspectTrace t;
  t.n_layers = cfg.n_layers;
  t.n_heads = cfg.n_heads;
  t.n_kv_heads = cfg.n_kv_heads;
  t.group = cfg.n_heads / cfg.n_kv_heads;
  t.tokens.assign(tokens.begin(), tokens.end());
  t.layers = opts.layers;
  if (t.layers.empty()) {
    t.layers.resize(static_cast<size_t>(cfg.n_layers));
    std::iota(t.layers.begin(), t.layers.end(), 0);
  }
  const kvcache::KvCache& cache = session->cache();
  const size_t n = tokens.size();
  for (int l : t.layers) {
    for (int h = 0; h < cfg.n_kv_heads; ++h) {
      if (static_cast<size_t>(cache.length(l, h)) != n) {
        return internal_error("layer " + std::to_string(l) + " head " + std::to_string(h) + " holds " +
                              std::to_string(cache.length(l, h)) + " slots after a prefill of " +
                              std::to_string(n));
      }
      const int32_t* pos = cache.pos(l, h);
      HeadTrace ht;
      ht.layer = l;
      ht.head = h;
      ht.acc_attn.resize(n);
      ht.v_l1.resize(n);
      ht.v_l2.resize(n);
      ht.k_l2.resize(n);
      // A full cache keeps slots in position order; index by position all the same.
      for (size_t s = 0; s < n; ++s) {
        const size_t p = static_cast<size_t>(pos[s]);
        if (p >= n) return internal_error("slot position " + std::to_string(pos[s]) + " outside the prompt");
        ht.acc_attn[p] = cache.acc_attn(l, h)[s];
        ht.v_l1[p] = cache.value_l1(l, h)[s];
        ht.v_l2[p] = cache.value_l2(l, h)[s];
        ht.k_l2[p] = cache.key_l2(l, h)[s];
      }
      t.heads.push_back(std::move(ht));
    }
  }
  return t;
}

Result<std::vector<HeadSummary>> summarize_sinks(const InspectTrace& trace, int k) {
  if (k < 1) return invalid_argument("the number of sinks must be >= 1, got " + std::to_string(k));
  std::vector<HeadSummary> out;
  out.reserve(trace.heads.size());
  for (const HeadTrace& ht : trace.heads) {
    const size_t n = ht.acc_attn.size();
    if (n == 0)
      return invalid_argument("layer " + std::to_string(ht.layer) + " head " + std::to_string(ht.head) +
                              " has no tokens");
    HeadSummary hs;
    hs.layer = ht.layer;
    hs.head = ht.head;
    for (float a : ht.acc_attn) hs.total_acc += a;
    const size_t kk = std::min(static_cast<size_t>(k), n);

    // Orders with position as the tie-break, so results do not depend on the sort.
    std::vector<int> by_acc(n), by_vatp(n), by_v(n);
    std::iota(by_acc.begin(), by_acc.end(), 0);
    by_vatp = by_v = by_acc;
    std::stable_sort(by_acc.begin(), by_acc.end(),
                     [&](int a, int b) { return ht.acc_attn[a] > ht.acc_attn[b]; });
    std::stable_sort(by_vatp.begin(), by_vatp.end(), [&](int a, int b) { return ht.vatp(a) > ht.vatp(b); });
    std::stable_sort(by_v.begin(), by_v.end(), [&](int a, int b) { return ht.v_l1[a] < ht.v_l1[b]; });
    std::vector<int> vatp_rank(n);
    for (size_t i = 0; i < n; ++i) vatp_rank[by_vatp[i]] = static_cast<int>(i) + 1;
    hs.v_l1_median = n % 2 ? ht.v_l1[by_v[n / 2]] : 0.5 * (ht.v_l1[by_v[n / 2 - 1]] + ht.v_l1[by_v[n / 2]]);

    hs.sinks_have_small_v = true;
    auto token_at = [&](int p) {
      SinkToken s;
      s.pos = p;
      s.acc_attn = ht.acc_attn[p];
      s.share = hs.total_acc > 0 ? s.acc_attn / hs.total_acc : 0.0;
      s.v_l1 = ht.v_l1[p];
      // Ties count as neither smaller nor larger: the rank is the first of equal values.
      const auto smaller =
          std::count_if(ht.v_l1.begin(), ht.v_l1.end(), [&](float v) { return v < ht.v_l1[p]; });
      s.v_l1_rank = static_cast<int>(smaller) + 1;
      s.v_l1_percentile = n > 1 ? 100.0 * static_cast<double>(smaller) / static_cast<double>(n - 1) : 0.0;
      s.vatp_rank = vatp_rank[p];
      return s;
    };
    hs.first = token_at(0);
    hs.sinks_have_small_v = true;
    bool strong_small = true;
    const double strong_min = kStrongSinkFactor * hs.total_acc / static_cast<double>(n);
    double weight = 0;
    for (size_t i = 0; i < kk; ++i) {
      const SinkToken s = token_at(by_acc[i]);
      hs.sink_share += s.share;
      hs.sink_v_l1_percentile += s.v_l1_percentile / static_cast<double>(kk);
      hs.sink_v_l1_percentile_weighted += s.acc_attn * s.v_l1_percentile;
      weight += s.acc_attn;
      hs.sinks_have_small_v = hs.sinks_have_small_v && s.v_l1_percentile <= 25.0;
      if (s.acc_attn >= strong_min) {
        ++hs.strong_sinks;
        strong_small = strong_small && s.v_l1_percentile <= 25.0;
      }
      hs.sinks.push_back(s);
    }
    hs.sink_v_l1_percentile_weighted = weight > 0 ? hs.sink_v_l1_percentile_weighted / weight : 0.0;
    hs.strong_sinks_have_small_v = hs.strong_sinks > 0 && strong_small;
    out.push_back(std::move(hs));
  }
  return out;
}

}  // namespace vatp::runtime
