// LongBench metrics vs upstream: the specs/eval.md §1.7 vectors and every case of
// tests/data/longbench/metric_golden.jsonl (made by LongBench's own metrics.py and
// eval.py, scripts/ref/gen_longbench_metric_golden.py). Scores must be bit-identical.
#include "eval/longbench_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "eval/jsonl.h"
#include "eval/py_string.h"

namespace vatp::eval::longbench {
namespace {

TEST(LongBenchMetrics, SpecGoldenVectors) {
  EXPECT_EQ(qa_f1_score("The Eiffel Tower, in Paris.", "Eiffel Tower"), 0.6666666666666666);
  EXPECT_EQ(qa_f1_score("an apple a day", "the apple"), 0.6666666666666666);
  EXPECT_EQ(qa_f1_score("yes", "no"), 0.0);
  EXPECT_EQ(rouge_score("The cat sat on the mat. It was happy.", "A cat sat on a mat. The cat was happy."),
            0.7777777727777778);
  EXPECT_EQ(rouge_score("the the the", "the cat"), 0.6666666622222223);
  EXPECT_EQ(rouge_score("c b a. a", "a b c"), 0.6666666616666668);
  EXPECT_EQ(rouge_score("Hello. ", "Hello world."), 0.4999999950000001);
  EXPECT_EQ(rouge_score("", "the cat"), 0.0);
  EXPECT_EQ(rouge_score("...", "the cat"), 0.0);
  EXPECT_EQ(count_score("There are 12 unique paragraphs, not 13.", "12"), 0.5);
  EXPECT_EQ(retrieval_score("Paragraph 7 or Paragraph 17", "Paragraph 7"), 0.5);
  EXPECT_EQ(code_sim_score("\n# comment\n    return x + 1\n", "return x+1"), 0.77);
  EXPECT_EQ(code_sim_score("```python\nfoo(bar)", "foo(bar, baz)"), 0.76);
  EXPECT_EQ(code_sim_score("ccbcaa", "cbcbbbcc"), 0.43);  // difflib, not indel (0.57)
  EXPECT_EQ(code_sim_score("  \nfoo()", "foo()"), 0.0);
  const std::vector<std::string> classes = {"Description of something", "Other", "Other entity", "Entity"};
  EXPECT_EQ(classification_score("Description of something or Other", "Other", classes), 0.5);
  EXPECT_EQ(classification_score("Other entity", "Other entity", classes), 1.0);
  EXPECT_EQ(classification_score("Other", "Other entity", classes), 0.0);
}

TEST(LongBenchMetrics, PythonAndNumpyRounding) {
  EXPECT_EQ(py::round_float(2.675, 2), 2.67);  // the double is just below 2.675
  EXPECT_EQ(py::round_numpy(2.675, 2), 2.68);  // 2.675 * 100 rounds up to 267.5
  EXPECT_EQ(py::round_float(0.125, 2), 0.12);  // exact tie: to even
  EXPECT_EQ(py::round_float(0.375, 2), 0.38);
  EXPECT_EQ(py::round_float(100.0, 2), 100.0);
  EXPECT_TRUE(std::isnan(py::round_numpy(NAN, 2)));
  EXPECT_EQ(fuzz_ratio("abcdefgh", "aijklmno"), 12);  // 12.5 → 12 (ties to even)
}

TEST(LongBenchMetrics, NumpyPairwiseSumOrder) {
  // 1e16 + 1 + 1 ... loses the ones when summed left to right; pairwise keeps some.
  std::vector<double> v(200, 1.0);
  v[0] = 1e16;
  double naive = 0.0;
  for (double x : v) naive += x;
  EXPECT_EQ(naive, 1e16);
  EXPECT_EQ(numpy_sum(v), 1e16 + 188.0);  // numpy.sum of the same vector (numpy 2.4.6)
  EXPECT_EQ(numpy_sum({}), 0.0);
  EXPECT_EQ(numpy_sum({0.5, 0.25}), 0.75);
}

TEST(LongBenchMetrics, ChineseAndUnknownTasksAreErrors) {
  for (const char* zh : {"multifieldqa_zh", "dureader", "vcsum", "lsht", "passage_retrieval_zh"}) {
    const auto m = task_metric(zh);
    ASSERT_FALSE(m.is_ok()) << zh;
    EXPECT_EQ(m.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(m.status().message().find("jieba"), std::string::npos) << m.status().message();
  }
  const auto u = task_metric("qasper_e");
  ASSERT_FALSE(u.is_ok());
  EXPECT_NE(u.status().message().find("unknown LongBench task \"qasper_e\""), std::string::npos);
  EXPECT_EQ(supported_tasks().size(), 16u);
  for (const auto& t : supported_tasks()) EXPECT_TRUE(task_metric(t).is_ok()) << t;
}

TEST(LongBenchMetrics, ScorerChecksWhatUpstreamCrashesOn) {
  EXPECT_FALSE(score_task("qasper", {}, {}).is_ok());
  const auto r = score_task("passage_retrieval_en", {{"Paragraph 1", {"the first one"}, 0}}, {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("Paragraph <number>"), std::string::npos) << r.status().message();
  EXPECT_FALSE(score_task("trec", {{"Food", {"Food"}, 0}}, {}).is_ok());  // no all_classes
  EXPECT_EQ(*score_task("trec", {{"\n\nFood\nDate", {"Food"}, 0}}, {"Food", "Date"}), 100.0);
}

std::vector<std::string> strings(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& s : j) out.push_back(s.get<std::string>());
  return out;
}

TEST(LongBenchMetrics, UpstreamGoldenFile) {
  const std::string path = std::string(VATP_SOURCE_DIR) + "/tests/data/longbench/metric_golden.jsonl";
  const auto recs = read_jsonl(path);
  ASSERT_TRUE(recs.is_ok()) << recs.status().to_string();
  ASSERT_GE(recs->size(), 100u);
  std::map<std::string, int> seen;
  for (const auto& rec : *recs) {
    const auto& c = rec.value;
    const std::string fn = c.at("fn");
    ++seen[fn];
    const std::string where = rec.file + ":" + std::to_string(rec.line) + " " + fn;
    if (fn == "normalize_answer") {
      EXPECT_EQ(normalize_answer(c.at("text").get<std::string>()), c.at("result").get<std::string>())
          << where;
    } else if (fn == "fuzz_ratio") {
      EXPECT_EQ(fuzz_ratio(c.at("a").get<std::string>(), c.at("b").get<std::string>()),
                c.at("score").get<int>())
          << where;
    } else if (fn == "scorer" || fn == "scorer_e") {
      const std::string task = c.at("task");
      std::vector<ScoredPrediction> preds;
      for (size_t i = 0; i < c.at("preds").size(); ++i) {
        ScoredPrediction p{c.at("preds")[i], strings(c.at("answers")[i]), 0};
        if (fn == "scorer_e") p.length = c.at("lengths")[i];
        preds.push_back(std::move(p));
      }
      const auto classes = strings(c.at("all_classes"));
      if (fn == "scorer") {
        const auto s = score_task(task, preds, classes);
        ASSERT_TRUE(s.is_ok()) << where << ": " << s.status().to_string();
        EXPECT_EQ(*s, c.at("score").get<double>()) << where;
      } else {
        const auto s = score_task_e(task, preds, classes);
        ASSERT_TRUE(s.is_ok()) << where << ": " << s.status().to_string();
        for (const auto& [key, want] : c.at("scores").items()) {
          if (want.is_null()) {
            EXPECT_TRUE(std::isnan(s->at(key))) << where << " " << key;
          } else {
            EXPECT_EQ(s->at(key), want.get<double>()) << where << " " << key;
          }
        }
      }
    } else {
      const std::string pred = c.at("pred"), gt = c.at("gt");
      const double want = c.at("score");
      double got = -1;
      if (fn == "qa_f1_score") got = qa_f1_score(pred, gt);
      if (fn == "rouge_score") got = rouge_score(pred, gt);
      if (fn == "classification_score") got = classification_score(pred, gt, strings(c.at("all_classes")));
      if (fn == "retrieval_score") got = retrieval_score(pred, gt);
      if (fn == "count_score") got = count_score(pred, gt);
      if (fn == "code_sim_score") got = code_sim_score(pred, gt);
      EXPECT_EQ(got, want) << where << " pred=\"" << pred << "\" gt=\"" << gt << "\"";
    }
  }
  for (const char* fn :
       {"qa_f1_score", "rouge_score", "classification_score", "retrieval_score", "count_score",
        "code_sim_score", "normalize_answer", "fuzz_ratio", "scorer", "scorer_e"})
    EXPECT_GT(seen[fn], 0) << fn;
}

}  // namespace
}  // namespace vatp::eval::longbench
