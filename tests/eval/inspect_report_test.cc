// vatp inspect's outputs: the report files from a hand-made trace (CSV rows and quoting,
// JSON summary, plots), and the CLI end to end on SmolLM2 plus its flag errors.
#include "eval/inspect_report.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/model_path.h"
#include "gguf/gguf.h"

namespace vatp::eval {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(InspectReport, FormatsAndCsvQuoting) {
  InspectReportOptions o;
  ASSERT_TRUE(parse_inspect_formats("csv,json", o).is_ok());
  EXPECT_TRUE(o.csv && o.json && !o.svg);
  ASSERT_TRUE(parse_inspect_formats("svg", o).is_ok());
  EXPECT_TRUE(!o.csv && !o.json && o.svg);
  for (const char* bad : {"", "xml", "csv,", "csv;json"}) {
    const Status st = parse_inspect_formats(bad, o);
    EXPECT_FALSE(st.is_ok()) << bad;
  }
  EXPECT_NE(parse_inspect_formats("csv,xml", o).message().find("unknown format 'xml'"), std::string::npos);
  EXPECT_EQ(csv_field("the"), "the");
  EXPECT_EQ(csv_field(" the"), "\" the\"");
  EXPECT_EQ(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
  EXPECT_EQ(csv_field(""), "\"\"");
}

runtime::InspectTrace small_trace(int layers, int heads, int n) {
  runtime::InspectTrace t;
  t.n_layers = layers;
  t.n_heads = heads * 2;
  t.n_kv_heads = heads;
  t.group = 2;
  for (int i = 0; i < n; ++i) t.tokens.push_back(i);
  for (int l = 0; l < layers; ++l) {
    t.layers.push_back(l);
    for (int h = 0; h < heads; ++h) {
      runtime::HeadTrace ht;
      ht.layer = l;
      ht.head = h;
      for (int p = 0; p < n; ++p) {
        ht.acc_attn.push_back(p == 0 ? 40.0f : 1.0f + 0.01f * p);
        ht.v_l1.push_back(p == 0 ? 0.1f : 2.0f + p % 5);
        ht.v_l2.push_back(1.0f);
        ht.k_l2.push_back(3.0f);
      }
      t.heads.push_back(ht);
    }
  }
  return t;
}

TEST(InspectReport, PlotLayersChoice) {
  auto t = small_trace(30, 1, 4);
  auto l = inspect_plot_layers(t, {});
  ASSERT_TRUE(l.is_ok());
  EXPECT_EQ(*l, (std::vector<int>{0, 10, 19, 29}));
  t.layers = {3, 7};
  l = inspect_plot_layers(t, {});
  ASSERT_TRUE(l.is_ok());
  EXPECT_EQ(*l, (std::vector<int>{3, 7}));
  EXPECT_FALSE(inspect_plot_layers(t, {5}).is_ok());
}

class InspectReportSmol : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = testing_util::default_model_path();
    if (!std::filesystem::exists(path_)) GTEST_SKIP() << "model file absent: " << path_;
  }
  std::string path_;
};

// The tokenizer comes from the real model (token texts); the statistics are hand-made.
TEST_F(InspectReportSmol, WritesCsvJsonAndPlots) {
  auto f = gguf::GgufFile::open(path_);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  auto tok = tokenizer::Tokenizer::from_gguf(*f);
  ASSERT_TRUE(tok.is_ok());
  runtime::InspectTrace t = small_trace(3, 2, 12);
  t.tokens[1] = tok->encode(",", false, false).at(0);   // needs CSV quoting
  t.tokens[2] = tok->encode("\n", false, false).at(0);  // shown as \n
  auto s = runtime::summarize_sinks(t, 2);
  ASSERT_TRUE(s.is_ok());
  const std::string dir = ::testing::TempDir() + "/vatp_inspect_report";
  std::filesystem::remove_all(dir);
  InspectReportOptions o;
  o.command_line = "vatp inspect (test)";
  auto written = write_inspect_report(dir, t, *s, *tok, o);
  ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  // csv, json, 3 plots for each of the 3 layers, 2 heatmaps.
  EXPECT_EQ(written->size(), 2u + 9u + 2u);
  for (const std::string& p : *written) EXPECT_TRUE(std::filesystem::exists(p)) << p;

  const std::string csv = read_all(dir + "/inspect.csv");
  EXPECT_EQ(count_lines(csv), 1u + 3 * 2 * 12);
  EXPECT_EQ(csv.rfind("layer,head,pos,token,acc_attn,v_l1,v_l2,k_l2,vatp\n", 0), 0u);
  EXPECT_NE(csv.find("\n0,0,1,\",\","), std::string::npos);
  EXPECT_NE(csv.find("\n0,0,2,\\n,"), std::string::npos);
  EXPECT_NE(csv.find("\n2,1,0,"), std::string::npos);
  EXPECT_NE(csv.find(",40,0.1,1,3,4\n"), std::string::npos);  // acc, v_l1, v_l2, k_l2, vatp of pos 0

  const auto j = nlohmann::json::parse(read_all(dir + "/inspect_summary.json"));
  EXPECT_EQ(j["n_tokens"], 12);
  EXPECT_EQ(j["sinks_k"], 2);
  EXPECT_EQ(j["command"], "vatp inspect (test)");
  ASSERT_EQ(j["layers"].size(), 3u);
  const auto& h = j["layers"][1]["per_head"][0];
  EXPECT_EQ(h["sinks"][0]["pos"], 0);
  EXPECT_EQ(h["sinks"][0]["v_l1_rank"], 1);
  EXPECT_EQ(h["sinks_have_small_v"], false);  // the second sink (pos 11, ||v||_1 3) is not small
  EXPECT_EQ(h["strong_sinks"], 0);            // 40 < 20 x mean acc (~4.4)
  EXPECT_EQ(j["overall"]["heads"], 6);

  const std::string heat = read_all(dir + "/heatmap_sink_share.svg");
  EXPECT_EQ(heat.rfind("<?xml", 0), 0u);
  EXPECT_NE(heat.find("</svg>"), std::string::npos);
  std::filesystem::remove_all(dir);
}

struct Ran {
  int exit_code = -1;
  std::string out, err;
};

Ran run_vatp(const std::string& args) {
  const std::string dir = ::testing::TempDir();
  // Per-process names: ctest runs this binary's tests in parallel processes.
  const std::string tag = std::to_string(::getpid());
  const std::string out = dir + "/vatp_inspect_out_" + tag + ".txt",
                    err = dir + "/vatp_inspect_err_" + tag + ".txt";
  const std::string cmd = std::string(VATP_BINARY_DIR) + "/vatp " + args + " >" + out + " 2>" + err;
  const int st = std::system(cmd.c_str());
  Ran r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = read_all(out);
  r.err = read_all(err);
  return r;
}

TEST_F(InspectReportSmol, CliWritesOneCsvRowPerLayerHeadAndPosition) {
  const std::string dir = ::testing::TempDir() + "/vatp_inspect_cli";
  std::filesystem::remove_all(dir);
  const std::string text = std::string(VATP_SOURCE_DIR) + "/tests/data/jargon-4.4.7-prose.txt";
  const Ran r = run_vatp("inspect -m " + path_ + " -f " + text + " -c 40 --layers 29,0 --sinks 3 -t 2 -o " +
                         dir + " --format csv,json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(read_all(dir + "/inspect.csv")), 1u + 2 * 3 * 40);
  const auto j = nlohmann::json::parse(read_all(dir + "/inspect_summary.json"));
  EXPECT_EQ(j["n_tokens"], 40);
  EXPECT_EQ(j["layers"][0]["layer"], 0);
  EXPECT_EQ(j["layers"][1]["layer"], 29);
  for (const auto& layer : j["layers"]) {
    for (const auto& h : layer["per_head"]) {
      EXPECT_EQ(h["sinks"].size(), 3u);
      EXPECT_NEAR(h["total_acc"].get<double>(), 40.0 * 3, 0.05);
    }
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/heatmap_sink_share.svg"));  // no svg asked for
  EXPECT_NE(r.out.find("layer  sink_share"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_F(InspectReportSmol, CliBadFlagsExitOneWithMessage) {
  const std::string text = std::string(VATP_SOURCE_DIR) + "/tests/data/jargon-4.4.7-prose.txt";
  const std::string base = "inspect -m " + path_ + " -f " + text + " ";
  const std::string out = " -o " + ::testing::TempDir() + "/vatp_inspect_bad";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {base, "-o OUTDIR is required"},
      {"inspect -f " + text + out, "-m MODEL.gguf is required"},
      {base + "-c 1" + out, "-c must be >= 2"},
      {base + "--sinks 0" + out, "--sinks must be >= 1"},
      {base + "--layers 30" + out, "layer 30 does not exist"},
      {base + "--layers x" + out, "'x' is not a layer number"},
      {base + "--format xml" + out, "unknown format 'xml'"},
      {base + "-c 8 --layers 0 --plot-layers 5" + out, "layer 5 is plotted but not traced"},
      {"inspect -m " + path_ + " -f /no/such/file.txt" + out,
       "-f /no/such/file.txt: No such file or directory"},
      {"inspect -m /no/such/model.gguf -f " + text + out, "model file not found"},
  };
  for (const auto& [args, msg] : cases) {
    const Ran r = run_vatp(args);
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(msg), std::string::npos) << args << "\nstderr: " << r.err;
  }
}

}  // namespace
}  // namespace vatp::eval
