#include "gguf/gguf.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/model_path.h"

namespace vatp::gguf {
namespace {

std::string model_path() { return testing_util::default_model_path(); }

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

GgufWriter sample_writer() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_i32("neg", -5);
  w.set_u64("big", 1ull << 40);
  w.set_f32("eps", 1e-5f);
  w.set_bool("flag", true);
  w.set_u8("small", 7);
  w.set_string_array("tokens", {"a", "", "ccc"});
  w.set_f32_array("scores", {0.5f, -1.0f});
  w.set_i32_array("types", {1, 2, 3});
  w.set_u32_array("counts", {4, 5});
  EXPECT_TRUE(w.add_tensor("t0", DType::F32, {4, 2}, f32_bytes({1, 2, 3, 4, 5, 6, 7, 8})).is_ok());
  EXPECT_TRUE(w.add_tensor("t1", DType::F32, {3}, f32_bytes({9, 10, 11})).is_ok());
  return w;
}

TEST(Gguf, RoundTripEveryValueType) {
  const std::vector<uint8_t> bytes = sample_writer().to_bytes();
  Result<GgufFile> f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_uint("llama.block_count"), 2u);
  EXPECT_EQ(*f->find("neg")->as_int(), -5);
  EXPECT_FALSE(f->find("neg")->as_uint().is_ok());
  EXPECT_EQ(*f->get_uint("big"), 1ull << 40);
  EXPECT_FLOAT_EQ(*f->get_f32("eps"), 1e-5f);
  EXPECT_TRUE(*f->get_bool("flag"));
  EXPECT_EQ(*f->get_uint("small"), 7u);
  auto toks = f->find("tokens")->as_string_array();
  ASSERT_TRUE(toks.is_ok());
  ASSERT_EQ(toks->size(), 3u);
  EXPECT_EQ((*toks)[2], "ccc");
  EXPECT_EQ((*toks)[1], "");
  EXPECT_EQ((*f->find("scores")->as_f32_array())[1], -1.0f);
  EXPECT_EQ((*f->find("types")->as_i32_array())[2], 3);
  EXPECT_EQ((*f->find("counts")->as_i32_array())[1], 5);
  // Wrong-type access names the key and both types.
  Result<std::string> bad = f->get_string("llama.block_count");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("'llama.block_count' has type u32, expected string"),
            std::string::npos);
  EXPECT_EQ(f->get_uint("missing").status().code(), StatusCode::kNotFound);

  ASSERT_EQ(f->tensors().size(), 2u);
  const TensorInfo* t1 = f->find_tensor("t1");
  ASSERT_NE(t1, nullptr);
  EXPECT_EQ(t1->ne[0], 3);
  EXPECT_EQ(t1->offset, 32u);  // 32 bytes of t0 padded to 32
  float x;
  std::memcpy(&x, t1->data + 4, 4);
  EXPECT_EQ(x, 10.0f);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  // Re-encoding through copy_value keeps every value (byte identity: gguf_layout_test.cc).
  GgufWriter w2;
  for (const Value& v : f->values()) w2.copy_value(v);
  std::vector<uint8_t> a = w2.to_bytes();
  Result<GgufFile> f2 = GgufFile::parse(a);
  ASSERT_TRUE(f2.is_ok());
  EXPECT_EQ(f2->values().size(), f->values().size());
  EXPECT_EQ((*f2->find("tokens")->as_string_array())[2], "ccc");
}

// --- Corrupt files: every case must give a clear error, never a crash. ---

struct Corrupt {
  const char* name;
  std::function<std::vector<uint8_t>()> make;
  const char* expect;  // substring of the error message
};

void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }
void put_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

std::vector<uint8_t> one_tensor_file(DType type, std::vector<int64_t> ne, size_t nbytes,
                                     const std::string& name = "w") {
  GgufWriter w;
  w.set_u32("k", 1);
  EXPECT_TRUE(w.add_tensor(name, type, ne, std::vector<uint8_t>(nbytes, 0)).is_ok());
  return w.to_bytes();
}

// Offset of the tensor-info block's fields for one_tensor_file with name "w":
// header 24 + kv ("k": 8+1 + 4 + 4 = 17) = 41; name 8+1 -> n_dims at 50.
constexpr size_t kNdims = 50;

std::vector<Corrupt> corrupt_cases() {
  const std::vector<uint8_t> good = sample_writer().to_bytes();
  return {
      {"empty", [] { return std::vector<uint8_t>{}; }, "bad magic"},
      {"bad magic",
       [=] {
         auto b = good;
         b[0] = 'X';
         return b;
       },
       "bad magic"},
      {"version 1",
       [=] {
         auto b = good;
         put_u32(b, 4, 1);
         return b;
       },
       "unsupported GGUF version 1"},
      {"version 0",
       [=] {
         auto b = good;
         put_u32(b, 4, 0);
         return b;
       },
       "unsupported GGUF version 0"},
      {"version 4",
       [=] {
         auto b = good;
         put_u32(b, 4, 4);
         return b;
       },
       "unsupported GGUF version 4"},
      {"byte-swapped",
       [=] {
         auto b = good;
         put_u32(b, 4, 3u << 24);
         return b;
       },
       "big-endian"},
      {"truncated header", [=] { return std::vector<uint8_t>(good.begin(), good.begin() + 10); },
       "truncated"},
      {"absurd kv count",
       [=] {
         auto b = good;
         put_u64(b, 16, 1ull << 60);
         return b;
       },
       "metadata count"},
      {"absurd tensor count",
       [=] {
         auto b = good;
         put_u64(b, 8, 1ull << 60);
         return b;
       },
       "tensor count"},
      {"kv count larger than a truncated file",
       [=] { return std::vector<uint8_t>(good.begin(), good.begin() + 30); },
       "metadata count 11 is impossible"},
      {"truncated in value",
       [] {
         GgufWriter w;
         w.set_u32("k", 7);
         auto b = w.to_bytes();
         b.resize(b.size() - 2);
         return b;
       },
       "metadata scalar value needs 4 bytes"},
      {"key length past end",
       [=] {
         auto b = good;
         put_u64(b, 24, 1ull << 20);
         return b;
       },
       "truncated"},
      {"absurd string length",
       [=] {
         auto b = good;
         put_u64(b, 24, 1ull << 40);
         return b;
       },
       "absurd length"},
      {"empty key",
       [] {
         GgufWriter w;
         w.set_u32("", 1);
         return w.to_bytes();
       },
       "is empty"},
      {"duplicate key",
       [] {
         GgufWriter w;
         w.set_raw("a", ValueType::UINT8, {1});
         w.set_raw("b", ValueType::UINT8, {1});
         auto b = w.to_bytes();
         b[24 + 8] = 'a';  // rename "b" -> "a": second key starts at 24 + (8+1+4+1)
         b[24 + 14 + 8] = 'a';
         return b;
       },
       "duplicate metadata key"},
      {"unknown value type",
       [] {
         GgufWriter w;
         w.set_raw("x", static_cast<ValueType>(99), {});
         return w.to_bytes();
       },
       "unknown value type 99 (metadata entry #0 at offset 24)"},
      {"nested array",
       [] {
         GgufWriter w;
         std::vector<uint8_t> e = {9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
         w.set_raw("x", ValueType::ARRAY, e);
         return w.to_bytes();
       },
       "nested arrays"},
      {"array count absurd",
       [] {
         GgufWriter w;
         std::vector<uint8_t> e = {4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};  // u32 x 2^56
         w.set_raw("x", ValueType::ARRAY, e);
         return w.to_bytes();
       },
       "absurd length"},
      {"array past end",
       [] {
         GgufWriter w;
         std::vector<uint8_t> e = {4, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
         w.set_raw("x", ValueType::ARRAY, e);
         return w.to_bytes();
       },
       "past the end"},
      {"string array element past end",
       [] {
         GgufWriter w;
         std::vector<uint8_t> e = {8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0, 'a'};
         w.set_raw("x", ValueType::ARRAY, e);
         return w.to_bytes();
       },
       "element 0"},
      {"alignment wrong type",
       [] {
         GgufWriter w;
         w.set_u64("general.alignment", 32);
         return w.to_bytes();
       },
       "expected u32"},
      {"alignment zero",
       [] {
         GgufWriter w;
         w.set_raw("general.alignment", ValueType::UINT32, {0, 0, 0, 0});
         return w.to_bytes();
       },
       "power of two"},
      {"alignment not power of two",
       [] {
         GgufWriter w;
         w.set_raw("general.alignment", ValueType::UINT32, {24, 0, 0, 0});
         return w.to_bytes();
       },
       "power of two"},
      {"tensor name too long", [] { return one_tensor_file(DType::F32, {4}, 16, std::string(64, 'n')); },
       "max 63"},
      {"duplicate tensor",
       [] {
         GgufWriter w;
         EXPECT_TRUE(w.add_tensor("a", DType::F32, {1}, std::vector<uint8_t>(4)).is_ok());
         EXPECT_TRUE(w.add_tensor("b", DType::F32, {1}, std::vector<uint8_t>(4)).is_ok());
         auto b = w.to_bytes();
         // second tensor info: 24 + (8+1+4+8+4+8) = 57; its name byte at 57+8
         b[57 + 8] = 'a';
         return b;
       },
       "duplicate tensor name"},
      {"5 dimensions",
       [] {
         auto b = one_tensor_file(DType::F32, {4}, 16);
         put_u32(b, kNdims, 5);
         return b;
       },
       "'w' has 5 dimensions (max 4) (tensor info #0 at offset 41)"},
      {"negative dimension",
       [] {
         auto b = one_tensor_file(DType::F32, {4}, 16);
         put_u64(b, kNdims + 4, static_cast<uint64_t>(-4));
         return b;
       },
       "negative dimension"},
      {"unknown tensor type",
       [] {
         auto b = one_tensor_file(DType::F32, {4}, 16);
         put_u32(b, kNdims + 12, 16);
         return b;
       },
       "unsupported ggml type id 16 (IQ2_XXS, a type vatp does not support) (tensor info #0 at offset 41)"},
      {"removed tensor type id",
       [] {
         auto b = one_tensor_file(DType::F32, {4}, 16);
         put_u32(b, kNdims + 12, 4);
         return b;
       },
       "unsupported ggml type id 4 (removed from ggml)"},
      {"type id beyond ggml",
       [] {
         auto b = one_tensor_file(DType::F32, {4}, 16);
         put_u32(b, kNdims + 12, 200);
         return b;
       },
       "unsupported ggml type id 200 (unknown to ggml)"},
      {"ne0 not multiple of block",
       [] {
         auto b = one_tensor_file(DType::F32, {32}, 128);
         put_u32(b, kNdims + 12, 2);
         put_u64(b, kNdims + 4, 33);
         return b;
       },
       "not a multiple of the Q4_0 block size"},
      {"misaligned offset",
       [] {
         auto b = one_tensor_file(DType::F32, {4}, 16);
         put_u64(b, kNdims + 16, 4);
         return b;
       },
       "not a multiple of the alignment"},
      {"tensor data past end",
       [] {
         auto b = one_tensor_file(DType::F32, {8}, 32);
         b.resize(b.size() - 8);
         return b;
       },
       "runs past the end"},
      {"tensor larger than file",
       [] {
         auto b = one_tensor_file(DType::F32, {4}, 16);
         put_u64(b, kNdims + 4, 1ull << 40);
         return b;
       },
       "larger than the file"},
      {"overflowing shape",
       [] {
         auto b = one_tensor_file(DType::F32, {4, 1}, 16);
         put_u64(b, kNdims + 4, 1ull << 62);
         put_u64(b, kNdims + 12, 1ull << 62);
         return b;
       },
       "larger than the file"},
      {"overlapping tensors",
       [] {
         GgufWriter w;
         EXPECT_TRUE(w.add_tensor("a", DType::F32, {16}, std::vector<uint8_t>(64)).is_ok());
         EXPECT_TRUE(w.add_tensor("b", DType::F32, {8}, std::vector<uint8_t>(32)).is_ok());
         auto b = w.to_bytes();
         // tensor "b" info at 24 + (8+1+4+8+4+8)=57: offset field at 57+8+1+4+8+4 = 82
         put_u64(b, 82, 32);
         return b;
       },
       "overlap"},
      {"missing data section",
       [] {
         auto b = one_tensor_file(DType::F32, {4}, 16);
         b.resize(kNdims + 4 + 8 + 4 + 8);
         return b;
       },
       "tensor data section is missing"},
  };
}

TEST(Gguf, CorruptFilesGiveClearErrors) {
  int n = 0;
  for (const Corrupt& c : corrupt_cases()) {
    const std::vector<uint8_t> bytes = c.make();
    Result<GgufFile> f = GgufFile::parse(bytes);
    ASSERT_FALSE(f.is_ok()) << c.name << ": parsed without error";
    EXPECT_NE(f.status().message().find(c.expect), std::string::npos)
        << c.name << ": message was '" << f.status().message() << "', expected to contain '" << c.expect
        << "'";
    ++n;
  }
  EXPECT_GE(n, 20);
}

TEST(Gguf, EveryTruncationOfAValidFileFails) {
  const std::vector<uint8_t> good = sample_writer().to_bytes();
  Result<GgufFile> f = GgufFile::parse(good);
  ASSERT_TRUE(f.is_ok());
  // Padding after the last tensor's data is optional; every shorter prefix must fail.
  const TensorInfo& last = f->tensors().back();
  const size_t end = f->data_offset() + last.offset + last.nbytes;
  for (size_t len = 0; len < end; ++len) {
    std::vector<uint8_t> b(good.begin(), good.begin() + static_cast<long>(len));
    EXPECT_FALSE(GgufFile::parse(b).is_ok()) << "prefix of " << len << " bytes parsed";
  }
}

TEST(Gguf, RealModelFile) {
  const std::string path = model_path();
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << "model not found at " << path << " (run scripts/fetch-model.sh)";
  Result<GgufFile> f = GgufFile::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->values().size(), 33u);
  EXPECT_EQ(f->tensors().size(), 272u);
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_uint("llama.block_count"), 30u);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->as_string_array()->size(), 49152u);
  const TensorInfo* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, DType::Q8_0);
  EXPECT_EQ(emb->ne[0], 576);
  EXPECT_EQ(emb->ne[1], 49152);
}

TEST(Gguf, SharedVocabFiles) {
  const std::string dir = std::string(VATP_SHARED_DIR) + "/fixtures/tokenizer";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " not found: the vocab fixtures need ../shared";
  Result<GgufFile> f = GgufFile::open(dir + "/ggml-vocab-llama-spm.gguf");
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->file_size(), 723869u);
  EXPECT_EQ(f->values().size(), 22u);
  EXPECT_TRUE(f->tensors().empty());
  int opened = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".gguf") continue;
    Result<GgufFile> g = GgufFile::open(e.path().string());
    EXPECT_TRUE(g.is_ok()) << e.path() << ": " << g.status().to_string();
    ++opened;
  }
  EXPECT_EQ(opened, 6);
}

}  // namespace
}  // namespace vatp::gguf
