// RULER frequent words extraction (specs/eval.md §2.3 freq_words_extraction.py): coded
// words with Zipf counts (alpha = 2); the top-ranked "word" is the noise "...".
#include <algorithm>
#include <cmath>

#include "eval/ruler_internal.h"

namespace vatp::eval::ruler {
namespace {

constexpr int kWordLen = 6;
constexpr double kAlpha = 2.0;
constexpr double kZeta2 = 1.6449340668482264;  // scipy.special.zeta(2.0) = pi^2 / 6
constexpr std::string_view kLower = "abcdefghijklmnopqrstuvwxyz";

// vocab_size distinct random lowercase words, sorted then shuffled, the first one "...".
std::vector<std::string> draw_vocab(Rng& rng, int64_t vocab_size) {
  std::vector<std::string> v;
  while (static_cast<int64_t>(v.size()) < vocab_size) {
    std::string s = rng.letters(kLower, kWordLen);
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
  }
  std::sort(v.begin(), v.end());
  rng.shuffle(v);
  v[0] = "...";
  return v;
}

// Rank k (1-based) appears int(num_words * k^-alpha / zeta(alpha)) times. The shuffle
// uses a fixed per-sample seed, as upstream reshuffles with Random(seed), so the same
// num_words always gives the same text.
Rendered gen_text(const std::vector<std::string>& vocab, int64_t num_words, uint64_t shuffle_seed) {
  std::vector<const std::string*> words;
  for (size_t k = 1; k <= vocab.size(); ++k) {
    const double c = static_cast<double>(num_words) * std::pow(static_cast<double>(k), -kAlpha) / kZeta2;
    for (int64_t i = 0; i < static_cast<int64_t>(c); ++i) words.push_back(&vocab[k - 1]);
  }
  Rng shuffler(shuffle_seed);
  shuffler.shuffle(words);
  std::string context;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) context += ' ';
    context += *words[i];
  }
  Rendered r;
  r.prompt = fill(kFweTemplate, {{"context", context}});
  r.answer_prefix = kFweAnswerPrefix;
  r.answers = {vocab[1], vocab[2], vocab[3]};
  return r;
}

}  // namespace

Result<std::vector<Rendered>> fwe_samples(int64_t max_seq_length, int n_samples, Rng& rng,
                                          const TokenCounter& count) {
  const int64_t max_len = max_seq_length - kFweTokensToGenerate;
  const int64_t vocab_size = max_len / 50;
  if (vocab_size < 4) {
    return invalid_argument("fwe: a length of " + std::to_string(max_seq_length) +
                            " leaves a vocabulary of fewer than 4 words (need >= " +
                            std::to_string(4 * 50 + kFweTokensToGenerate) + ")");
  }
  const int64_t inc = std::max<int64_t>(1, max_len / 32);
  auto tokens = [&](const Rendered& r) { return count(r.prompt + r.answer_prefix); };
  std::vector<Rendered> out;
  for (int s = 0; s < n_samples; ++s) {
    const std::vector<std::string> vocab = draw_vocab(rng, vocab_size);
    const uint64_t shuffle_seed = rng.next();
    // Grow from max_len / 6 words until the text reaches max_len tokens, then step back.
    int64_t num_words = max_len / kWordLen;
    while (tokens(gen_text(vocab, num_words, shuffle_seed)) < max_len) num_words += inc;
    num_words -= inc;
    Rendered r = gen_text(vocab, num_words, shuffle_seed);
    // Only when the very first size was already too long (tiny lengths).
    while (tokens(r) >= max_len && num_words > inc) {
      num_words -= inc;
      r = gen_text(vocab, num_words, shuffle_seed);
    }
    if (tokens(r) >= max_len) {
      return invalid_argument("fwe: the smallest sample does not fit in a length of " +
                              std::to_string(max_seq_length));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace vatp::eval::ruler
