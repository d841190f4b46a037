// Random-weight GGUF models of any llama/qwen2 shape, for tests and benchmarks without
// downloads (`vatp synth`). The tokenizer keys are copied from a real GGUF so the file
// is a complete model that llama.cpp can load too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/dtype.h"
#include "core/status.h"
#include "gguf/gguf.h"

namespace vatp::model {

struct SynthSpec {
  std::string arch = "llama";  // llama | qwen2
  int layers = 2;
  int dim = 256;
  int heads = 4;
  int kv_heads = 2;
  int ff = 512;
  int head_dim = 0;  // 0: dim / heads
  int ctx = 4096;
  DType type = DType::Q4_0;
  float rope_base = 10000.0f;
  bool tied = false;
  uint64_t seed = 1;
};

// Named shapes: tiny, smollm2-135m, llama2-7b, qwen2-0.5b.
Status apply_shape(std::string_view name, SynthSpec* spec);
Status validate(const SynthSpec& spec);
// Writes the model; vocab_from supplies every tokenizer.* key (and the vocab size).
Status synth_write(const SynthSpec& spec, const gguf::GgufFile& vocab_from, const std::string& out_path);

}  // namespace vatp::model
