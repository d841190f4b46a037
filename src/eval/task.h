// A generation task sample and its scorer: what RULER, passkey and LongBench produce and
// what the sweep runner (eval/sweep.h) consumes. Task generators and metrics are pure
// (no model); the runner owns tokenization, chat templates, truncation and decoding.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vatp::eval {

struct Sample {
  std::string task;  // "niah_single_1", "passkey", "narrativeqa", ...
  std::string id;    // unique within the task ("0", "1", ... or LongBench's _id)
  // The user-turn text. With `chat` it goes through the model's chat template and
  // `answer_prefix` starts the assistant turn; without, the model sees
  // prompt + answer_prefix as plain text (BOS added as the vocabulary says).
  std::string prompt;
  std::string answer_prefix;
  bool chat = true;
  // LongBench: middle-truncate the raw prompt to this many tokens before the chat
  // template (specs/eval.md §1.4); 0 = never.
  int64_t truncate_to = 0;
  int max_new_tokens = 32;
  // Extra stop: end generation at the first newline token (LongBench samsum).
  bool stop_at_newline = false;
  // The first min_new_tokens generated tokens cannot be a stop token (the vocabulary's
  // EOS, or with stop_at_newline the newline token): pred.py's samsum min_length.
  int min_new_tokens = 0;
  std::vector<std::string> answers;
  std::vector<std::string> all_classes;  // LongBench classification tasks
  int64_t length = 0;                    // LongBench `length` field (LongBench-E buckets)
};

// Score of one prediction (the continuation only, answer prefix excluded) in [0, 1].
using ScoreFn = std::function<double(const Sample& sample, std::string_view prediction)>;

}  // namespace vatp::eval
