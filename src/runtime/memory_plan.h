// What a session will allocate, computed from the model's config and the session's
// settings before anything is allocated, so that a flag such as `-c 10000000` is refused
// with the figure instead of ending in std::bad_alloc (or the OOM killer) minutes later.
// The figures mirror the allocations of KvCache::create, ForwardScratch::reserve and
// AttentionScratch::reserve: a change to those sizes must change this file too, which
// tests/runtime/alloc_test.cc checks (the KV figure exactly, the total against a real
// session's peak heap within 5 %).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "kvcache/kv_cache.h"
#include "model/config.h"
#include "policy/policy.h"

namespace vatp::runtime {

struct MemoryPlanInput {
  int64_t n_ctx = 0;        // context (attention scratch is sized for it)
  int64_t kv_capacity = 0;  // KV slots per (layer, head) actually allocated (kv_capacity_for)
  int n_batch = 1;          // rows per forward call (already capped at n_ctx)
  int threads = 1;
  kvcache::KvType kv_type = kvcache::KvType::F16;
  bool per_query_head = false;  // --kv-group max: one statistics row per query head
  bool rerotate = false;        // --kv-rerotate: a cos/sin table of the capacity
  int repeat_last_n = 0;
  int64_t logit_rows = 1;  // logits rows held at once (perplexity keeps the scored half of a chunk)
};

struct MemoryPlan {
  uint64_t kv_bytes = 0;       // K/V storage and per-slot metadata
  uint64_t scratch_bytes = 0;  // forward and attention scratch
  uint64_t logits_bytes = 0;   // logits row and sampler buffers
  uint64_t total() const { return kv_bytes + scratch_bytes + logits_bytes; }
};

// KV slots the session allocates for this policy: the context for the full cache, the
// policy's peak (policy::slots_needed) otherwise.
int64_t kv_capacity_for(const policy::PolicyConfig& policy, int64_t prompt_len, int64_t n_ctx);

MemoryPlan plan_memory(const model::ModelConfig& c, const MemoryPlanInput& in);

// MemAvailable from /proc/meminfo, or nullopt where it cannot be read.
std::optional<uint64_t> available_memory_bytes();

// Refuses a plan above `limit` bytes (from --max-memory) or, with no limit, above the
// available memory; the message gives the figures ("needs 10.6 GiB (KV 2.6 GiB, ...)").
Status check_memory(const MemoryPlan& plan, std::optional<uint64_t> limit);

// "1.50 GiB", "12.0 MiB", "512 B".
std::string format_bytes(uint64_t bytes);

// "8G", "512M", "100k", "123456" (bytes); binary units. Errors name --max-memory.
Result<uint64_t> parse_byte_size(const std::string& text);

}  // namespace vatp::runtime
