#include "runtime/perplexity_session.h"

#include <algorithm>
#include <string>
#include <vector>

namespace vatp::runtime {

Status SessionChunkEvaluator::eval_chunk(std::span<const int32_t> tokens, int first_row, float* logits) {
  session_.reset();
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t batch = session_.n_batch();
  const size_t n_vocab = static_cast<size_t>(session_.n_vocab());
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t end = std::min(n, begin + batch);
    // Rows wanted from this batch: its positions >= first_row (always its last ones).
    const int64_t from = std::max<int64_t>(begin, first_row);
    const int64_t rows = std::max<int64_t>(0, end - from);
    float* dst = rows > 0 ? logits + static_cast<size_t>(from - first_row) * n_vocab : nullptr;
    VATP_RETURN_IF_ERROR(session_.eval(tokens.subspan(begin, end - begin), dst, rows));
  }
  return Status::ok();
}

Result<PerplexityResult> perplexity_of_text(Session& session, std::string_view text, PerplexityOptions opts) {
  if (opts.n_ctx > session.n_ctx()) {
    return invalid_argument("perplexity context " + std::to_string(opts.n_ctx) + " exceeds the session's " +
                            std::to_string(session.n_ctx()));
  }
  const tokenizer::Tokenizer& tok = session.tokenizer();
  const std::vector<int32_t> ids = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
  opts.bos_id = tok.vocab().add_bos ? tok.vocab().bos : -1;
  SessionChunkEvaluator eval(session);
  return compute_perplexity(ids, opts, eval);
}

}  // namespace vatp::runtime
