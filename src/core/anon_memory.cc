#include "core/anon_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace vatp {

Result<AnonMemory> AnonMemory::allocate(size_t bytes) {
  AnonMemory m;
  if (bytes == 0) return m;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return io_error("cannot allocate " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
  }
#ifdef MADV_HUGEPAGE
  ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint; failure only costs page faults
#endif
  m.data_ = static_cast<uint8_t*>(p);
  m.size_ = bytes;
  return m;
}

AnonMemory::AnonMemory(AnonMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

AnonMemory& AnonMemory::operator=(AnonMemory&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

AnonMemory::~AnonMemory() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace vatp
