// An exclusive lock on a directory for as long as one process writes results into it:
// flock(2) on DIR/.vatp.lock. A second process (a second vatp on the same -o) is refused
// at once instead of running everything a second time into the same files. The kernel
// drops the lock when the process exits, however it exits, so a crash leaves no stale
// lock; the lock file itself stays (removing it would race with a process locking it).
#pragma once

#include <string>

#include "core/status.h"

namespace vatp {

class DirLock {
 public:
  // Creates `dir` if needed and locks it; an error naming the directory (and the pid
  // that holds it) when another process has it.
  static Result<DirLock> acquire(const std::string& dir);

  DirLock() = default;
  DirLock(DirLock&& other) noexcept;
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

  const std::string& dir() const { return dir_; }

 private:
  int fd_ = -1;
  std::string dir_;
};

}  // namespace vatp
