#include "eval/longbench_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "eval/py_string.h"

namespace vatp::eval::longbench {
namespace {

using py::decode_utf8;
using py::encode_utf8;

bool is_ascii_punct(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
         (c >= 0x7B && c <= 0x7E);
}

std::u32string normalize(std::u32string_view s) {
  std::u32string t = py::lower(s);
  std::erase_if(t, is_ascii_punct);
  // re.sub(r"\b(a|an|the)\b", " ", t): a whole run of word characters equal to an article.
  std::u32string out;
  size_t i = 0;
  while (i < t.size()) {
    if (!py::is_word(t[i])) {
      out.push_back(t[i++]);
      continue;
    }
    size_t j = i;
    while (j < t.size() && py::is_word(t[j])) ++j;
    const std::u32string_view w(t.data() + i, j - i);
    if (w == U"a" || w == U"an" || w == U"the") {
      out.push_back(U' ');
    } else {
      out.append(w);
    }
    i = j;
  }
  return py::join(py::split(out), U' ');
}

// f1_score on token lists (multiset intersection).
double f1_tokens(const std::vector<std::u32string>& pred, const std::vector<std::u32string>& gt) {
  std::unordered_map<std::u32string, int64_t> counts;
  for (const auto& t : gt) ++counts[t];
  int64_t same = 0;
  for (const auto& t : pred) {
    auto it = counts.find(t);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  const double precision = 1.0 * static_cast<double>(same) / static_cast<double>(pred.size());
  const double recall = 1.0 * static_cast<double>(same) / static_cast<double>(gt.size());
  return (2 * precision * recall) / (precision + recall);
}

// pltrdy/rouge sentence split: split at ".", drop empty segments, collapse whitespace.
std::vector<std::u32string> rouge_sentences(std::u32string_view s) {
  std::vector<std::u32string> out;
  for (const auto& seg : py::split(s, U'.')) {
    if (!seg.empty()) out.push_back(py::join(py::split(seg), U' '));
  }
  return out;
}

std::vector<std::u32string> rouge_words(const std::vector<std::u32string>& sentences) {
  std::vector<std::u32string> out;
  for (const auto& s : sentences) {
    for (auto& w : py::split(s, U' ')) out.push_back(std::move(w));
  }
  return out;
}

// The words of the LCS of x (reference) and y (hypothesis) along pltrdy's backtrack:
// diagonal on a match, else up when T[i-1][j] > T[i][j-1], else left.
void add_recon_lcs(const std::vector<std::u32string>& x, const std::vector<std::u32string>& y,
                   std::unordered_set<std::u32string>& out) {
  const size_t n = x.size(), m = y.size();
  std::vector<int32_t> t((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> int32_t& { return t[i * (m + 1) + j]; };
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      at(i, j) = x[i - 1] == y[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  size_t i = n, j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] == y[j - 1]) {
      out.insert(x[i - 1]);
      --i, --j;
    } else if (at(i - 1, j) > at(i, j - 1)) {
      --i;
    } else {
      --j;
    }
  }
}

// CPython difflib.SequenceMatcher over code points, isjunk=None, autojunk=True.
class SequenceMatcher {
 public:
  SequenceMatcher(std::u32string a, std::u32string b) : a_(std::move(a)), b_(std::move(b)) {
    for (size_t j = 0; j < b_.size(); ++j) b2j_[b_[j]].push_back(j);
    const size_t n = b_.size();
    if (n >= 200) {
      const size_t ntest = n / 100 + 1;
      std::erase_if(b2j_, [&](const auto& kv) { return kv.second.size() > ntest; });
    }
  }

  double ratio() const {
    const size_t total = a_.size() + b_.size();
    if (total == 0) return 1.0;
    return 2.0 * static_cast<double>(matches(0, a_.size(), 0, b_.size())) / static_cast<double>(total);
  }

 private:
  struct Match {
    size_t i, j, size;
  };

  // find_longest_match: the longest block of non-popular characters, earliest in a and
  // then in b, extended on both sides by equal characters (popular ones included).
  Match longest(size_t alo, size_t ahi, size_t blo, size_t bhi) const {
    size_t besti = alo, bestj = blo, bestsize = 0;
    std::unordered_map<size_t, size_t> j2len, next;
    for (size_t i = alo; i < ahi; ++i) {
      next.clear();
      auto it = b2j_.find(a_[i]);
      if (it != b2j_.end()) {
        for (size_t j : it->second) {
          if (j < blo) continue;
          if (j >= bhi) break;
          size_t k = 1;
          if (j > 0) {
            auto prev = j2len.find(j - 1);
            if (prev != j2len.end()) k = prev->second + 1;
          }
          next[j] = k;
          if (k > bestsize) besti = i + 1 - k, bestj = j + 1 - k, bestsize = k;
        }
      }
      std::swap(j2len, next);
    }
    while (besti > alo && bestj > blo && a_[besti - 1] == b_[bestj - 1]) --besti, --bestj, ++bestsize;
    while (besti + bestsize < ahi && bestj + bestsize < bhi && a_[besti + bestsize] == b_[bestj + bestsize])
      ++bestsize;
    return {besti, bestj, bestsize};
  }

  // Total size of get_matching_blocks (the order of the recursion does not change it).
  size_t matches(size_t alo, size_t ahi, size_t blo, size_t bhi) const {
    struct Span {
      size_t alo, ahi, blo, bhi;
    };
    std::vector<Span> queue{{alo, ahi, blo, bhi}};
    size_t total = 0;
    while (!queue.empty()) {
      const Span s = queue.back();
      queue.pop_back();
      const Match m = longest(s.alo, s.ahi, s.blo, s.bhi);
      if (m.size == 0) continue;
      total += m.size;
      if (s.alo < m.i && s.blo < m.j) queue.push_back({s.alo, m.i, s.blo, m.j});
      if (m.i + m.size < s.ahi && m.j + m.size < s.bhi)
        queue.push_back({m.i + m.size, s.ahi, m.j + m.size, s.bhi});
    }
    return total;
  }

  std::u32string a_, b_;
  std::unordered_map<char32_t, std::vector<size_t>> b2j_;
};

// Digit runs of `prediction` equal to `target`, as a fraction of all its digit runs.
double digit_match_fraction(std::string_view prediction, const std::u32string& target) {
  const auto numbers = py::find_digit_runs(decode_utf8(prediction));
  if (numbers.empty()) return 0.0;
  const auto right = std::count(numbers.begin(), numbers.end(), target);
  return static_cast<double>(right) / static_cast<double>(numbers.size());
}

// The digits of the first "Paragraph <digits>" in s (re.findall(r'Paragraph (\d+)')[0]).
bool paragraph_id(std::string_view s, std::u32string& id) {
  const std::u32string u = decode_utf8(s);
  const std::u32string key = U"Paragraph ";
  for (size_t pos = u.find(key); pos != std::u32string::npos; pos = u.find(key, pos + 1)) {
    size_t j = pos + key.size();
    while (j < u.size() && py::is_decimal(u[j])) ++j;
    if (j > pos + key.size()) {
      id = u.substr(pos + key.size(), j - pos - key.size());
      return true;
    }
  }
  return false;
}

struct TaskInfo {
  const char* name;
  Metric metric;
};
constexpr TaskInfo kTasks[] = {
    {"narrativeqa", Metric::kQaF1},     {"qasper", Metric::kQaF1},
    {"multifieldqa_en", Metric::kQaF1}, {"hotpotqa", Metric::kQaF1},
    {"2wikimqa", Metric::kQaF1},        {"musique", Metric::kQaF1},
    {"gov_report", Metric::kRouge},     {"qmsum", Metric::kRouge},
    {"multi_news", Metric::kRouge},     {"trec", Metric::kClassification},
    {"triviaqa", Metric::kQaF1},        {"samsum", Metric::kRouge},
    {"passage_count", Metric::kCount},  {"passage_retrieval_en", Metric::kRetrieval},
    {"lcc", Metric::kCodeSim},          {"repobench-p", Metric::kCodeSim},
};
constexpr const char* kChineseTasks[] = {"multifieldqa_zh", "dureader", "vcsum", "lsht",
                                         "passage_retrieval_zh"};

}  // namespace

std::string normalize_answer(std::string_view s) { return encode_utf8(normalize(decode_utf8(s))); }

double qa_f1_score(std::string_view prediction, std::string_view ground_truth) {
  return f1_tokens(py::split(normalize(decode_utf8(prediction))),
                   py::split(normalize(decode_utf8(ground_truth))));
}

double rouge_score(std::string_view prediction, std::string_view ground_truth) {
  const auto hyp = rouge_sentences(decode_utf8(prediction));
  const auto ref = rouge_sentences(decode_utf8(ground_truth));
  if (hyp.empty() || ref.empty()) return 0.0;  // upstream: ValueError, caught
  const auto ref_words = rouge_words(ref);
  const auto hyp_words = rouge_words(hyp);
  const double m =
      static_cast<double>(std::unordered_set<std::u32string>(ref_words.begin(), ref_words.end()).size());
  const double n =
      static_cast<double>(std::unordered_set<std::u32string>(hyp_words.begin(), hyp_words.end()).size());
  std::vector<std::vector<std::u32string>> hyp_sent_words;
  for (const auto& h : hyp) hyp_sent_words.push_back(py::split(h, U' '));
  std::unordered_set<std::u32string> lcs_union;
  for (const auto& r : ref) {
    const auto r_words = py::split(r, U' ');
    for (const auto& h_words : hyp_sent_words) add_recon_lcs(r_words, h_words, lcs_union);
  }
  const double llcs = static_cast<double>(lcs_union.size());
  const double r_lcs = llcs / m;
  const double p_lcs = llcs / n;
  return 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8));
}

double classification_score(std::string_view prediction, std::string_view ground_truth,
                            const std::vector<std::string>& all_classes) {
  const std::string pred = encode_utf8(decode_utf8(prediction));
  const std::string gt = encode_utf8(decode_utf8(ground_truth));
  std::vector<std::string> matches;
  for (const auto& c : all_classes) {
    if (pred.find(c) != std::string::npos) matches.push_back(c);
  }
  // Upstream removes while iterating over the same list, so the element after a removed
  // one is not visited.
  for (size_t i = 0; i < matches.size(); ++i) {
    const std::string term = matches[i];
    if (gt.find(term) != std::string::npos && term != gt) {
      matches.erase(std::find(matches.begin(), matches.end(), term));
    }
  }
  if (std::find(matches.begin(), matches.end(), gt) == matches.end()) return 0.0;
  return 1.0 / static_cast<double>(matches.size());
}

double retrieval_score(std::string_view prediction, std::string_view ground_truth) {
  std::u32string id;
  if (!paragraph_id(ground_truth, id)) return 0.0;
  return digit_match_fraction(prediction, id);
}

double count_score(std::string_view prediction, std::string_view ground_truth) {
  return digit_match_fraction(prediction, decode_utf8(ground_truth));
}

double sequence_matcher_ratio(std::string_view a, std::string_view b) {
  return SequenceMatcher(decode_utf8(a), decode_utf8(b)).ratio();
}

int fuzz_ratio(std::string_view a, std::string_view b) {
  const std::u32string ua = decode_utf8(a), ub = decode_utf8(b);
  if (ua == ub) return 100;
  if (ua.empty() || ub.empty()) return 0;
  const double r = SequenceMatcher(ua, ub).ratio();
  return static_cast<int>(std::nearbyint(100 * r));  // Python round: ties to even
}

double code_sim_score(std::string_view prediction, std::string_view ground_truth) {
  std::u32string p = decode_utf8(prediction);
  p.erase(0, std::min(p.find_first_not_of(U'\n'), p.size()));
  std::u32string line;
  for (const auto& l : py::split(p, U'\n')) {
    if (l.find(U'`') == std::u32string::npos && l.find(U'#') == std::u32string::npos &&
        l.find(U"//") == std::u32string::npos) {
      line = l;
      break;
    }
  }
  return fuzz_ratio(encode_utf8(line), ground_truth) / 100.0;
}

Result<Metric> task_metric(std::string_view task) {
  for (const auto& t : kTasks) {
    if (task == t.name) return t.metric;
  }
  for (const char* zh : kChineseTasks) {
    if (task == zh) {
      return unimplemented("LongBench task \"" + std::string(task) +
                           "\" is Chinese; its metric needs jieba word segmentation, which vatp does "
                           "not have (supported: the 16 English and code tasks)");
    }
  }
  std::string names;
  for (const auto& t : kTasks) names += (names.empty() ? "" : ", ") + std::string(t.name);
  return invalid_argument("unknown LongBench task \"" + std::string(task) + "\" (supported: " + names + ")");
}

const std::vector<std::string>& supported_tasks() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& t : kTasks) v.emplace_back(t.name);
    return v;
  }();
  return names;
}

bool first_line_only(std::string_view task) {
  return task == "trec" || task == "triviaqa" || task == "samsum" || task == "lsht";
}

double metric_score(Metric metric, std::string_view prediction, std::string_view ground_truth,
                    const std::vector<std::string>& all_classes) {
  switch (metric) {
    case Metric::kQaF1: return qa_f1_score(prediction, ground_truth);
    case Metric::kRouge: return rouge_score(prediction, ground_truth);
    case Metric::kClassification: return classification_score(prediction, ground_truth, all_classes);
    case Metric::kRetrieval: return retrieval_score(prediction, ground_truth);
    case Metric::kCount: return count_score(prediction, ground_truth);
    case Metric::kCodeSim: return code_sim_score(prediction, ground_truth);
  }
  return 0.0;
}

Status check_answers(std::string_view task, const std::vector<std::string>& answers,
                     const std::vector<std::string>& all_classes) {
  VATP_ASSIGN_OR_RETURN(const Metric metric, task_metric(task));
  if (answers.empty()) return invalid_argument("no reference answers");
  if (metric == Metric::kClassification && all_classes.empty())
    return invalid_argument("task " + std::string(task) + " needs a non-empty \"all_classes\" list");
  if (metric == Metric::kRetrieval) {
    for (const auto& a : answers) {
      std::u32string id;
      if (!paragraph_id(a, id))
        return invalid_argument("answer \"" + a + "\" has no \"Paragraph <number>\" (needed by " +
                                std::string(task) + ")");
    }
  }
  return Status::ok();
}

double sample_score(std::string_view task, std::string_view prediction,
                    const std::vector<std::string>& answers, const std::vector<std::string>& all_classes) {
  const Result<Metric> metric = task_metric(task);
  if (!metric.is_ok()) return 0.0;
  std::string pred(prediction);
  if (first_line_only(task)) {
    pred.erase(0, std::min(pred.find_first_not_of('\n'), pred.size()));
    pred.resize(std::min(pred.find('\n'), pred.size()));
  }
  double score = 0.0;
  for (const auto& gt : answers) score = std::max(score, metric_score(*metric, pred, gt, all_classes));
  return score;
}

double numpy_sum(const std::vector<double>& v) {
  // numpy's pairwise_sum: below 8 values a plain loop; up to 128 eight partial sums
  // combined as a tree, then the tail; above, split at half rounded down to a multiple of 8.
  auto rec = [](auto&& self, const double* a, size_t n) -> double {
    if (n < 8) {
      double res = 0.0;
      for (size_t i = 0; i < n; ++i) res += a[i];
      return res;
    }
    if (n <= 128) {
      double r[8];
      for (int k = 0; k < 8; ++k) r[k] = a[k];
      size_t i = 8;
      for (; i < n - (n % 8); i += 8) {
        for (int k = 0; k < 8; ++k) r[k] += a[i + k];
      }
      double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
      for (; i < n; ++i) res += a[i];
      return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return self(self, a, n2) + self(self, a + n2, n - n2);
  };
  return rec(rec, v.data(), v.size());
}

namespace {

Status check_all(std::string_view task, const std::vector<ScoredPrediction>& preds,
                 const std::vector<std::string>& all_classes) {
  VATP_RETURN_IF_ERROR(task_metric(task).status());
  if (preds.empty()) return invalid_argument("no predictions to score");
  for (size_t i = 0; i < preds.size(); ++i) {
    Status st = check_answers(task, preds[i].answers, all_classes);
    if (!st.is_ok()) return st.with_context("prediction " + std::to_string(i + 1));
  }
  return Status::ok();
}

}  // namespace

Result<double> score_task(std::string_view task, const std::vector<ScoredPrediction>& preds,
                          const std::vector<std::string>& all_classes) {
  VATP_RETURN_IF_ERROR(check_all(task, preds, all_classes));
  double total = 0.0;
  for (const auto& p : preds) total += sample_score(task, p.prediction, p.answers, all_classes);
  return py::round_float(100 * total / static_cast<double>(preds.size()), 2);
}

Result<std::map<std::string, double>> score_task_e(std::string_view task,
                                                   const std::vector<ScoredPrediction>& preds,
                                                   const std::vector<std::string>& all_classes) {
  VATP_RETURN_IF_ERROR(check_all(task, preds, all_classes));
  std::map<std::string, std::vector<double>> buckets{{"0-4k", {}}, {"4-8k", {}}, {"8k+", {}}};
  for (const auto& p : preds) {
    const char* key = p.length < 4000 ? "0-4k" : p.length < 8000 ? "4-8k" : "8k+";
    buckets[key].push_back(sample_score(task, p.prediction, p.answers, all_classes));
  }
  std::map<std::string, double> out;
  for (const auto& [key, scores] : buckets) {
    const double mean = scores.empty() ? std::numeric_limits<double>::quiet_NaN()
                                       : numpy_sum(scores) / static_cast<double>(scores.size());
    out[key] = py::round_numpy(100 * mean, 2);
  }
  return out;
}

}  // namespace vatp::eval::longbench
