// A private anonymous memory region for large long-lived buffers (repacked weights):
// page-aligned, backed by transparent huge pages where the kernel allows (fewer page
// faults when it is first written). Move-only; unmapped on destruction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"

namespace vatp {

class AnonMemory {
 public:
  static Result<AnonMemory> allocate(size_t bytes);

  AnonMemory() = default;
  AnonMemory(AnonMemory&& other) noexcept;
  AnonMemory& operator=(AnonMemory&& other) noexcept;
  AnonMemory(const AnonMemory&) = delete;
  AnonMemory& operator=(const AnonMemory&) = delete;
  ~AnonMemory();

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vatp
