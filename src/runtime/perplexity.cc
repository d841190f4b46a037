#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/check.h"
#include "runtime/logprobs.h"

namespace vatp::runtime {

TokenScore score_token(const float* logits, int n_vocab, int32_t target) {
  VATP_DCHECK(target >= 0 && target < n_vocab);
  const LogNormalizer z = log_normalizer(logits, n_vocab);
  TokenScore s;
  s.nll = -token_logprob(logits, z, target);
  s.top1 = z.argmax;
  return s;
}

Result<int> perplexity_chunks(int64_t n_tokens, int n_ctx, int n_chunks_requested) {
  if (n_ctx < 4)
    return invalid_argument("perplexity needs a context of at least 4 tokens, got " + std::to_string(n_ctx));
  if (n_tokens < 2 * static_cast<int64_t>(n_ctx)) {
    return out_of_range(
        "perplexity needs at least 2*n_ctx = " + std::to_string(2 * static_cast<int64_t>(n_ctx)) +
        " tokens, the text has " + std::to_string(n_tokens) + " (use a longer text or a smaller -c)");
  }
  if (n_chunks_requested == 0) return invalid_argument("--chunks must be positive (or negative for all)");
  const int64_t available = n_tokens / n_ctx;
  const int64_t n = n_chunks_requested < 0 ? available : std::min<int64_t>(n_chunks_requested, available);
  return static_cast<int>(n);
}

Result<PerplexityResult> compute_perplexity(std::span<const int32_t> tokens, const PerplexityOptions& opts,
                                            ChunkEvaluator& eval) {
  const int n_ctx = opts.n_ctx;
  VATP_ASSIGN_OR_RETURN(const int n_chunks,
                        perplexity_chunks(static_cast<int64_t>(tokens.size()), n_ctx, opts.n_chunks));
  const int n_vocab = eval.n_vocab();
  const int first = ppl_first_scored(n_ctx);
  const int rows = n_ctx - first;         // logits rows per chunk
  const int scored_per_chunk = rows - 1;  // t ∈ [first, n_ctx−2]
  for (int32_t t : tokens) {
    if (t < 0 || t >= n_vocab)
      return out_of_range("token id " + std::to_string(t) + " outside the vocabulary");
  }

  PerplexityResult r;
  r.n_tokens = static_cast<int64_t>(tokens.size());
  r.n_ctx = n_ctx;
  r.n_chunks = n_chunks;
  if (opts.record_top1) {
    r.top1.reserve(static_cast<size_t>(n_chunks) * scored_per_chunk);
    r.targets.reserve(static_cast<size_t>(n_chunks) * scored_per_chunk);
  }

  std::vector<int32_t> chunk(n_ctx);                               // [n_ctx] input ids
  std::vector<float> logits(static_cast<size_t>(rows) * n_vocab);  // [rows][n_vocab]
  double nll = 0.0, nll2 = 0.0;
  int64_t count = 0;
  for (int c = 0; c < n_chunks; ++c) {
    const int32_t* src = tokens.data() + static_cast<int64_t>(c) * n_ctx;
    std::copy(src, src + n_ctx, chunk.begin());
    if (opts.bos_id >= 0) chunk[0] = opts.bos_id;
    VATP_RETURN_IF_ERROR(eval.eval_chunk(chunk, first, logits.data()));
    for (int t = first; t < n_ctx - 1; ++t) {
      const int32_t target = src[t + 1];
      const TokenScore s =
          score_token(logits.data() + static_cast<size_t>(t - first) * n_vocab, n_vocab, target);
      nll += s.nll;
      nll2 += s.nll * s.nll;
      ++count;
      if (opts.record_top1) {
        r.top1.push_back(s.top1);
        r.targets.push_back(target);
      }
    }
    const double running = std::exp(nll / static_cast<double>(count));
    r.chunk_ppl.push_back(running);
    if (opts.on_chunk) opts.on_chunk(c, running);
  }

  r.n_scored = count;
  const double mean = nll / static_cast<double>(count);
  const double var = nll2 / static_cast<double>(count) - mean * mean;
  r.nll_mean = mean;
  r.ppl = std::exp(mean);
  r.ppl_stderr = (var > 0.0 && count > 1) ? std::sqrt(var / static_cast<double>(count - 1)) * r.ppl : 0.0;
  return r;
}

}  // namespace vatp::runtime
