// Perplexity of a text through a Session (so that KV policies layered on the session
// apply to perplexity too).
#pragma once

#include <string_view>

#include "runtime/perplexity.h"
#include "runtime/session.h"

namespace vatp::runtime {

// Evaluates each chunk from an empty cache (session.reset()), in forward calls of at
// most session.n_batch() tokens, asking only for the rows perplexity scores.
class SessionChunkEvaluator : public ChunkEvaluator {
 public:
  explicit SessionChunkEvaluator(Session& s) : session_(s) {}
  int n_vocab() const override { return session_.n_vocab(); }
  Status eval_chunk(std::span<const int32_t> tokens, int first_row, float* logits) override;

 private:
  Session& session_;
};

// Tokenizes `text` with add_special = true (BOS when the vocabulary adds it), sets
// opts.bos_id accordingly, and runs compute_perplexity. The session's n_ctx must be
// >= opts.n_ctx.
Result<PerplexityResult> perplexity_of_text(Session& session, std::string_view text, PerplexityOptions opts);

}  // namespace vatp::runtime
