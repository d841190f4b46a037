// Token sampling: greedy, or a fixed chain of truncations followed by a seeded draw.
//
// Chain order (llama.cpp's common default order, restricted to these samplers):
//   1. repeat penalty over the last `repeat_last_n` accepted tokens (CTRL rule: a
//      logit > 0 is divided by the penalty, otherwise multiplied; each distinct token
//      once, however often it occurs)
//   2. top-k      keep the k largest logits (k <= 0: off)
//   3. top-p      keep the smallest prefix (by probability, descending) whose mass
//                 reaches p (p >= 1: off); probabilities are softmax of the untempered
//                 logits that survive step 2
//   4. min-p      keep tokens with p_i >= min_p * p_max (min_p <= 0: off)
//   5. temperature  logits / temp
//   6. draw one token from softmax of what is left, with the sampler's own RNG
// temp <= 0 means greedy: step 1, then argmax (ties → the lowest id); steps 2–6 skipped.
// Every truncation keeps at least one token. Ties in sorting break toward the lowest
// id, so the result is a pure function of (logits, history, seed, call count).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/status.h"

namespace vatp::runtime {

struct SamplerParams {
  float temp = 0.8f;            // <= 0: greedy
  int top_k = 40;               // <= 0: off
  float top_p = 0.95f;          // in (0, 1]; 1: off
  float min_p = 0.05f;          // in [0, 1]; 0: off
  float repeat_penalty = 1.0f;  // > 0; 1: off
  int repeat_last_n = 64;       // >= 0; 0: off
  uint64_t seed = 0;
};

// Checks ranges: temp finite and >= 0 (negative is rejected rather than silently
// greedy), top_p in (0,1], min_p in [0,1], repeat_penalty > 0, repeat_last_n >= 0.
Status validate(const SamplerParams& p);

class Sampler {
 public:
  // Buffers for n_vocab candidates are allocated here, once; sample() does not allocate.
  // `params` must pass validate().
  Sampler(int n_vocab, const SamplerParams& params);

  // Picks the next token from logits[n_vocab] (not modified). Does not record it:
  // call accept() with the token actually appended to the sequence.
  int32_t sample(const float* logits);

  // Records a token in the repeat-penalty history (prompt tokens too, if wanted).
  void accept(int32_t token);

  // Clears the history and reseeds the RNG with params().seed.
  void reset();

  const SamplerParams& params() const { return params_; }
  int n_vocab() const { return n_vocab_; }

  // After sample(): the candidates that survived truncation, in the order the chain
  // left them (sorted by logit descending when top-k or top-p ran). For tests.
  int n_candidates() const { return n_cand_; }
  const int32_t* candidate_ids() const { return cand_id_.data(); }

 private:
  void apply_repeat_penalty();  // on logit_, indexed by token id
  void sort_candidates(int k);  // first k of cand_id_ sorted by (logit desc, id asc)
  int32_t draw();               // softmax over the candidates (with temp) + one draw
  double uniform01();           // [0, 1), 53 random bits, same on every platform

  int n_vocab_;
  SamplerParams params_;
  std::mt19937_64 rng_;

  std::vector<float> logit_;       // [n_vocab] working copy of the logits, by token id
  std::vector<int32_t> cand_id_;   // [n_vocab] surviving token ids; first n_cand_ valid
  std::vector<double> cand_prob_;  // [n_vocab] probabilities aligned with cand_id_
  int n_cand_ = 0;

  std::vector<int32_t> history_;      // [repeat_last_n] ring of accepted tokens
  int history_len_ = 0;               // valid entries, <= repeat_last_n
  int history_next_ = 0;              // ring write position
  std::vector<uint32_t> seen_stamp_;  // [n_vocab] dedupe marks for the penalty pass
  uint32_t stamp_ = 0;
};

}  // namespace vatp::runtime
