// Sample → prompt token ids: LongBench's middle truncation of the raw prompt, then the
// chat template (user turn, assistant turn opened) or plain text, then the answer
// prefix, tokenized with BOS as the vocabulary asks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/task.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace vatp::eval {

// specs/eval.md §1.4 step 2: if `text` is longer than max_tokens tokens (BOS counted
// when the vocabulary adds it), the decodings of its first and last max_tokens/2 tokens
// (special tokens dropped), concatenated; else `text` unchanged.
Result<std::string> truncate_middle(const tokenizer::Tokenizer& tok, const std::string& text,
                                    int64_t max_tokens);

// `chat` is the format for samples with Sample::chat (nullopt: such samples are an error).
Result<std::vector<int32_t>> prompt_ids(const tokenizer::Tokenizer& tok, const Sample& s,
                                        const std::optional<tokenizer::ChatFormat>& chat,
                                        const std::string& system_prompt);

}  // namespace vatp::eval
