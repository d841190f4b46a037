// Perplexity with llama-perplexity's protocol (specs/gguf.md §6.1), independent of
// the model: the forward pass is reached through ChunkEvaluator, so the protocol
// (chunking, BOS overwrite, which positions are scored, the statistics) is testable
// with hand-made logits.
//
// Protocol: the whole text is tokenized once (with BOS if the vocab adds it); at least
// 2·n_ctx tokens are required; n_chunks = floor(n_tokens / n_ctx) unless fewer are
// asked for. Chunk c is tokens [c·n_ctx, (c+1)·n_ctx), evaluated from an empty cache at
// positions 0..n_ctx−1; if the vocab adds BOS, the chunk's first token is overwritten
// (not prepended) with BOS. Logits at positions t ∈ [first, n_ctx−2], first = n_ctx/2,
// score the true token t+1: nll = −(l_target − max − log Σ exp(l − max)), max in float,
// Σ in double. PPL = exp(mean nll) ± sqrt(var(nll)/(count−1))·PPL.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/status.h"

namespace vatp::runtime {

// One token's score from a logits row.
struct TokenScore {
  double nll = 0.0;  // −log softmax(logits)[target]
  int32_t top1 = 0;  // argmax of the logits, ties → lowest id
};

// logits: [n_vocab]; target in [0, n_vocab).
TokenScore score_token(const float* logits, int n_vocab, int32_t target);

// Produces the logits of one chunk. Implementations evaluate `tokens` (n_ctx of them)
// at positions 0..n_ctx−1 from an empty cache and write the logits of rows
// first_row..n_ctx−1 to `logits`: [n_ctx − first_row][n_vocab], row r ↔ position
// first_row + r.
class ChunkEvaluator {
 public:
  virtual ~ChunkEvaluator() = default;
  virtual int n_vocab() const = 0;
  virtual Status eval_chunk(std::span<const int32_t> tokens, int first_row, float* logits) = 0;
};

struct PerplexityOptions {
  int n_ctx = 512;
  int n_chunks = -1;    // < 0: all full chunks
  int32_t bos_id = -1;  // >= 0: overwrite each chunk's first token with it (vocab adds BOS)
  bool record_top1 = true;
  // Called after each chunk with (chunk index from 0, running PPL over all chunks so far).
  std::function<void(int chunk, double running_ppl)> on_chunk;
};

struct PerplexityResult {
  double ppl = 0.0;
  double ppl_stderr = 0.0;
  double nll_mean = 0.0;
  int64_t n_tokens = 0;  // tokens in the text
  int n_ctx = 0;
  int n_chunks = 0;
  int64_t n_scored = 0;           // n_chunks · (n_ctx − n_ctx/2 − 1)
  std::vector<double> chunk_ppl;  // running PPL after each chunk, as printed
  std::vector<int32_t> top1;      // [n_scored] argmax at each scored position, in order
  std::vector<int32_t> targets;   // [n_scored] the true next token at each scored position
};

// The first scored logits row of a chunk (n_ctx/2).
inline int ppl_first_scored(int n_ctx) { return n_ctx / 2; }

// Checks n_ctx (>= 4), the token count (>= 2·n_ctx → out_of_range otherwise) and
// returns the number of chunks that will run.
Result<int> perplexity_chunks(int64_t n_tokens, int n_ctx, int n_chunks_requested);

Result<PerplexityResult> compute_perplexity(std::span<const int32_t> tokens, const PerplexityOptions& opts,
                                            ChunkEvaluator& eval);

}  // namespace vatp::runtime
