// RULER's synthetic tasks that need no external data (specs/eval.md §2): niah_single_1,
// niah_multikey_2, niah_multikey_3, vt, cwe and fwe. Templates, answer prefixes, value
// formats, counts and the length fitting follow NVIDIA/RULER; the random draws are ours
// (eval/rng.h), so samples match upstream in structure, not value for value.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/task.h"

namespace vatp::eval {

// Tokens of a text as the evaluated model's tokenizer counts them, without BOS (RULER
// counts with HF `tokenize`).
using TokenCounter = std::function<int64_t(std::string_view)>;

// The task names ruler_samples accepts, in RULER's order.
std::vector<std::string> ruler_task_names();

// n_samples samples of `task` whose prompt + answer prefix, counted by `count`, plus the
// task's tokens_to_generate fit in max_seq_length (§2.3). prompt holds the task template
// (with VT's one-shot and CWE's few-shot example in front), answer_prefix the text that
// starts the assistant turn, chat = true, max_new_tokens = tokens_to_generate.
// Deterministic for a given (task, max_seq_length, n_samples, seed, count).
Result<std::vector<Sample>> ruler_samples(const std::string& task, int64_t max_seq_length, int n_samples,
                                          uint64_t seed, const TokenCounter& count);

// §2.4 postprocess_pred: strip, every [\x00-\x1f] becomes "\n", strip again, with
// Python's str semantics (eval/py_string.h: Unicode whitespace and lower-casing).
std::string ruler_postprocess(std::string_view prediction);

// Per-sample string_match_all: the fraction of `refs` found (case-insensitive substring)
// in the post-processed prediction; string_match_part: 1 if any is found.
double string_match_all_one(std::string_view prediction, const std::vector<std::string>& refs);
double string_match_part_one(std::string_view prediction, const std::vector<std::string>& refs);

// RULER's aggregates: round(sum(per-sample) / n * 100, 2) with Python's round.
double string_match_all(const std::vector<std::string>& preds,
                        const std::vector<std::vector<std::string>>& refs);
double string_match_part(const std::vector<std::string>& preds,
                         const std::vector<std::vector<std::string>>& refs);

// The sweep's scorer for RULER samples: string_match_all_one against sample.answers
// (all six tasks here use string_match_all).
ScoreFn ruler_score_fn();

}  // namespace vatp::eval
