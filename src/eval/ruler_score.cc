// RULER scoring (specs/eval.md §2.4, NVIDIA/RULER scripts/eval/evaluate.py).
#include <cstdio>
#include <cstdlib>

#include "eval/ruler.h"

namespace vatp::eval {
namespace {

// Python str.isspace for one code point.
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// The code point of the well-formed UTF-8 sequence at s[i] and its length; a byte that
// starts no such sequence counts as one non-space unit.
std::pair<char32_t, size_t> code_point_at(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return {0xFFFD, 1};
  char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < len; ++k) {
    const auto cb = static_cast<unsigned char>(s[i + k]);
    if ((cb >> 6) != 0x2) return {0xFFFD, 1};
    c = (c << 6) | (cb & 0x3F);
  }
  return {c, len};
}

// Python str.strip() on UTF-8 text.
std::string_view py_strip(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    const auto [c, len] = code_point_at(s, begin);
    if (!py_space(c)) break;
    begin += len;
  }
  size_t end = begin;  // one past the last non-space code point
  for (size_t i = begin; i < s.size();) {
    const auto [c, len] = code_point_at(s, i);
    i += len;
    if (!py_space(c)) end = i;
  }
  return s.substr(begin, end - begin);
}

// str.lower() for ASCII letters; other characters are kept as they are.
std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return out;
}

int found_count(std::string_view prediction, const std::vector<std::string>& refs) {
  const std::string pred = lower_ascii(ruler_postprocess(prediction));
  int found = 0;
  for (const std::string& r : refs) found += pred.find(lower_ascii(r)) != std::string::npos ? 1 : 0;
  return found;
}

// Python round(x, 2): the nearest 2-decimal value to the exact binary x (glibc's printf
// rounds exactly, ties to even), read back as the nearest double.
double round2(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return std::strtod(buf, nullptr);
}

template <typename PerSample>
double aggregate(const std::vector<std::string>& preds, const std::vector<std::vector<std::string>>& refs,
                 PerSample one) {
  if (preds.empty() || preds.size() != refs.size()) return 0.0;
  double sum = 0.0;  // left to right, as Python's sum()
  for (size_t i = 0; i < preds.size(); ++i) sum += one(preds[i], refs[i]);
  return round2(sum / static_cast<double>(preds.size()) * 100.0);
}

}  // namespace

std::string ruler_postprocess(std::string_view prediction) {
  std::string s(py_strip(prediction));
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) <= 0x1F) ch = '\n';
  return std::string(py_strip(s));
}

double string_match_all_one(std::string_view prediction, const std::vector<std::string>& refs) {
  if (refs.empty()) return 0.0;
  return static_cast<double>(found_count(prediction, refs)) / static_cast<double>(refs.size());
}

double string_match_part_one(std::string_view prediction, const std::vector<std::string>& refs) {
  return found_count(prediction, refs) > 0 ? 1.0 : 0.0;
}

double string_match_all(const std::vector<std::string>& preds,
                        const std::vector<std::vector<std::string>>& refs) {
  return aggregate(preds, refs, string_match_all_one);
}

double string_match_part(const std::vector<std::string>& preds,
                         const std::vector<std::vector<std::string>>& refs) {
  return aggregate(preds, refs, string_match_part_one);
}

ScoreFn ruler_score_fn() {
  return [](const Sample& s, std::string_view prediction) {
    return string_match_all_one(prediction, s.answers);
  };
}

}  // namespace vatp::eval
