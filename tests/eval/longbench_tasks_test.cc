// LongBench prompts, generation settings and sample building (specs/eval.md §1.2–1.4).
#include "eval/longbench_tasks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/longbench_metrics.h"

namespace vatp::eval::longbench {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / ("vatp_lbtask_" + name)).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(LongBenchTasks, PromptsAreUpstreamStrings) {
  // Whole strings for the tasks whose quirks matter: typos, a leading space, trailing
  // spaces, no {input}.
  EXPECT_EQ(
      fill_prompt(*prompt_template("narrativeqa"), "CTX", "Q?"),
      "You are given a story, which can be either a novel or a movie script, and a question. Answer the "
      "question asconcisely as you can, using a single phrase if possible. Do not provide any explanation."
      "\n\nStory: CTX\n\nNow, answer the question based on the story asconcisely as you can, using a single "
      "phrase if possible. Do not provide any explanation.\n\nQuestion: Q?\n\nAnswer:");
  EXPECT_NE(prompt_template("qasper")->find("Article: {context}\n\n Answer the question based on"),
            std::string::npos);
  EXPECT_EQ(fill_prompt(*prompt_template("lcc"), "int x = 1;\n", "IGNORED"),
            "Please complete the code given below. \nint x = 1;\nNext line of code:\n");
  EXPECT_EQ(fill_prompt(*prompt_template("repobench-p"), "# a.py\n", "def f():\n"),
            "Please complete the code given below. \n# a.py\ndef f():\nNext line of code:\n");
  EXPECT_EQ(fill_prompt(*prompt_template("trec"), "What is X?\nType: Entity", "Who is Y?\nType:"),
            "Please determine the type of the question below. Here are some examples of questions.\n\n"
            "What is X?\nType: Entity\nWho is Y?\nType:");
  const std::string count = *prompt_template("passage_count");
  EXPECT_EQ(count.substr(count.size() - 23), "\n\nThe final answer is: ");
  const std::string retr = *prompt_template("passage_retrieval_en");
  EXPECT_EQ(retr.substr(retr.size() - 17), "\n\nThe answer is: ");
  EXPECT_NE(prompt_template("multi_news")->find("summary of all news. \n\nNews:\n{context}"),
            std::string::npos);
}

// Every prompt equals the JSON of specs/eval.md §1.3 (three ```json blocks).
TEST(LongBenchTasks, PromptsEqualTheSpecJson) {
  const std::string spec_path = std::string(VATP_SHARED_DIR) + "/specs/eval.md";
  std::ifstream in(spec_path);
  if (!in) GTEST_SKIP() << "spec not found: " << spec_path << " (../shared is absent)";
  const std::string spec((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t begin = spec.find("### 1.3"), end = spec.find("### 1.4");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  size_t pos = begin, blocks = 0, checked = 0;
  while ((pos = spec.find("```json\n", pos)) < end) {
    const size_t close = spec.find("```", pos + 8);
    const auto j = nlohmann::json::parse(spec.substr(pos + 8, close - pos - 8));
    for (const auto& [task, tmpl] : j.items()) {
      const auto mine = prompt_template(task);
      ASSERT_TRUE(mine.is_ok()) << task;
      EXPECT_EQ(*mine, tmpl.get<std::string>()) << task;
      ++checked;
    }
    ++blocks;
    pos = close + 3;
  }
  EXPECT_EQ(blocks, 3u);
  EXPECT_EQ(checked, 16u);
}

TEST(LongBenchTasks, FillIsOnePassLikeStrFormat) {
  // A value holding "{input}" is not substituted again.
  EXPECT_EQ(fill_prompt("A{context}B{input}C", "{input}{x}", "in"), "A{input}{x}BinC");
}

TEST(LongBenchTasks, MaxNewTokensAndChatSkipList) {
  const std::map<std::string, int> want = {{"narrativeqa", 128},
                                           {"qasper", 128},
                                           {"multifieldqa_en", 64},
                                           {"hotpotqa", 32},
                                           {"2wikimqa", 32},
                                           {"musique", 32},
                                           {"gov_report", 512},
                                           {"qmsum", 512},
                                           {"multi_news", 512},
                                           {"trec", 64},
                                           {"triviaqa", 32},
                                           {"samsum", 128},
                                           {"passage_count", 32},
                                           {"passage_retrieval_en", 32},
                                           {"lcc", 64},
                                           {"repobench-p", 64}};
  for (const auto& [task, n] : want) EXPECT_EQ(*max_new_tokens(task), n) << task;
  for (const auto& t : supported_tasks()) {
    const bool skip = t == "trec" || t == "triviaqa" || t == "samsum" || t == "lcc" || t == "repobench-p";
    EXPECT_EQ(uses_chat_template(t), !skip) << t;
  }
  EXPECT_FALSE(max_new_tokens("vcsum").is_ok());
  EXPECT_FALSE(prompt_template("nope").is_ok());
}

const char* kRecord =
    R"({"input": "Who? {context}", "context": "Some {input} text.", "answers": ["Bob", "Robert"], "length": 4321, )"
    R"("dataset": "qasper", "language": "en", "all_classes": null, "_id": "abc123"})";

TEST(LongBenchTasks, SamplesCarryEverythingTheRunnerNeeds) {
  const std::string path = write_file("qasper.jsonl", std::string(kRecord) + "\n" + kRecord + "\n");
  const auto recs = read_jsonl(path);
  ASSERT_TRUE(recs.is_ok());
  const auto samples = longbench_samples("qasper", *recs, 7500);
  ASSERT_TRUE(samples.is_ok()) << samples.status().to_string();
  ASSERT_EQ(samples->size(), 2u);
  const Sample& s = (*samples)[0];
  EXPECT_EQ(s.task, "qasper");
  EXPECT_EQ(s.id, "abc123");
  EXPECT_EQ(s.prompt, fill_prompt(*prompt_template("qasper"), "Some {input} text.", "Who? {context}"));
  EXPECT_EQ(s.answer_prefix, "");
  EXPECT_TRUE(s.chat);
  EXPECT_EQ(s.truncate_to, 7500);
  EXPECT_EQ(s.max_new_tokens, 128);
  EXPECT_FALSE(s.stop_at_newline);
  EXPECT_EQ(s.answers, (std::vector<std::string>{"Bob", "Robert"}));
  EXPECT_TRUE(s.all_classes.empty());
  EXPECT_EQ(s.length, 4321);

  const auto samsum = longbench_samples("samsum", *recs, 0);
  ASSERT_TRUE(samsum.is_ok());
  EXPECT_TRUE((*samsum)[0].stop_at_newline);
  EXPECT_EQ((*samsum)[0].min_new_tokens, 1);
  EXPECT_FALSE((*samsum)[0].chat);
  EXPECT_EQ((*samsum)[0].truncate_to, 0);
  EXPECT_EQ((*samsum)[0].max_new_tokens, 128);

  const ScoreFn score = longbench_score_fn();
  EXPECT_EQ(score(s, "Robert."), 1.0);
  EXPECT_EQ(score(s, "Bob Smith"), qa_f1_score("Bob Smith", "Bob"));
  Sample trec = s;
  trec.task = "trec";
  trec.answers = {"Food"};
  trec.all_classes = {"Food", "Date"};
  EXPECT_EQ(score(trec, "\nFood\nDate"), 1.0);  // first line only
}

TEST(LongBenchTasks, RecordErrorsNameFileAndLine) {
  const std::string bad =
      R"({"input": "q", "context": "c", "answers": ["Paragraph 3"], "length": 1, "all_classes": null})";
  const std::string no_para =
      R"({"input": "q", "context": "c", "answers": ["the third"], "length": 1, "all_classes": null})";
  const std::string path = write_file("passage_retrieval_en.jsonl", bad + "\n" + no_para + "\n");
  const auto recs = read_jsonl(path);
  ASSERT_TRUE(recs.is_ok());
  const auto r = longbench_samples("passage_retrieval_en", *recs);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message().rfind(path + ":2: answer \"the third\" has no \"Paragraph <number>\"", 0),
            0u)
      << r.status().message();
  EXPECT_EQ((*longbench_samples("passage_retrieval_en", {(*recs)[0]}))[0].id, "0");

  const std::string missing =
      write_file("m.jsonl", R"({"input": "q", "answers": ["a"], "length": 1, "all_classes": null})");
  const auto rm = longbench_samples("qasper", *read_jsonl(missing));
  ASSERT_FALSE(rm.is_ok());
  EXPECT_EQ(rm.status().message(), missing + ":1: missing field \"context\"");
  const auto trec = longbench_samples("trec", *read_jsonl(path));
  ASSERT_FALSE(trec.is_ok());
  EXPECT_NE(trec.status().message().find(":1: task trec needs a non-empty \"all_classes\" list"),
            std::string::npos)
      << trec.status().message();
  EXPECT_EQ(longbench_samples("lsht", *recs).status().code(), StatusCode::kUnimplemented);
}

TEST(LongBenchTasks, TaskFromPathLikeEvalPy) {
  EXPECT_EQ(task_from_path("pred/llama/qasper.jsonl"), "qasper");
  EXPECT_EQ(task_from_path("repobench-p.jsonl"), "repobench-p");
  EXPECT_EQ(task_from_path("/x.y/2wikimqa.v2.jsonl"), "2wikimqa");
}

}  // namespace
}  // namespace vatp::eval::longbench
