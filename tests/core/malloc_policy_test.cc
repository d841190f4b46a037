// keep_large_blocks_in_own_mappings: after a large block was freed (which makes glibc
// raise its dynamic mmap threshold), a block of a few megabytes is still its own
// mapping, so freeing it returns the memory to the OS.
#include "core/malloc_policy.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace vatp {
namespace {

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
// Called through volatile pointers so the compiler cannot elide the allocations.
void* (*volatile alloc)(size_t) = std::malloc;
void (*volatile release)(void*) = std::free;

TEST(MallocPolicy, MegabyteBlocksStayInTheirOwnMappings) {
  keep_large_blocks_in_own_mappings();
  // Freeing a 16 MiB mapping makes glibc's dynamic threshold 16 MiB: without the fixed
  // threshold the 3 MiB block below would come from the heap (measured: hblks unchanged).
  void* big = alloc(16u << 20);
  ASSERT_NE(big, nullptr);
  std::memset(big, 1, 4096);
  release(big);
  const size_t before = mallinfo2().hblks;
  void* p = alloc(3u << 20);
  ASSERT_NE(p, nullptr);
  std::memset(p, 2, 4096);
  EXPECT_EQ(mallinfo2().hblks, before + 1);
  release(p);
  EXPECT_EQ(mallinfo2().hblks, before);
}
#endif

}  // namespace
}  // namespace vatp
