// Landmark Attention's passkey retrieval (specs/eval.md §3.1): a pass key hidden at a
// random depth in repeated filler; the answer is the first number the model writes.
//
// Plain text (the default, as Landmark ran a base model): the model sees exactly
// Landmark's prompt, "...\nWhat is the pass key? The pass key is", and continues it.
// Chat: the user turn ends with "What is the pass key?" and the assistant turn starts
// with "The pass key is", which suits instruct models.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/ruler.h"
#include "eval/task.h"

namespace vatp::eval {

struct PasskeyOptions {
  // Filler length in characters (Landmark's n_garbage), used when target_tokens is 0.
  int64_t n_garbage = 0;
  // > 0: pick n_garbage so that tokens(prompt + answer prefix) + max_new_tokens, counted
  // by the TokenCounter, is at most target_tokens (searched, then per sample shortened
  // until it fits).
  int64_t target_tokens = 0;
  int n_samples = 50;
  uint64_t seed = 0;
  bool chat = false;
};

inline constexpr int kPasskeyMaxNewTokens = 10;
// 2000 filler sentences joined with spaces: the most filler n_garbage can ask for.
int64_t passkey_max_garbage();

// `count` is needed only with target_tokens.
Result<std::vector<Sample>> passkey_samples(const PasskeyOptions& opts, const TokenCounter& count);

// The first run of digits in `continuation` equals the pass key as an integer.
bool passkey_correct(std::string_view continuation, std::string_view pass_key);
// 1 or 0 against sample.answers[0].
ScoreFn passkey_score_fn();

}  // namespace vatp::eval
