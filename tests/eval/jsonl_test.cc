// read_jsonl and JsonlRecord getters: values read back, every error names file:line.
#include "eval/jsonl.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace vatp::eval {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / ("vatp_jsonl_" + name)).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(Jsonl, ReadsObjectsSkipsBlankLinesKeepsLineNumbers) {
  const std::string path =
      write_file("ok.jsonl",
                 "{\"pred\": \"a\", \"answers\": [\"x\", \"y\"], \"length\": 12, "
                 "\"all_classes\": null}\n\n  \r\n{\"pred\": \"b\\u00e9\", \"answers\": [], "
                 "\"length\": 3, \"all_classes\": [\"c\"]}\r\n");
  const auto recs = read_jsonl(path);
  ASSERT_TRUE(recs.is_ok()) << recs.status().to_string();
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[0].line, 1);
  EXPECT_EQ((*recs)[1].line, 4);
  EXPECT_EQ(*(*recs)[0].get_string("pred"), "a");
  EXPECT_EQ(*(*recs)[1].get_string("pred"), "b\xc3\xa9");
  EXPECT_EQ(*(*recs)[0].get_int("length"), 12);
  EXPECT_EQ((*(*recs)[0].get_string_list("answers", false)), (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE((*(*recs)[0].get_nullable_string_list("all_classes")).has_value());
  EXPECT_EQ(*(*(*recs)[1].get_nullable_string_list("all_classes")), std::vector<std::string>{"c"});
  EXPECT_TRUE((*recs)[1].get_string_list("answers", true).is_ok());
}

// The error of the first problem in `text`, which must name "<file>:<line>:".
std::string field_error(const std::string& text, int want_line) {
  const std::string path = write_file("bad.jsonl", text);
  const auto recs = read_jsonl(path);
  Status st = recs.status();
  if (recs.is_ok()) {
    for (const auto& r : *recs) {
      if (auto s = r.get_string("pred"); !s.is_ok()) {
        st = s.status();
        break;
      }
      if (auto a = r.get_string_list("answers", false); !a.is_ok()) {
        st = a.status();
        break;
      }
      if (auto l = r.get_int("length"); !l.is_ok()) {
        st = l.status();
        break;
      }
    }
  }
  EXPECT_FALSE(st.is_ok()) << text;
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  const std::string prefix = path + ":" + std::to_string(want_line) + ": ";
  EXPECT_EQ(st.message().rfind(prefix, 0), 0u) << st.message();
  return st.message().substr(std::min(prefix.size(), st.message().size()));
}

TEST(Jsonl, ErrorsNameFileLineAndProblem) {
  const std::string good = "{\"pred\": \"a\", \"answers\": [\"x\"], \"length\": 1}\n";
  EXPECT_EQ(field_error(good + "{\"answers\": [\"x\"], \"length\": 1}\n", 2), "missing field \"pred\"");
  EXPECT_EQ(field_error(good + good + "{\"pred\": \"a\", \"length\": 1}\n", 3), "missing field \"answers\"");
  EXPECT_EQ(field_error("{\"pred\": 3, \"answers\": [\"x\"], \"length\": 1}\n", 1),
            "field \"pred\" must be a string, got number");
  EXPECT_EQ(field_error("{\"pred\": \"a\", \"answers\": \"x\", \"length\": 1}\n", 1),
            "field \"answers\" must be a list of strings, got string");
  EXPECT_EQ(field_error("{\"pred\": \"a\", \"answers\": [\"x\", 2], \"length\": 1}\n", 1),
            "field \"answers\" item 1 must be a string, got number");
  EXPECT_EQ(field_error("{\"pred\": \"a\", \"answers\": [], \"length\": 1}\n", 1),
            "field \"answers\" is an empty list");
  EXPECT_EQ(field_error("{\"pred\": \"a\", \"answers\": [\"x\"], \"length\": 1.5}\n", 1),
            "field \"length\" must be an integer, got number");
  EXPECT_EQ(field_error(good + "[1, 2]\n", 2), "expected a JSON object, got array");
  const std::string bad_json = field_error(good + "\n{\"pred\": \"a\",\n", 3);
  EXPECT_EQ(bad_json.rfind("invalid JSON at byte ", 0), 0u) << bad_json;
  const std::string bad_utf8 = field_error("{\"pred\": \"\xff\"}\n", 1);
  EXPECT_NE(bad_utf8.find("UTF-8"), std::string::npos) << bad_utf8;
  // nlohmann throws out_of_range for this, not parse_error (found by the fuzzers).
  EXPECT_EQ(field_error(good + "{\"pred\": \"a\", \"length\": 1e999}\n", 2)
                .rfind("invalid JSON: number overflow", 0),
            0u);
}

TEST(Jsonl, UnreadableFileIsAnIoError) {
  const auto r = read_jsonl("/nonexistent/dir/pred.jsonl");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
  EXPECT_NE(r.status().message().find("/nonexistent/dir/pred.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace vatp::eval
