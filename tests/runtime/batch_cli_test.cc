// `vatp batch` end to end on SmolLM2: mixed requests (prompts and chat messages,
// several KV policies) under a KV memory bound, outputs in input order and equal to
// `vatp run` of the same request alone; bad lines fail alone, naming file, line, field.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime_test_util.h"

namespace vatp::runtime {
namespace {

std::string temp_path(const std::string& name) { return cli_temp_path("batch", name); }

Ran run_vatp(const std::string& args) { return run_vatp_with_input("batch", args, ""); }

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> v;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
  return v;
}

class BatchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = test_model_path();
    if (model_.empty())
      GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL or run scripts/fetch-model.sh)";
  }
  std::string model_;
};

TEST_F(BatchCli, MixedRequestsUnderAMemoryBoundMatchSingleRuns) {
  const std::string req = temp_path("req.jsonl"), out = temp_path("out.jsonl");
  std::ofstream(req)
      << R"({"id": "a", "prompt": "The capital of France is", "max_tokens": 8})"
         "\n"
      << R"({"id": 2, "prompt": "Once upon a time there was a", "max_tokens": 12, "kv": {"policy": "h2o", "budget": 0.5}})"
         "\n"
      << "\n"
      << R"({"id": "bad-json", "prompt": "x" )"
         "\n"
      << R"({"id": "c", "messages": [{"role": "user", "content": "Name a color."}], "max_tokens": 6, "kv": {"policy": "snapkv", "budget": 0.5, "recent": 4, "window": 4}})"
         "\n"
      << R"({"id": "unknown", "prompt": "hi", "max_tokenz": 3})"
         "\n"
      << R"({"id": "type", "prompt": "hi", "temperature": "hot"})"
         "\n"
      << R"({"id": "budget0", "prompt": "hi there", "kv": {"policy": "vatp", "budget": 0}})"
         "\n"
      << R"({"id": "d", "prompt": "One, two, three, four, five, six, seven, eight, nine,", "max_tokens": 10, "kv": {"policy": "vatp", "budget": 8, "sinks": 2, "recent": 3, "schedule": "chunked", "chunk": 4}})"
         "\n";
  // 2 MiB: a few of these full caches at once, not all of them.
  const Ran r = run_vatp("batch -m " + model_ + " --requests " + req + " -o " + out +
                         " --temp 0 --parallel 4 --kv-memory 2MiB -t 2 -q -c 2048");
  EXPECT_EQ(r.exit_code, 1) << r.err;  // some requests failed
  EXPECT_NE(r.err.find("4 of 8 requests failed"), std::string::npos) << r.err;
  const std::vector<nlohmann::json> lines = read_jsonl(out);
  ASSERT_EQ(lines.size(), 8u);
  // A line that is not JSON has no readable id: its line number stands in.
  const char* ids[] = {"a", "2", "4", "c", "unknown", "type", "budget0", "d"};
  for (size_t i = 0; i < 8; ++i)
    EXPECT_EQ(lines[i]["id"].is_string() ? lines[i]["id"].get<std::string>() : lines[i]["id"].dump(), ids[i]);
  auto error_of = [&](size_t i) { return lines[i].value("error", std::string()); };
  EXPECT_NE(error_of(2).find("req.jsonl:4: invalid JSON"), std::string::npos) << error_of(2);
  EXPECT_NE(error_of(4).find(":6: field \"max_tokenz\": unknown field"), std::string::npos) << error_of(4);
  EXPECT_NE(error_of(5).find(":7: field \"temperature\": must be a number"), std::string::npos)
      << error_of(5);
  EXPECT_NE(error_of(6).find(":8: field \"kv\""), std::string::npos) << error_of(6);
  for (size_t i : {0u, 1u, 3u, 7u}) {
    ASSERT_TRUE(lines[i].contains("text")) << lines[i].dump();
    EXPECT_LE(lines[i]["kv_bytes_reserved"].get<int64_t>(), 2 << 20);
  }
  EXPECT_NE(lines[0]["text"].get<std::string>().find("Paris"), std::string::npos) << lines[0].dump();
  EXPECT_GT(lines[7]["tokens_evicted"].get<int64_t>(), 0);
  // The same request alone through `vatp run` gives the same tokens.
  const std::string js = temp_path("run.json");
  const Ran one = run_vatp("run -m " + model_ +
                           " -p 'Once upon a time there was a' -n 12 --temp 0 -t 2 --no-stats "
                           "--kv-policy h2o --kv-budget 0.5 --json " +
                           js);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const nlohmann::json single = nlohmann::json::parse(slurp(js));
  EXPECT_EQ(lines[1]["tokens"], single["generated_ids"]);
}

// A prompt given as token ids runs those ids (the text's ids give the text's answer);
// an id outside the vocabulary fails its line alone, naming it.
TEST_F(BatchCli, TokenIdPromptsRunAsGiven) {
  const std::string req = temp_path("ids.jsonl"), out = temp_path("ids_out.jsonl");
  const Ran ids = run_vatp("tokenize -m " + model_ + " --ids -p 'The capital of France is'");
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  const nlohmann::json prompt = nlohmann::json::parse(ids.out);
  std::ofstream(req) << R"({"prompt": "The capital of France is", "max_tokens": 6})"
                        "\n"
                     << nlohmann::json{{"prompt", prompt}, {"max_tokens", 6}}.dump() << "\n"
                     << R"({"prompt": [504, 99999999], "max_tokens": 6})"
                        "\n";
  const Ran r =
      run_vatp("batch -m " + model_ + " --requests " + req + " -o " + out + " --temp 0 -t 2 -q -c 512");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::vector<nlohmann::json> lines = read_jsonl(out);
  ASSERT_EQ(lines.size(), 3u);
  ASSERT_TRUE(lines[0].contains("tokens") && lines[1].contains("tokens")) << lines[1].dump();
  EXPECT_EQ(lines[1]["tokens"], lines[0]["tokens"]);
  EXPECT_EQ(lines[1]["prompt_tokens"].get<size_t>(), prompt.size());
  EXPECT_NE(lines[2].value("error", std::string()).find(":3: field \"prompt[1]\": token id 99999999 outside"),
            std::string::npos)
      << lines[2].dump();
}

TEST_F(BatchCli, BadFlagsFailBeforeLoading) {
  const std::string req = temp_path("one.jsonl");
  std::ofstream(req) << R"({"prompt": "hi"})"
                        "\n";
  struct Case {
    std::string args, message;
  } cases[] = {
      {"batch -m /nonexistent.gguf --requests " + req + " -o /nonexistent-dir/out.jsonl", "cannot write"},
      {"batch -m /nonexistent.gguf --requests " + req + " -o " + temp_path("o") + " --kv-memory 12XB",
       "--kv-memory"},
      {"batch -m /nonexistent.gguf --requests " + req + " -o " + temp_path("o") + " --kv-pressure sometimes",
       "--kv-pressure must be queue or compress"},
      {"batch -m /nonexistent.gguf --requests " + req + " -o " + temp_path("o") + " --kv-min-budget 64",
       "--kv-min-budget needs --kv-pressure compress"},
      {"batch -m /nonexistent.gguf --requests " + req + " -o " + temp_path("o") +
           " --kv-pressure compress --kv-min-budget 0",
       "--kv-min-budget"},
      {"batch -m " + model_ + " --requests /nonexistent.jsonl -o " + temp_path("o"), "not a regular file"},
      {"batch -m /nonexistent.gguf --requests " + req + " -o " + temp_path("o") + " --kv-policy nope",
       "nope"},
  };
  for (const Case& c : cases) {
    const Ran r = run_vatp(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
}

// The list is printed from the registry: every preset, with its resolved settings.
TEST(PoliciesCli, ListsEveryPresetFromTheRegistry) {
  const Ran r = run_vatp("policies");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"full", "streaming", "h2o", "scissorhands", "tova", "snapkv", "knorm", "random",
                           "vatp", "vatp-scissorhands", "vatp-snapkv"}) {
    EXPECT_NE(r.out.find(std::string("\n  ") + name + " "), std::string::npos) << name << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("vatp-snapkv: window-attention x l1"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vatp::runtime
