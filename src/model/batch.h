// One forward call over the rows of several sequences (continuous batching). Norms and
// matmuls run once over all rows, so the weights are streamed once per step whatever
// the number of sequences; RoPE, the cache append and attention run per sequence, on
// that sequence's own cache. Every kernel gives a row the same bits whatever else is in
// the batch, so a sequence's logits do not depend on its batch-mates.
#pragma once

#include <cstdint>
#include <span>

#include "kvcache/kv_cache.h"
#include "model/attention.h"

namespace vatp::model {

// The rows [row0, row0 + n_rows) of a batch that belong to one sequence.
struct BatchSeq {
  kvcache::KvCache* cache = nullptr;
  int64_t row0 = 0;
  int64_t n_rows = 0;
  const AttentionStatsRequest* stats = nullptr;  // what its policy gathers (nullptr: nothing)
  int64_t n_logit_rows = 0;                      // logits for its LAST n_logit_rows rows
};

// tokens/positions: n_rows entries, sequence after sequence (seqs in row order, every
// row covered once). logits: the logit rows of the sequences in the order of `seqs`,
// Σ n_logit_rows × n_vocab floats.
struct Batch {
  const int32_t* tokens = nullptr;
  const int32_t* positions = nullptr;
  int64_t n_rows = 0;
  std::span<const BatchSeq> seqs;
  float* logits = nullptr;
};

}  // namespace vatp::model
