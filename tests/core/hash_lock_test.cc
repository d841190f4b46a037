// XXH64 against the reference library's values, and the directory lock.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/dir_lock.h"
#include "core/hash.h"

namespace vatp {
namespace {

// Values from libxxhash 0.8.1 (XXH64 via ctypes), seeds 0 and 42.
TEST(Xxh64, MatchesTheReferenceImplementation) {
  EXPECT_EQ(xxh64(""), 0xef46db3751d8e999ull);
  EXPECT_EQ(xxh64("", 42), 0x98b1582b0977e704ull);
  EXPECT_EQ(xxh64("a"), 0xd24ec4f1a98c6e5bull);
  EXPECT_EQ(xxh64("abc"), 0x44bc2cf5ad770999ull);
  EXPECT_EQ(xxh64("abc", 42), 0x13c1d910702770e6ull);
  EXPECT_EQ(xxh64("0123456789abcdef0123456789abcdef"), 0x642a94958e71e6c5ull);  // one stripe
  EXPECT_EQ(xxh64("The quick brown fox jumps over the lazy dog"), 0x0b242d361fda71bcull);
  std::string big;
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 256; ++i) big.push_back(static_cast<char>(i));
  big += "xyz";  // 1027 bytes: stripes, 8-, 4- and 1-byte tails
  EXPECT_EQ(xxh64(big), 0xe146cb31b65bc21aull);
  EXPECT_EQ(xxh64(big, 42), 0xcb25afedc7007664ull);
  EXPECT_EQ(hex64(0xef46db3751d8e999ull), "ef46db3751d8e999");
}

TEST(Xxh64, FileDigestNamesHashAndSize) {
  const auto path = std::filesystem::temp_directory_path() / ("vatp_digest_" + std::to_string(getpid()));
  std::ofstream(path, std::ios::binary) << "abc";
  auto d = file_digest(path.string());
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  EXPECT_EQ(*d, "xxh64 44bc2cf5ad770999, 3 bytes");
  std::filesystem::remove(path);
  EXPECT_FALSE(file_digest(path.string()).is_ok());
}

TEST(DirLock, SecondHolderIsRefusedUntilTheFirstLetsGo) {
  const auto dir = std::filesystem::temp_directory_path() / ("vatp_lock_" + std::to_string(getpid())) / "out";
  std::filesystem::remove_all(dir.parent_path());
  {
    auto first = DirLock::acquire(dir.string());
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    EXPECT_TRUE(std::filesystem::is_directory(dir));
    // flock locks belong to the open file, so a second open in this process conflicts too.
    auto second = DirLock::acquire(dir.string());
    ASSERT_FALSE(second.is_ok());
    EXPECT_EQ(second.status().message(), dir.string() + " is in use by another vatp (pid " +
                                             std::to_string(getpid()) + "), which holds " +
                                             (dir / ".vatp.lock").string() +
                                             "; wait for it to finish or use another output directory");
    DirLock moved = std::move(*first);  // the lock moves with the object
    EXPECT_FALSE(DirLock::acquire(dir.string()).is_ok());
  }
  EXPECT_TRUE(DirLock::acquire(dir.string()).is_ok());
  std::filesystem::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace vatp
