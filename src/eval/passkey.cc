#include "eval/passkey.h"

#include <algorithm>

#include "eval/rng.h"
#include "eval/ruler_internal.h"

namespace vatp::eval {
namespace {

constexpr std::string_view kTask =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will "
    "quiz you "
    "about the important information there.";
constexpr std::string_view kQuestion = "What is the pass key?";
constexpr std::string_view kAnswerStart = "The pass key is";
constexpr int kFillerCopies = 2000;

std::string long_filler() {
  std::string s;
  for (int i = 0; i < kFillerCopies; ++i) {
    if (i > 0) s += ' ';
    s += ruler::kNoise;
  }
  return s;
}

Sample make_sample(const std::string& filler, int64_t n_garbage, int64_t prefix_len, int64_t pass_key,
                   bool chat) {
  const std::string key = std::to_string(pass_key);
  const std::string info = "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
  Sample s;
  s.task = "passkey";
  s.prompt = std::string(kTask) + "\n" + filler.substr(0, static_cast<size_t>(prefix_len)) + "\n" + info +
             "\n" + filler.substr(0, static_cast<size_t>(n_garbage - prefix_len)) + "\n" +
             std::string(kQuestion);
  // Plain: prompt + answer_prefix is Landmark's text byte for byte.
  s.answer_prefix = chat ? std::string(kAnswerStart) : " " + std::string(kAnswerStart);
  s.chat = chat;
  s.max_new_tokens = kPasskeyMaxNewTokens;
  s.answers = {key};
  return s;
}

int64_t total(const Sample& s, const TokenCounter& count) {
  return count(s.prompt + s.answer_prefix) + kPasskeyMaxNewTokens;
}

}  // namespace

int64_t passkey_max_garbage() {
  return kFillerCopies * static_cast<int64_t>(ruler::kNoise.size()) + (kFillerCopies - 1);
}

Result<std::vector<Sample>> passkey_samples(const PasskeyOptions& o, const TokenCounter& count) {
  if (o.n_samples < 0) return invalid_argument("passkey: the number of samples must be >= 0");
  const std::string filler = long_filler();
  const int64_t max_garbage = passkey_max_garbage();
  int64_t n_garbage = o.n_garbage;
  if (o.target_tokens > 0) {
    if (!count) return invalid_argument("passkey: a target length needs a tokenizer");
    // Largest filler whose prompt (split in the middle, a 5-digit key) fits.
    int64_t lo = 0, hi = max_garbage, best = -1;
    while (lo <= hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (total(make_sample(filler, mid, mid / 2, 25000, o.chat), count) <= o.target_tokens) {
        best = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (best < 0) {
      return invalid_argument("passkey: even an empty filler does not fit in " +
                              std::to_string(o.target_tokens) + " tokens");
    }
    n_garbage = best;
  } else if (n_garbage < 0 || n_garbage > max_garbage) {
    return invalid_argument("passkey: the filler length must be in [0, " + std::to_string(max_garbage) +
                            "] characters, got " + std::to_string(n_garbage));
  }

  Rng rng(o.seed);
  std::vector<Sample> out;
  for (int i = 0; i < o.n_samples; ++i) {
    int64_t n = n_garbage;
    for (;;) {
      const int64_t prefix_len = rng.between(0, n);
      const int64_t pass_key = rng.between(1, 50000);
      Sample s = make_sample(filler, n, prefix_len, pass_key, o.chat);
      if (o.target_tokens <= 0 || total(s, count) <= o.target_tokens) {
        s.id = std::to_string(i);
        out.push_back(std::move(s));
        break;
      }
      if (n == 0)
        return invalid_argument("passkey: a sample does not fit in " + std::to_string(o.target_tokens));
      n = std::max<int64_t>(0, n - std::max<int64_t>(1, n / 100));  // 1 % shorter, redrawn
    }
  }
  return out;
}

bool passkey_correct(std::string_view continuation, std::string_view pass_key) {
  const size_t start = continuation.find_first_of("0123456789");
  if (start == std::string_view::npos) return false;
  size_t end = continuation.find_first_not_of("0123456789", start);
  if (end == std::string_view::npos) end = continuation.size();
  std::string_view digits = continuation.substr(start, end - start);
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);  // int("007") == 7
  std::string_view key = pass_key;
  while (key.size() > 1 && key.front() == '0') key.remove_prefix(1);
  return digits == key;
}

ScoreFn passkey_score_fn() {
  return [](const Sample& s, std::string_view prediction) {
    return !s.answers.empty() && passkey_correct(prediction, s.answers[0]) ? 1.0 : 0.0;
  };
}

}  // namespace vatp::eval
