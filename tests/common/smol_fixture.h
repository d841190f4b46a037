// A gtest fixture that loads the default model (SmolLM2), its tokenizer and a 2-thread
// pool once per test suite; every test of the suite skips, saying why, when the model
// file is absent. Derive a suite from it and add the suite's helpers.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/model_path.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace vatp::testing_util {

class SmolModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = default_model_path();
    if (!std::filesystem::exists(path)) return;
    kt_ = new kernels::KernelTable(kernels::make_kernel_table(kernels::detect_isa()));
    auto m = model::Model::load(path, *kt_);
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    model_ = std::move(*m).release();
    auto t = tokenizer::Tokenizer::from_gguf(model_->gguf());
    ASSERT_TRUE(t.is_ok()) << t.status().to_string();
    tok_ = new tokenizer::Tokenizer(std::move(*t));
    pool_ = new ThreadPool(2);
  }
  static void TearDownTestSuite() {
    delete pool_;
    delete tok_;
    delete model_;
    delete kt_;
    pool_ = nullptr, tok_ = nullptr, model_ = nullptr, kt_ = nullptr;
  }
  void SetUp() override {
    if (model_ == nullptr) {
      GTEST_SKIP() << "SmolLM2 GGUF not found at " << default_model_path()
                   << " (set VATP_MODEL or run scripts/fetch-model.sh)";
    }
  }

  static inline kernels::KernelTable* kt_ = nullptr;
  static inline model::Model* model_ = nullptr;
  static inline tokenizer::Tokenizer* tok_ = nullptr;
  static inline ThreadPool* pool_ = nullptr;
};

}  // namespace vatp::testing_util
