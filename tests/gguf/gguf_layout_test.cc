// Writer layout (as ggml writes it), every scalar/array type through set_raw, quantized
// tensors, alignment, tolerated tensor orders, and truncation messages at each stage.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace vatp::gguf {
namespace {

template <typename T>
std::vector<uint8_t> raw(T v) {
  std::vector<uint8_t> b(sizeof(T));
  std::memcpy(b.data(), &v, sizeof(T));
  return b;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& substring) {
  Result<GgufFile> f = GgufFile::parse(bytes);
  ASSERT_FALSE(f.is_ok()) << "parsed; expected an error containing '" << substring << "'";
  EXPECT_NE(f.status().message().find(substring), std::string::npos)
      << "message '" << f.status().message() << "' lacks '" << substring << "'";
}

TEST(GgufLayout, EveryScalarTypeThroughRawValues) {
  GgufWriter w;
  w.set_raw("i8", ValueType::INT8, raw<int8_t>(-3));
  w.set_raw("u16", ValueType::UINT16, raw<uint16_t>(65535));
  w.set_raw("i16", ValueType::INT16, raw<int16_t>(-300));
  w.set_raw("i64", ValueType::INT64, raw<int64_t>(-(1ll << 40)));
  w.set_raw("u64max", ValueType::UINT64, raw<uint64_t>(~0ull));
  w.set_raw("f64", ValueType::FLOAT64, raw<double>(0.125));
  w.set_raw("bool2", ValueType::BOOL, {2});  // any non-zero byte is true, as ggml reads it
  std::vector<uint8_t> arr = raw<uint32_t>(static_cast<uint32_t>(ValueType::INT16));
  for (auto part : {raw<uint64_t>(2), raw<int16_t>(-1), raw<int16_t>(9)})
    arr.insert(arr.end(), part.begin(), part.end());
  w.set_raw("arr_i16", ValueType::ARRAY, arr);
  const std::vector<uint8_t> bytes = w.to_bytes();
  Result<GgufFile> f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->find("i8")->type(), ValueType::INT8);
  EXPECT_EQ(*f->find("i8")->as_int(), -3);
  EXPECT_EQ(*f->get_uint("u16"), 65535u);
  EXPECT_EQ(*f->find("i16")->as_int(), -300);
  EXPECT_EQ(*f->find("i64")->as_int(), -(1ll << 40));
  EXPECT_EQ(*f->get_uint("u64max"), ~0ull);
  EXPECT_FALSE(f->find("u64max")->as_int().is_ok());  // does not fit int64
  EXPECT_EQ(*f->find("f64")->as_float(), 0.125);
  EXPECT_TRUE(*f->get_bool("bool2"));
  EXPECT_EQ(f->find("arr_i16")->array_type(), ValueType::INT16);
  EXPECT_EQ(f->find("arr_i16")->array_size(), 2u);
  EXPECT_FALSE(f->find("arr_i16")->as_uint_array().is_ok());  // -1 is negative
  EXPECT_FALSE(f->find("arr_i16")->as_i32_array().is_ok());   // only INT32/UINT32 elements
  // Wrong-type getters name the key and the types.
  Result<float> bad = f->get_f32("i8");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("'i8' has type i8, expected f32 or f64"), std::string::npos);
  Result<bool> bad2 = f->get_bool("arr_i16");
  EXPECT_NE(bad2.status().message().find("array of i16"), std::string::npos);
  // keys() in file order.
  const std::vector<std::string_view> k = f->keys();
  ASSERT_EQ(k.size(), 8u);
  EXPECT_EQ(k.front(), "i8");
  EXPECT_EQ(k.back(), "arr_i16");
}

TEST(GgufLayout, CopyValueReencodesIdenticalBytes) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"<s>", "", "\xe2\x96\x81hello"});
  w.set_f32_array("tokenizer.ggml.scores", {0.0f, -1.5f, 3.25f});
  w.set_i32_array("tokenizer.ggml.token_type", {3, 1, 1});
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_u64("x", 1ull << 50);
  const std::vector<uint8_t> a = w.to_bytes();
  Result<GgufFile> f = GgufFile::parse(a);
  ASSERT_TRUE(f.is_ok());
  GgufWriter w2;
  for (const Value& v : f->values()) w2.copy_value(v);
  EXPECT_EQ(w2.to_bytes(), a);
  // Renaming copy keeps type and value.
  GgufWriter w3;
  w3.copy_value("qwen2.tokens", *f->find("tokenizer.ggml.tokens"));
  const std::vector<uint8_t> b3 = w3.to_bytes();
  Result<GgufFile> f3 = GgufFile::parse(b3);
  ASSERT_TRUE(f3.is_ok());
  EXPECT_EQ((*f3->find("qwen2.tokens")->as_string_array())[2], "\xe2\x96\x81hello");
}

TEST(GgufLayout, QuantizedTensorsAreLaidOutAsGgmlWritesThem) {
  struct T {
    const char* name;
    DType type;
    std::vector<int64_t> ne;
  };
  const std::vector<T> specs = {
      {"q4_0", DType::Q4_0, {64, 3}},       // 2 blocks x 18 B x 3 rows = 108 B
      {"f16", DType::F16, {5}},             // 10 B
      {"q4_k", DType::Q4_K, {256, 2}},      // 144 B x 2
      {"bf16_3d", DType::BF16, {2, 3, 4}},  // 48 B
      {"q6_k_4d", DType::Q6_K, {256, 1, 1, 2}},
  };
  GgufWriter w;
  w.set_string("general.architecture", "test");
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < specs.size(); ++i) {
    size_t n = row_bytes(specs[i].type, specs[i].ne[0]);
    for (size_t d = 1; d < specs[i].ne.size(); ++d) n *= static_cast<size_t>(specs[i].ne[d]);
    data.push_back(pattern(n, static_cast<uint8_t>(i * 31)));
    ASSERT_TRUE(w.add_tensor(specs[i].name, specs[i].type, specs[i].ne, data.back()).is_ok());
  }
  const std::vector<uint8_t> bytes = w.to_bytes();
  Result<GgufFile> f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_EQ(f->tensors().size(), specs.size());
  EXPECT_EQ(f->data_offset() % 32, 0u);
  uint64_t expect_offset = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorInfo& t = f->tensors()[i];
    EXPECT_EQ(t.name, specs[i].name);
    EXPECT_EQ(t.type, specs[i].type);
    EXPECT_EQ(t.n_dims, static_cast<int>(specs[i].ne.size()));
    for (size_t d = 0; d < 4; ++d) EXPECT_EQ(t.ne[d], d < specs[i].ne.size() ? specs[i].ne[d] : 1);
    // ggml's rule: offsets are contiguous in file order, each size padded to 32.
    EXPECT_EQ(t.offset, expect_offset) << t.name;
    expect_offset += (t.nbytes + 31) / 32 * 32;
    ASSERT_EQ(t.nbytes, data[i].size());
    EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.nbytes), data[i]) << t.name;
    EXPECT_EQ(t.data, bytes.data() + f->data_offset() + t.offset);
  }
  EXPECT_EQ(f->tensors()[0].n_elements(), 192);
  EXPECT_EQ(f->tensors()[0].shape_string(), "{64, 3}");
  // The writer pads after the last tensor too.
  EXPECT_EQ(bytes.size(), f->data_offset() + expect_offset);
}

TEST(GgufLayout, CustomAlignmentAndVocabOnlyFiles) {
  GgufWriter w;
  w.set_u32("general.alignment", 64);
  ASSERT_TRUE(w.add_tensor("a", DType::F32, {3}, pattern(12, 1)).is_ok());
  ASSERT_TRUE(w.add_tensor("b", DType::F32, {5}, pattern(20, 2)).is_ok());
  const std::vector<uint8_t> bytes = w.to_bytes();
  Result<GgufFile> f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->find_tensor("b")->offset, 64u);
  EXPECT_EQ(f->find_tensor("nope"), nullptr);

  // No tensors: the file ends right after the last KV (no padding), as in ggml-vocab-*.gguf.
  GgufWriter v;
  v.set_string("tokenizer.ggml.model", "llama");
  const std::vector<uint8_t> vb = v.to_bytes();
  EXPECT_EQ(vb.size(), 24u + (8 + 20) + 4 + (8 + 5));
  Result<GgufFile> g = GgufFile::parse(vb);
  ASSERT_TRUE(g.is_ok());
  EXPECT_TRUE(g->tensors().empty());
}

TEST(GgufLayout, NonContiguousTensorOrderIsToleratedButOverlapIsNot) {
  GgufWriter w;
  ASSERT_TRUE(w.add_tensor("a", DType::F32, {8}, pattern(32, 1)).is_ok());
  ASSERT_TRUE(w.add_tensor("b", DType::F32, {8}, pattern(32, 100)).is_ok());
  std::vector<uint8_t> bytes = w.to_bytes();
  // Tensor infos start at 24: "a" info = 8+1 name, 4 n_dims, 8 ne, 4 type, then offset.
  const size_t off_a = 24 + 9 + 4 + 8 + 4, off_b = off_a + 8 + 9 + 4 + 8 + 4;
  uint64_t oa = 0, ob = 0;
  std::memcpy(&oa, bytes.data() + off_a, 8);
  std::memcpy(&ob, bytes.data() + off_b, 8);
  ASSERT_EQ(oa, 0u);
  ASSERT_EQ(ob, 32u);
  std::memcpy(bytes.data() + off_a, &ob, 8);  // swap: infos no longer in data order
  std::memcpy(bytes.data() + off_b, &oa, 8);
  Result<GgufFile> f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->find_tensor("a")->data[0], 100);  // "a" now points at b's old bytes
  EXPECT_EQ(f->find_tensor("b")->data[0], 1);
  // A gap between tensors (b moved one alignment unit further) is fine when in bounds.
  std::vector<uint8_t> gap = w.to_bytes();
  const uint64_t far = 64;
  std::memcpy(gap.data() + off_b, &far, 8);
  gap.resize(gap.size() + 32, 0);
  EXPECT_TRUE(GgufFile::parse(gap).is_ok());
  // Same offset twice is an overlap.
  std::vector<uint8_t> same = w.to_bytes();
  std::memcpy(same.data() + off_b, &oa, 8);
  expect_error(same, "tensors 'a' and 'b' overlap");
}

TEST(GgufLayout, TruncationMessagesNameTheFieldAndOffset) {
  {  // in a key
    GgufWriter w;
    w.set_u32("general.architecture_long_key", 1);
    std::vector<uint8_t> b = w.to_bytes();
    b.resize(24 + 8 + 5);
    expect_error(b, "truncated file: metadata key needs 29 bytes at offset 32 but only 5 remain");
  }
  {  // in a string value
    GgufWriter w;
    w.set_string("k", "hello world");
    std::vector<uint8_t> b = w.to_bytes();
    b.resize(b.size() - 3);
    expect_error(b, "metadata string value needs 11 bytes at offset 45 but only 8 remain");
  }
  {  // in an array
    GgufWriter w;
    w.set_f32_array("k", std::vector<float>(10, 1.0f));
    std::vector<uint8_t> b = w.to_bytes();
    b.resize(b.size() - 4);
    expect_error(b, "array 'k' of 10 elements runs past the end");
  }
  {  // in tensor infos
    GgufWriter w;
    w.set_u32("k", 1);
    ASSERT_TRUE(w.add_tensor("w", DType::F32, {4, 4}, std::vector<uint8_t>(64)).is_ok());
    std::vector<uint8_t> b = w.to_bytes();
    b.resize(41 + 9 + 4 + 8 + 3);  // 3 bytes into ne[1]
    expect_error(b, "tensor dimension needs 8 bytes");
  }
  {  // in tensor data
    GgufWriter w;
    ASSERT_TRUE(w.add_tensor("w", DType::Q8_0, {32, 2}, std::vector<uint8_t>(68)).is_ok());
    std::vector<uint8_t> b = w.to_bytes();
    b.resize(b.size() - 32);
    expect_error(b, "tensor 'w' data [0, +68) runs past the end of the file");
  }
}

TEST(GgufLayout, WriterRejectsBadTensors) {
  GgufWriter w;
  EXPECT_FALSE(w.add_tensor("a", DType::F32, {}, {}).is_ok());
  EXPECT_FALSE(w.add_tensor("a", DType::F32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4)).is_ok());
  EXPECT_FALSE(w.add_tensor("a", DType::Q4_0, {16}, std::vector<uint8_t>(9)).is_ok());
  Status wrong_size = w.add_tensor("a", DType::F32, {4}, std::vector<uint8_t>(15));
  EXPECT_NE(wrong_size.message().find("15 bytes given, 16 expected"), std::string::npos)
      << wrong_size.message();
  ASSERT_TRUE(w.add_tensor("a", DType::F32, {4}, std::vector<uint8_t>(16)).is_ok());
  EXPECT_FALSE(w.add_tensor("a", DType::F32, {4}, std::vector<uint8_t>(16)).is_ok());
}

}  // namespace
}  // namespace vatp::gguf
