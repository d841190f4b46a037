// RULER scoring (specs/eval.md §2.4, NVIDIA/RULER scripts/eval/evaluate.py).
#include <string>

#include "eval/py_string.h"
#include "eval/ruler.h"

namespace vatp::eval {
namespace {

// Python's str.strip() on code points.
std::u32string_view py_strip(std::u32string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end && py::is_space(s[begin])) ++begin;
  while (end > begin && py::is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

// postprocess_pred on the decoded prediction (invalid UTF-8 bytes become U+FFFD).
std::u32string postprocess(std::string_view prediction) {
  const std::u32string decoded = py::decode_utf8(prediction);
  std::u32string s(py_strip(decoded));
  for (char32_t& c : s)
    if (c <= 0x1F) c = U'\n';
  return std::u32string(py_strip(s));
}

int found_count(std::string_view prediction, const std::vector<std::string>& refs) {
  const std::u32string pred = py::lower(postprocess(prediction));
  int found = 0;
  for (const std::string& r : refs)
    found += pred.find(py::lower(py::decode_utf8(r))) != std::u32string::npos ? 1 : 0;
  return found;
}

template <typename PerSample>
double aggregate(const std::vector<std::string>& preds, const std::vector<std::vector<std::string>>& refs,
                 PerSample one) {
  if (preds.empty() || preds.size() != refs.size()) return 0.0;
  double sum = 0.0;  // left to right, as Python's sum()
  for (size_t i = 0; i < preds.size(); ++i) sum += one(preds[i], refs[i]);
  return py::round_float(sum / static_cast<double>(preds.size()) * 100.0, 2);
}

}  // namespace

std::string ruler_postprocess(std::string_view prediction) {
  return py::encode_utf8(postprocess(prediction));
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
