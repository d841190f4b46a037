// The one place where a query token's attention probabilities become the statistics
// eviction policies read (attention.h): added into the accumulated and windowed sums
// and copied into last_attn, reduced over the GQA group (sum, mean) or kept per query
// head (PerHead). The prefill blocks (attention.cc) and decode (attention_decode.cc)
// both call it, so the two paths perform the same float operations in the same order.
#pragma once

#include <cstddef>

#include "model/attention.h"

namespace vatp::model {

// Destinations of one KV head's statistics; a null pointer skips that statistic.
// Per-query-head rows are `row_stride` floats apart (PerHead only).
struct StatTargets {
  float* acc = nullptr;
  float* win = nullptr;
  float* last = nullptr;
  size_t row_stride = 0;       // between acc/win rows of the group's query heads
  size_t last_row_stride = 0;  // the same for last
  int length = 0;              // slots of the head: last is zeroed from `visible` up to here
};

// probs: `group` rows of probabilities, `prob_stride` apart, over `visible` slots.
// red: scratch of at least `visible` floats.
void add_row_stats(const float* probs, size_t prob_stride, int group, int visible, GroupReduce reduce,
                   const StatTargets& t, float* red);

}  // namespace vatp::model
