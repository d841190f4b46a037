#include "runtime/memory_plan.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace vatp::runtime {
namespace {

// Constants of src/model/attention.cc and attention_tiles.h (query rows per block,
// parallel row ranges, slots per key tile).
constexpr uint64_t kMaxQ = 64, kMaxRanges = 4, kSlotTile = 32;

uint64_t kv_row_bytes(kvcache::KvType t, uint64_t head_dim) {
  switch (t) {
    case kvcache::KvType::F16: return head_dim * 2;
    case kvcache::KvType::F32: return head_dim * 4;
    case kvcache::KvType::Q8_0: return head_dim / 32 * 34;
  }
  return head_dim * 4;
}

}  // namespace

int64_t kv_capacity_for(const policy::PolicyConfig& policy, int64_t prompt_len, int64_t n_ctx) {
  if (!policy.evict) return n_ctx;
  // An invalid budget is reported by the session with its own message; size for the
  // context meanwhile (the upper bound).
  Result<policy::BudgetSplit> split = policy::resolve_budget(policy, prompt_len);
  if (!split.is_ok()) return n_ctx;
  return std::min(n_ctx, policy::slots_needed(policy, *split, prompt_len, n_ctx));
}

MemoryPlan plan_memory(const model::ModelConfig& c, const MemoryPlanInput& in) {
  const uint64_t heads = static_cast<uint64_t>(c.n_layers) * static_cast<uint64_t>(c.n_kv_heads);
  const uint64_t cap = static_cast<uint64_t>(std::max<int64_t>(in.kv_capacity, 1));
  const uint64_t hd = static_cast<uint64_t>(c.head_dim), group = static_cast<uint64_t>(c.group());
  const uint64_t stat_rows = in.per_query_head ? group : 1;
  MemoryPlan p;
  // Per slot: K and V rows, the position, three attention accumulators, three norms.
  p.kv_bytes = heads * cap * (2 * kv_row_bytes(in.kv_type, hd) + 4 + 3 * 4 * stat_rows + 3 * 4);

  const uint64_t m = static_cast<uint64_t>(std::max(in.n_batch, 1));
  const uint64_t dim = static_cast<uint64_t>(c.dim), ff = static_cast<uint64_t>(c.ff);
  const uint64_t qd = static_cast<uint64_t>(c.q_dim()), kvd = static_cast<uint64_t>(c.kv_dim());
  const uint64_t widest = std::max({dim, ff, qd});
  const uint64_t forward = 4 * m * (3 * dim + 2 * qd + 2 * kvd + 2 * ff + 2 * widest);
  // Attention scratch is sized for the context, per thread (score rows) and shared
  // (per-row-range statistics), whatever the policy.
  const uint64_t ctx = static_cast<uint64_t>(std::max<int64_t>(in.n_ctx, 1));
  const uint64_t cap_pad = (ctx + kSlotTile - 1) / kSlotTile * kSlotTile;
  const uint64_t max_q = std::max(kMaxQ, group);
  const uint64_t per_thread =
      4 * (max_q * cap_pad + ctx + 2 * max_q * hd + 3 * kSlotTile * hd) + 2 * max_q * hd;
  const uint64_t shared = 2 * 4 * static_cast<uint64_t>(c.n_kv_heads) * kMaxRanges * group * ctx;
  const uint64_t rope = in.rerotate ? 4 * ctx * (static_cast<uint64_t>(c.n_rot) + 2) : 0;
  p.scratch_bytes = forward + static_cast<uint64_t>(std::max(in.threads, 1)) * per_thread + shared + rope;

  const uint64_t vocab = static_cast<uint64_t>(c.n_vocab);
  p.logits_bytes = vocab * 4 * static_cast<uint64_t>(std::max<int64_t>(in.logit_rows, 1)) + vocab * 8 +
                   4 * static_cast<uint64_t>(std::max(in.repeat_last_n, 0));
  return p;
}

std::optional<uint64_t> available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("MemAvailable:")) continue;
    std::istringstream ss(line.substr(13));
    uint64_t kib = 0;
    if (ss >> kib) return kib * 1024;
  }
  return std::nullopt;
}

std::string format_bytes(uint64_t b) {
  char buf[48];
  const double d = static_cast<double>(b);
  if (b >= (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", d / (1ull << 30));
  } else if (b >= (1ull << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", d / (1ull << 20));
  } else if (b >= (1ull << 10)) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", d / (1ull << 10));
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  }
  return buf;
}

Status check_memory(const MemoryPlan& plan, std::optional<uint64_t> limit) {
  const std::optional<uint64_t> avail = limit ? limit : available_memory_bytes();
  if (!avail || plan.total() <= *avail) return Status::ok();
  return out_of_range(
      "this run needs " + format_bytes(plan.total()) + " (KV cache " + format_bytes(plan.kv_bytes) +
      ", scratch " + format_bytes(plan.scratch_bytes) + ", logits " + format_bytes(plan.logits_bytes) +
      ") but " + (limit ? "--max-memory is " : "only ") + format_bytes(*avail) +
      (limit ? "" : " is available (MemAvailable)") + "; lower -c, -b or -t, or use a KV budget");
}

Result<uint64_t> parse_byte_size(const std::string& text) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  const std::string bad =
      "--max-memory must be a size such as 8G, 512M or 1000000 (bytes), got '" + text + "'";
  if (ec != std::errc() || ptr == text.data()) return invalid_argument(bad);
  const std::string unit(ptr, end);
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "k" || unit == "K" || unit == "KiB") {
    shift = 10;
  } else if (unit == "M" || unit == "MiB") {
    shift = 20;
  } else if (unit == "G" || unit == "GiB") {
    shift = 30;
  } else if (unit == "T" || unit == "TiB") {
    shift = 40;
  } else {
    return invalid_argument(bad);
  }
  if (v == 0 || v > (UINT64_MAX >> shift)) return invalid_argument(bad);
  return v << shift;
}

}  // namespace vatp::runtime
