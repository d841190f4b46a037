// `vatp info` end to end: runs the built CLI on files written by GgufWriter.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/cli_run.h"
#include "gguf/gguf.h"

namespace vatp::gguf {
namespace {

using vatp::testing_util::CliRun;
using vatp::testing_util::run_vatp;

std::string write_small_model(const std::string& name) {
  GgufWriter w;
  w.set_string("general.architecture", "mamba9");  // unknown to the engine: info still reports
  w.set_u32("mamba9.block_count", 3);
  w.set_u32("mamba9.embedding_length", 64);
  w.set_u32("mamba9.attention.head_count", 4);
  w.set_f32("mamba9.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_f32("mamba9.rope.freq_base", 500000.0f);
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string_array("tokenizer.ggml.tokens", {"a", "b", "c"});
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eot_token_id", 2);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_string("tokenizer.chat_template", "line1\nline2\nline3\nline4\n");
  EXPECT_TRUE(
      w.add_tensor("token_embd.weight", DType::Q8_0, {64, 3}, std::vector<uint8_t>(34 * 2 * 3)).is_ok());
  EXPECT_TRUE(w.add_tensor("output_norm.weight", DType::F32, {64}, std::vector<uint8_t>(256)).is_ok());
  const std::string path = std::string(VATP_BINARY_DIR) + "/" + name;
  EXPECT_TRUE(w.write(path).is_ok());
  return path;
}

bool have_cli() { return std::filesystem::exists(std::string(VATP_BINARY_DIR) + "/vatp"); }

TEST(InfoCli, JsonReportsShapesTypesAndTokenizer) {
  if (!have_cli()) GTEST_SKIP() << "the vatp binary is not built in " << VATP_BINARY_DIR;
  const std::string path = write_small_model("info_cli_test.gguf");
  const CliRun r = run_vatp("info -m " + path + " --json --tensors");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "mamba9");
  EXPECT_EQ(j["gguf_version"], 3);
  EXPECT_EQ(j["block_count"], 3);
  EXPECT_EQ(j["head_dim"], 16);      // embedding / heads when key_length is absent
  EXPECT_EQ(j["head_count_kv"], 4);  // defaults to head_count
  EXPECT_EQ(j["rms_eps"], 1e-05);
  EXPECT_EQ(j["rope"]["freq_base"], 500000.0);
  EXPECT_EQ(j["tokenizer"]["n_tokens"], 3);
  EXPECT_EQ(j["tokenizer"]["special_ids"]["bos"], 1);
  EXPECT_EQ(j["tokenizer"]["special_ids"]["eot"], 2);
  EXPECT_EQ(j["tokenizer"]["add_bos"], true);
  EXPECT_TRUE(j["tokenizer"]["add_eos"].is_null());
  EXPECT_EQ(j["tensor_count"], 2);
  EXPECT_EQ(j["weight_bytes"], 204 + 256);
  EXPECT_EQ(j["tensor_types"]["Q8_0"]["count"], 1);
  EXPECT_EQ(j["tensor_types"]["F32"]["bytes"], 256);
  ASSERT_EQ(j["tensors"].size(), 2u);
  EXPECT_EQ(j["tensors"][0]["name"], "token_embd.weight");
  EXPECT_EQ(j["tensors"][0]["shape"], nlohmann::json({64, 3}));
  EXPECT_EQ(j["tensors"][1]["offset"], 224);  // 204 padded to 32
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"], nlohmann::json({"a", "b", "c"}));
  std::filesystem::remove(path);
}

TEST(InfoCli, TextShowsTemplateHeadAndTensorList) {
  if (!have_cli()) GTEST_SKIP() << "the vatp binary is not built in " << VATP_BINARY_DIR;
  const std::string path = write_small_model("info_cli_text.gguf");
  const CliRun r = run_vatp("info -m " + path + " --tensors");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("architecture       mamba9"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chat template (24 chars)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| line3"), std::string::npos);
  EXPECT_EQ(r.out.find("| line4"), std::string::npos);  // only 3 lines without --verbose
  EXPECT_NE(r.out.find("output_norm.weight"), std::string::npos);
  const CliRun v = run_vatp("info -m " + path + " --verbose");
  EXPECT_NE(v.out.find("| line4"), std::string::npos);
  EXPECT_NE(v.out.find("mamba9.rope.freq_base"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(InfoCli, MalformedOrMissingFileFailsWithReason) {
  if (!have_cli()) GTEST_SKIP() << "the vatp binary is not built in " << VATP_BINARY_DIR;
  const std::string path = write_small_model("info_cli_bad.gguf");
  size_t data_offset = 0;
  {
    Result<GgufFile> f = GgufFile::open(path);
    ASSERT_TRUE(f.is_ok());
    data_offset = f->data_offset();
  }
  std::filesystem::resize_file(path, data_offset + 100);  // cut inside token_embd's 204 bytes
  CliRun r = run_vatp("info -m " + path);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("truncated file"), std::string::npos) << r.out;
  std::filesystem::remove(path);
  r = run_vatp("info -m " + path);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  r = run_vatp("info");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--model is required"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vatp::gguf
