// RULER common words extraction (specs/eval.md §2.3 common_words_extraction.py).
#include <algorithm>

#include "eval/ruler_internal.h"
#include "eval/wordlists.h"

namespace vatp::eval::ruler {
namespace {

constexpr int kNumCommon = 10;

// "1. w1 2. w2 ..." on one line.
std::string numbered(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += ' ';
    out += std::to_string(i + 1) + ". " + words[i];
  }
  return out;
}

struct Example {
  std::string context;
  std::vector<std::string> common;
};

// num_words distinct words; the first kNumCommon are written common_repeats times, the
// others uncommon_repeats times, all shuffled.
Example get_example(const std::vector<std::string>& pool, Rng& rng, int64_t num_words, int common_repeats,
                    int uncommon_repeats) {
  const std::vector<int64_t> idx = rng.sample(static_cast<int64_t>(pool.size()), num_words);
  Example e;
  std::vector<std::string> list;
  for (int r = 0; r < common_repeats; ++r)
    for (int64_t i = 0; i < kNumCommon; ++i)
      list.push_back(pool[static_cast<size_t>(idx[static_cast<size_t>(i)])]);
  for (int r = 0; r < uncommon_repeats; ++r)
    for (int64_t i = kNumCommon; i < num_words; ++i)
      list.push_back(pool[static_cast<size_t>(idx[static_cast<size_t>(i)])]);
  rng.shuffle(list);
  e.context = numbered(list);
  for (int64_t i = 0; i < kNumCommon; ++i)
    e.common.push_back(pool[static_cast<size_t>(idx[static_cast<size_t>(i)])]);
  return e;
}

}  // namespace

Result<std::vector<Rendered>> cwe_samples(int64_t max_seq_length, int n_samples, Rng& rng,
                                          const TokenCounter& count) {
  const WordLists w = load_wordlists();
  std::vector<std::string> all = w.nouns;
  all.insert(all.end(), w.adjectives.begin(), w.adjectives.end());
  all.insert(all.end(), w.verbs.begin(), w.verbs.end());
  std::vector<std::string> pool = sorted_unique(std::move(all));
  rng.shuffle(pool);
  const int64_t pool_size = static_cast<int64_t>(pool.size());

  const bool short_ctx = max_seq_length < 4096;
  const Generate gen = [&](int64_t n) {
    n = std::clamp<int64_t>(n, kNumCommon, pool_size);
    const Example shot = short_ctx ? get_example(pool, rng, 20, 3, 1) : get_example(pool, rng, 40, 10, 3);
    const Example main = short_ctx ? get_example(pool, rng, n, 6, 1) : get_example(pool, rng, n, 30, 3);
    Rendered r;
    r.prompt = fill(kCweTemplate, {{"context", shot.context}}) + std::string(kCweAnswerPrefix) + " " +
               numbered(shot.common) + "\n" + fill(kCweTemplate, {{"context", main.context}});
    r.answer_prefix = kCweAnswerPrefix;
    r.answers = main.common;
    return r;
  };
  // Lists longer than the word pool (RULER switches to another word file there) are
  // capped at the pool: such samples come out shorter than max_seq_length.
  const Fit fit{
      "cwe", max_seq_length, kCweTokensToGenerate, 10, pool_size, std::min<int64_t>(4096, pool_size), 2};
  const int64_t n = search_size(gen, gen, count, fit);
  std::vector<Rendered> out;
  for (int i = 0; i < n_samples; ++i) {
    VATP_ASSIGN_OR_RETURN(Rendered r, fitted(gen, count, fit, n));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace vatp::eval::ruler
