// LongBench v1 samples (specs/eval.md §1.1–1.4): the task prompts of
// config/dataset2prompt.json, the generation lengths of config/dataset2maxlen.json and
// pred.py's chat-template skip list, turning LongBench jsonl records into eval::Samples.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "eval/jsonl.h"
#include "eval/longbench_metrics.h"
#include "eval/task.h"

namespace vatp::eval::longbench {

// pred.py's max_length for an 8k-context model such as SmolLM2 (context − 500).
inline constexpr int64_t kDefaultMaxLength = 7500;

// The task's prompt template ("{context}" / "{input}" placeholders), exactly as upstream.
Result<std::string> prompt_template(std::string_view task);
// dataset2maxlen: max_new_tokens for the task.
Result<int> max_new_tokens(std::string_view task);
// Whether pred.py wraps the prompt in the chat template (false for trec, triviaqa,
// samsum, lsht, lcc, repobench-p).
bool uses_chat_template(std::string_view task);

// Python's template.format(context=..., input=...): one pass over the template, so
// braces inside the values are kept as they are.
std::string fill_prompt(std::string_view tmpl, std::string_view context, std::string_view input);

// One Sample per record (fields input, context, answers, length, all_classes; _id
// optional, else the record's index). prompt = the filled template, answer_prefix
// empty, truncate_to = max_length (0: never), chat per the skip list, max_new_tokens per
// dataset2maxlen, stop_at_newline for samsum. Errors name file:line.
Result<std::vector<Sample>> longbench_samples(std::string_view task, const std::vector<JsonlRecord>& records,
                                              int64_t max_length = kDefaultMaxLength);

// Scores a prediction the way eval.py does for the Sample's task (first-line rule, max
// over answers); in [0, 1].
ScoreFn longbench_score_fn();

// The task of one LongBench data file: `task_flag` if given, else the records' "dataset"
// field (a LongBench-E "<name>_e" gives <name>), else the file name (task_from_path).
// "dataset" must be a string and the same on every record that has it, and either all
// records have it or none: a file holds one task, and a mixed one would be scored
// entirely as its first. Errors name the file, line and field.
Result<std::string> task_of_records(std::string_view path, const std::vector<JsonlRecord>& records,
                                    const std::string& task_flag);

// A prediction file as LongBench's eval.py reads it: per line "pred", "answers" (not
// empty), "all_classes" (null or strings; the last line's applies to the whole file) and,
// with `with_length` (LongBench-E), "length". Answers are checked against the task
// (check_answers). Errors name the file, line and field.
struct PredictionFile {
  std::vector<ScoredPrediction> preds;
  std::vector<std::string> all_classes;
};
Result<PredictionFile> prediction_file(std::string_view task, const std::vector<JsonlRecord>& records,
                                       bool with_length);

// The task named by a LongBench file name, like eval.py: the base name up to the first
// "." ("runs/qasper.jsonl" → "qasper").
std::string task_from_path(std::string_view path);

}  // namespace vatp::eval::longbench
