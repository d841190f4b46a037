// LongBench v1 metrics and scoring (THUDM/LongBench LongBench/metrics.py and eval.py),
// reproduced exactly: specs/eval.md §1.5–1.7. Strings are UTF-8; the metrics work on
// code points with Python's Unicode rules (py_string.h). Goldens from the upstream code:
// tests/data/longbench/metric_golden.jsonl (scripts/ref/gen_longbench_metric_golden.py).
//
// Known difference, by design: pltrdy/rouge reconstructs the LCS recursively, so Python
// scores 0.0 when a backtrack path exceeds its recursion limit (sentences of ~1000
// words); this port has no such limit.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vatp::eval::longbench {

// Lower-case, drop ASCII punctuation, drop the words a/an/the, collapse whitespace.
std::string normalize_answer(std::string_view s);

double qa_f1_score(std::string_view prediction, std::string_view ground_truth);
// ROUGE-L F of pltrdy/rouge 1.0.1 (summary level, exclusive); 0.0 when either side has
// no sentence (empty, or only dots).
double rouge_score(std::string_view prediction, std::string_view ground_truth);
double classification_score(std::string_view prediction, std::string_view ground_truth,
                            const std::vector<std::string>& all_classes);
// `ground_truth` must contain "Paragraph <digits>" (upstream raises IndexError; the
// scorers below check it first); 0.0 when it does not.
double retrieval_score(std::string_view prediction, std::string_view ground_truth);
double count_score(std::string_view prediction, std::string_view ground_truth);
double code_sim_score(std::string_view prediction, std::string_view ground_truth);

// difflib.SequenceMatcher(None, a, b).ratio() with its default autojunk heuristic.
double sequence_matcher_ratio(std::string_view a, std::string_view b);
// fuzzywuzzy fuzz.ratio without python-Levenshtein: 0..100.
int fuzz_ratio(std::string_view a, std::string_view b);

enum class Metric { kQaF1, kRouge, kClassification, kRetrieval, kCount, kCodeSim };

// The task's metric (eval.py dataset2metric). The 16 English and code tasks are supported;
// the Chinese ones (multifieldqa_zh, dureader, vcsum, lsht, passage_retrieval_zh) are an
// error: their metrics need jieba word segmentation. Unknown names are an error too.
Result<Metric> task_metric(std::string_view task);
// The 16 supported tasks, in the order of specs/eval.md §1.2.
const std::vector<std::string>& supported_tasks();
// Whether the scorer keeps only the first line of the prediction (trec, triviaqa, samsum).
bool first_line_only(std::string_view task);

double metric_score(Metric metric, std::string_view prediction, std::string_view ground_truth,
                    const std::vector<std::string>& all_classes);

// Checks what upstream would crash on: no answers, retrieval answers without
// "Paragraph N", classification without all_classes. The message names the problem.
Status check_answers(std::string_view task, const std::vector<std::string>& answers,
                     const std::vector<std::string>& all_classes);

// One prediction's score in [0, 1]: first-line rule, then the max over the answers.
// `task` must be supported (task_metric ok).
double sample_score(std::string_view task, std::string_view prediction,
                    const std::vector<std::string>& answers, const std::vector<std::string>& all_classes);

struct ScoredPrediction {
  std::string prediction;
  std::vector<std::string> answers;
  int64_t length = 0;
};

// eval.py scorer: round(100 * total / n, 2). One all_classes list for the whole file
// (upstream takes the last line's). Errors: unsupported task, no predictions, bad answers.
Result<double> score_task(std::string_view task, const std::vector<ScoredPrediction>& preds,
                          const std::vector<std::string>& all_classes);

// eval.py scorer_e (LongBench-E): per length bucket "0-4k" (<4000), "4-8k" (<8000), "8k+",
// 100 × the NumPy mean of the sample scores, rounded as NumPy rounds; NaN when empty.
Result<std::map<std::string, double>> score_task_e(std::string_view task,
                                                   const std::vector<ScoredPrediction>& preds,
                                                   const std::vector<std::string>& all_classes);

// NumPy's float64 sum (pairwise summation, 8-way unrolled blocks of up to 128 values).
double numpy_sum(const std::vector<double>& v);

}  // namespace vatp::eval::longbench
