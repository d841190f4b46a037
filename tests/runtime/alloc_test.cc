// The decode path does not allocate: after a few warm-up steps, decode_step (forward
// pass, statistics, eviction plan and apply) and sampling make no heap allocation,
// with the full cache and with evicting policies. Counted by replacing the global
// operator new in this test binary (test instrumentation only).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "policy/flags.h"
#include "runtime/session.h"
#include "runtime_test_util.h"

namespace {
std::atomic<int64_t> g_news{0};
}  // namespace

// AddressSanitizer owns the global operator new/delete (and checks that they pair);
// replacing some of them there makes it report mismatches inside the standard library.
// The sanitizer pass therefore skips this test; the Release pass runs it.
#if defined(__SANITIZE_ADDRESS__)
#define VATP_COUNT_NEW 0
#else
#define VATP_COUNT_NEW 1
#endif

#if VATP_COUNT_NEW
void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC cannot see that these pair with the malloc-based operator new above.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace vatp::runtime {
namespace {

TEST(DecodeAllocations, NoneAfterWarmUp) {
  if (!VATP_COUNT_NEW)
    GTEST_SKIP() << "operator new is AddressSanitizer's in this build; the Release pass counts";
  const std::string path = test_model_path();
  if (path.empty()) GTEST_SKIP() << "SmolLM2 GGUF not found (set VATP_MODEL or run scripts/fetch-model)";
  const kernels::KernelTable kt = kernels::make_kernel_table(kernels::detect_isa());
  auto m = model::Model::load(path, kt);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  auto tok = tokenizer::Tokenizer::from_gguf((*m)->gguf());
  ASSERT_TRUE(tok.is_ok());
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = tok->encode(
      "A long time ago, in a small village by the sea, there lived an old fisherman who every morning", true,
      false);
  struct Case {
    const char* policy;
    const char* budget;
    const char* group;
  };
  for (const Case& c :
       {Case{"full", "1", "sum"}, Case{"h2o", "12", "sum"}, Case{"vatp", "24", "sum"},
        Case{"tova", "12", "sum"}, Case{"snapkv", "12", "max"}, Case{"scissorhands", "16", "sum"}}) {
    SCOPED_TRACE(c.policy);
    policy::PolicyFlags f;
    f.policy = c.policy;
    if (std::string(c.policy) != "full") f.budget = c.budget, f.group = c.group;
    if (std::string(c.policy) == "vatp") f.sinks = "4";
    if (std::string(c.policy) == "snapkv") f.recent = "4", f.window = "8";
    if (std::string(c.policy) == "scissorhands") f.window = "8";
    auto pol = policy::config_from_flags(f);
    ASSERT_TRUE(pol.is_ok()) << pol.status().to_string();
    SessionOptions o;
    o.n_ctx = 256;
    o.n_batch = 64;
    o.kv_policy = *pol;
    auto s = Session::create(**m, *tok, pool, o);
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    Session& se = **s;
    const int64_t at_setup = g_news.load();
    ASSERT_TRUE(se.begin_policy(static_cast<int64_t>(prompt.size())).is_ok());
    if (std::string(c.policy) != "full") {
      EXPECT_GT(g_news.load(), at_setup);  // the counter works: the budget-sized cache was allocated
    }
    ASSERT_TRUE(se.prefill(prompt).is_ok());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(se.decode_step(se.sample_next()).is_ok());  // warm-up
    const int64_t before = g_news.load();
    for (int i = 0; i < 24; ++i) ASSERT_TRUE(se.decode_step(se.sample_next()).is_ok());
    EXPECT_EQ(g_news.load() - before, 0) << "heap allocations in 24 decode steps";
    if (std::string(c.policy) != "full") {
      EXPECT_GT(se.stats().tokens_evicted, 0);
    }
  }
}

}  // namespace
}  // namespace vatp::runtime
