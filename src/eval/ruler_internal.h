// Shared pieces of the RULER generators (ruler_*.cc): the exact templates of
// NVIDIA/RULER scripts/data/synthetic/constants.py (specs/eval.md §2.2), placeholder
// filling, and the haystack-size search of §2.3.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "eval/rng.h"
#include "eval/ruler.h"

namespace vatp::eval::ruler {

inline constexpr std::string_view kNiahTemplate =
    "Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. I "
    "will "
    "quiz you about the {type_needle_v} afterwards.\n{context}\nWhat are all the special magic "
    "{type_needle_v} "
    "for {query} mentioned in the provided text?";
inline constexpr std::string_view kNiahAnswerPrefix =
    " The special magic {type_needle_v} for {query} mentioned in the provided text are";
inline constexpr std::string_view kNiahNeedle =
    "One of the special magic {type_needle_v} for {key} is: {value}.";
inline constexpr int kNiahTokensToGenerate = 128;

inline constexpr std::string_view kVtTemplate =
    "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n"
    "Question: Find all variables that are assigned the value {query} in the text above.";
inline constexpr std::string_view kVtAnswerPrefix =
    " Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are "
    "assigned the value {query}, they are: ";
inline constexpr int kVtTokensToGenerate = 30;

inline constexpr std::string_view kCweTemplate =
    "Below is a numbered list of words. In these words, some appear more often than others. Memorize the "
    "ones "
    "that appear most often.\n{context}\nQuestion: What are the 10 most common words in the above list?";
inline constexpr std::string_view kCweAnswerPrefix =
    " Answer: The top 10 words that appear most often in the list are:";
inline constexpr int kCweTokensToGenerate = 120;

inline constexpr std::string_view kFweTemplate =
    "Read the following coded text and track the frequency of each coded word. Find the three most "
    "frequently "
    "appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore the dots "
    "'....'. "
    "What are the three most frequently appeared words in the above coded text?";
inline constexpr std::string_view kFweAnswerPrefix =
    " Answer: According to the coded text above, the three most frequently appeared words are:";
inline constexpr int kFweTokensToGenerate = 50;

// RULER's noise haystack line (also Landmark's passkey filler).
inline constexpr std::string_view kNoise =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

// Python str.format with named fields only: one left-to-right pass, so braces inside the
// substituted values are left alone. Unknown names are a bug (VATP_CHECK).
std::string fill(std::string_view tmpl,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> vars);
// Python str.replace(from, to): every non-overlapping occurrence, left to right.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// One generated instance before it becomes a Sample.
struct Rendered {
  std::string prompt, answer_prefix;
  std::vector<std::string> answers;
};
// Renders an instance whose haystack has `n` units, drawing from the task's Rng.
using Generate = std::function<Rendered(int64_t n)>;

struct Fit {
  std::string task;
  int64_t max_seq_length = 0;
  int64_t tokens_to_generate = 0;
  int64_t incremental = 0;  // the search's lower bound and the per-sample step back
  int64_t max_n = 0;        // largest haystack the generator supports (0 = no limit)
  // The upper bound's estimate: tokens per unit from an instance of probe_n units
  // (0 = incremental), times probe_slack (niah and vt: 3; cwe: 4096 words, 2).
  int64_t probe_n = 0;
  int64_t probe_slack = 3;
};

// tokens(prompt + answer_prefix) + tokens_to_generate.
int64_t total_tokens(const Rendered& r, const TokenCounter& count, int64_t tokens_to_generate);

// RULER's binary search (§2.3): estimate tokens per unit from `probe`'s instance of
// fit.probe_n units, search [incremental, max(slack × max_seq_length / that,
// 2 × incremental)] for the largest size whose `gen` instance fits; `incremental` when
// none does. `probe` is `gen` except for vt, whose estimate leaves out the one-shot example.
int64_t search_size(const Generate& gen, const Generate& probe, const TokenCounter& count, const Fit& fit);

// One sample: instances of size n, n − incremental, ... until one fits; an error when
// even the smallest does not (upstream loops forever there).
Result<Rendered> fitted(const Generate& gen, const TokenCounter& count, const Fit& fit, int64_t n);

// The generators; each draws all of its randomness from `rng`.
Result<std::vector<Rendered>> niah_samples(const std::string& task, int64_t max_seq_length, int n_samples,
                                           Rng& rng, const TokenCounter& count);
Result<std::vector<Rendered>> vt_samples(int64_t max_seq_length, int n_samples, Rng& rng,
                                         const TokenCounter& count);
Result<std::vector<Rendered>> cwe_samples(int64_t max_seq_length, int n_samples, Rng& rng,
                                          const TokenCounter& count);
Result<std::vector<Rendered>> fwe_samples(int64_t max_seq_length, int n_samples, Rng& rng,
                                          const TokenCounter& count);

}  // namespace vatp::eval::ruler
