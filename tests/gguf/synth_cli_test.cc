// `vatp synth` end to end: the written file read back with the GGUF reader — keys and
// their types as the converter writes them (specs/gguf.md §1.6), the tokenizer copied
// byte for byte, tensor names/shapes/types per §1.7, and flag validation.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace vatp::gguf {
namespace {

struct SynthRun {
  int exit_code;
  std::string out;
};

SynthRun vatp(const std::string& args) {
  const std::string cmd = std::string(VATP_BINARY_DIR) + "/vatp " + args + " 2>&1";
  SynthRun r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

const std::string kVocab = std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer/ggml-vocab-llama-spm.gguf";

std::string skip_reason() {
  if (!std::filesystem::exists(std::string(VATP_BINARY_DIR) + "/vatp")) return "the vatp binary is not built";
  if (!std::filesystem::exists(kVocab)) return kVocab + " not found (the vocab fixtures need ../shared)";
  return "";
}

void expect_type(const GgufFile& f, const std::string& key, ValueType t) {
  const Value* v = f.find(key);
  ASSERT_NE(v, nullptr) << key << " missing";
  EXPECT_EQ(v->type(), t) << key << " has type " << value_type_name(v->type());
}

void expect_tensor(const GgufFile& f, const std::string& name, DType type, std::vector<int64_t> ne) {
  const TensorInfo* t = f.find_tensor(name);
  ASSERT_NE(t, nullptr) << name << " missing";
  EXPECT_EQ(t->type, type) << name << " is " << dtype_name(t->type);
  ASSERT_EQ(t->n_dims, static_cast<int>(ne.size())) << name;
  for (size_t d = 0; d < ne.size(); ++d) EXPECT_EQ(t->ne[d], ne[d]) << name << " dim " << d;
}

TEST(SynthCli, Llama2LayerModelHasTheKeysTensorsAndTokenizerLlamaCppNeeds) {
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  const std::string out = std::string(VATP_BINARY_DIR) + "/synth_cli_llama.gguf";
  const SynthRun r = vatp(
      "synth --arch llama --layers 2 --dim 256 --heads 4 --kv-heads 2 --ff 512 --ctx 1024 "
      "--rope-base 500000 --type Q4_K --seed 3 --vocab-from " +
      kVocab + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Result<GgufFile> f = GgufFile::open(out);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  Result<GgufFile> vocab = GgufFile::open(kVocab);
  ASSERT_TRUE(vocab.is_ok());
  const int64_t n_vocab = 32000;

  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  for (const char* k :
       {"llama.block_count", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.dimension_count",
        "llama.vocab_size", "general.quantization_version"}) {
    expect_type(*f, k, ValueType::UINT32);
  }
  expect_type(*f, "llama.attention.layer_norm_rms_epsilon", ValueType::FLOAT32);
  expect_type(*f, "llama.rope.freq_base", ValueType::FLOAT32);
  EXPECT_EQ(*f->get_uint("llama.block_count"), 2u);
  EXPECT_EQ(*f->get_uint("llama.context_length"), 1024u);
  EXPECT_EQ(*f->get_uint("llama.embedding_length"), 256u);
  EXPECT_EQ(*f->get_uint("llama.feed_forward_length"), 512u);
  EXPECT_EQ(*f->get_uint("llama.attention.head_count"), 4u);
  EXPECT_EQ(*f->get_uint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(*f->get_uint("llama.rope.dimension_count"), 64u);
  EXPECT_EQ(*f->get_uint("llama.vocab_size"), static_cast<uint64_t>(n_vocab));
  EXPECT_EQ(*f->get_f32("llama.rope.freq_base"), 500000.0f);
  EXPECT_EQ(*f->get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_EQ(f->find("llama.attention.key_length"), nullptr);  // only written for a --head-dim override

  // Every tokenizer.* key of the source, same type and same bytes (re-encoded identically).
  int copied = 0;
  for (const Value& v : vocab->values()) {
    if (v.key().rfind("tokenizer.", 0) != 0) continue;
    const Value* c = f->find(v.key());
    ASSERT_NE(c, nullptr) << v.key() << " not copied";
    EXPECT_EQ(c->type(), v.type()) << v.key();
    EXPECT_EQ(c->array_size(), v.array_size()) << v.key();
    EXPECT_EQ(c->to_display_string(1u << 30), v.to_display_string(1u << 30)) << v.key();
    ++copied;
  }
  EXPECT_GE(copied, 10);

  // Tensors per §1.7: weights Q4_K, norms F32, output.weight present (not --tied).
  EXPECT_EQ(f->tensors().size(), 3u + 2 * 9);
  expect_tensor(*f, "token_embd.weight", DType::Q4_K, {256, n_vocab});
  expect_tensor(*f, "output.weight", DType::Q4_K, {256, n_vocab});
  expect_tensor(*f, "output_norm.weight", DType::F32, {256});
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    expect_tensor(*f, p + "attn_norm.weight", DType::F32, {256});
    expect_tensor(*f, p + "ffn_norm.weight", DType::F32, {256});
    expect_tensor(*f, p + "attn_q.weight", DType::Q4_K, {256, 256});
    expect_tensor(*f, p + "attn_k.weight", DType::Q4_K, {256, 128});
    expect_tensor(*f, p + "attn_v.weight", DType::Q4_K, {256, 128});
    expect_tensor(*f, p + "attn_output.weight", DType::Q4_K, {256, 256});
    expect_tensor(*f, p + "ffn_gate.weight", DType::Q4_K, {256, 512});
    expect_tensor(*f, p + "ffn_up.weight", DType::Q4_K, {256, 512});
    expect_tensor(*f, p + "ffn_down.weight", DType::Q4_K, {512, 256});
    EXPECT_EQ(f->find_tensor(p + "attn_q.bias"), nullptr);  // llama: no biases
  }
  // Norm weights are near 1.
  const TensorInfo* norm = f->find_tensor("blk.1.ffn_norm.weight");
  std::vector<float> nv(256);
  std::memcpy(nv.data(), norm->data, 1024);
  for (float x : nv) {
    EXPECT_GT(x, 0.7f);
    EXPECT_LT(x, 1.3f);
  }

  // Deterministic for a seed; another seed gives other weights.
  const std::string out2 = std::string(VATP_BINARY_DIR) + "/synth_cli_llama2.gguf";
  const std::string same =
      "synth --arch llama --layers 2 --dim 256 --heads 4 --kv-heads 2 --ff 512 --ctx 1024 "
      "--rope-base 500000 --type Q4_K --vocab-from " +
      kVocab + " -o " + out2;
  ASSERT_EQ(vatp(same + " --seed 3").exit_code, 0);
  {
    Result<GgufFile> g = GgufFile::open(out2);
    ASSERT_TRUE(g.is_ok());
    ASSERT_EQ(g->file_size(), f->file_size());
    EXPECT_EQ(
        std::memcmp(g->find_tensor("blk.0.ffn_up.weight")->data, f->find_tensor("blk.0.ffn_up.weight")->data,
                    f->find_tensor("blk.0.ffn_up.weight")->nbytes),
        0);
  }
  ASSERT_EQ(vatp(same + " --seed 4").exit_code, 0);
  {
    Result<GgufFile> g = GgufFile::open(out2);
    ASSERT_TRUE(g.is_ok());
    EXPECT_NE(
        std::memcmp(g->find_tensor("blk.0.ffn_up.weight")->data, f->find_tensor("blk.0.ffn_up.weight")->data,
                    f->find_tensor("blk.0.ffn_up.weight")->nbytes),
        0);
  }
  std::filesystem::remove(out);
  std::filesystem::remove(out2);
}

TEST(SynthCli, Qwen2TiedWithHeadDimOverride) {
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  const std::string out = std::string(VATP_BINARY_DIR) + "/synth_cli_qwen2.gguf";
  const SynthRun r =
      vatp("synth --arch qwen2 --shape tiny --layers 1 --head-dim 96 --tied --type Q8_0 --vocab-from " +
           kVocab + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  Result<GgufFile> f = GgufFile::open(out);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(*f->get_string("general.architecture"), "qwen2");
  EXPECT_EQ(*f->get_uint("qwen2.block_count"), 1u);
  EXPECT_EQ(*f->get_uint("qwen2.attention.key_length"), 96u);
  EXPECT_EQ(*f->get_uint("qwen2.attention.value_length"), 96u);
  EXPECT_EQ(*f->get_uint("qwen2.rope.dimension_count"), 96u);
  EXPECT_EQ(*f->get_f32("qwen2.attention.layer_norm_rms_epsilon"), 1e-6f);
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr);
  // tiny: dim 256, 4 heads, 2 KV heads; head dim 96 -> q 384, kv 192.
  expect_tensor(*f, "blk.0.attn_q.weight", DType::Q8_0, {256, 384});
  expect_tensor(*f, "blk.0.attn_k.weight", DType::Q8_0, {256, 192});
  expect_tensor(*f, "blk.0.attn_output.weight", DType::Q8_0, {384, 256});
  expect_tensor(*f, "blk.0.attn_q.bias", DType::F32, {384});
  expect_tensor(*f, "blk.0.attn_k.bias", DType::F32, {192});
  expect_tensor(*f, "blk.0.attn_v.bias", DType::F32, {192});
  std::filesystem::remove(out);
}

TEST(SynthCli, BadFlagsGiveClearErrors) {
  if (const std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  const std::string tail =
      " --vocab-from " + kVocab + " -o " + std::string(VATP_BINARY_DIR) + "/synth_cli_bad.gguf";
  const std::map<std::string, std::string> cases = {
      {"--layers 1 --dim 128 --heads 4 --ff 256 --type Q4_K", "not a multiple of the Q4_K block size 256"},
      {"--layers 1 --dim 130 --heads 4 --ff 256 --type Q8_0", "dim must be a multiple of heads"},
      {"--layers 1 --dim 128 --heads 4 --kv-heads 3 --ff 256", "heads must be a multiple of kv-heads"},
      {"--arch gpt2 --shape tiny", "--arch must be llama or qwen2"},
      {"--shape huge", "unknown shape 'huge'"},
      {"--shape tiny --type IQ2_XS", "unknown --type 'IQ2_XS'"},
      {"--dim 64", "give --shape NAME"},
  };
  for (const auto& [args, msg] : cases) {
    const SynthRun r = vatp("synth " + args + tail);
    EXPECT_EQ(r.exit_code, 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find(msg), std::string::npos) << args << ": " << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(std::string(VATP_BINARY_DIR) + "/synth_cli_bad.gguf"));
}

}  // namespace
}  // namespace vatp::gguf
