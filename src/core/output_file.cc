#include "core/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace vatp {
namespace {

std::string os_error(int err) { return std::strerror(err); }

// The folder a relative or absolute file path lives in ("." for a bare name).
std::string parent_of(const std::string& path) {
  const std::filesystem::path p = std::filesystem::path(path).parent_path();
  return p.empty() ? "." : p.string();
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error("writing " + path + ": " + os_error(n < 0 ? errno : ENOSPC));
    done += static_cast<size_t>(n);
  }
  return Status::ok();
}

// A device or FIFO: written in place; fsync does not apply to it (EINVAL).
Status write_in_place(const std::string& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return io_error("cannot open " + path + " for writing: " + os_error(errno));
  Status st = write_all(fd, data, path);
  if (::close(fd) != 0 && st.is_ok()) st = io_error("writing " + path + ": " + os_error(errno));
  return st;
}

}  // namespace

Status check_output_path(const std::string& flag, const std::string& path) {
  if (path.empty()) return invalid_argument(flag + " needs a file name, got an empty string");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return invalid_argument(flag + " " + path + " is a directory");
    return Status::ok();
  }
  const std::string dir = parent_of(path);
  if (::stat(dir.c_str(), &st) != 0)
    return not_found(flag + " " + path + ": folder " + dir + ": " + os_error(errno));
  if (!S_ISDIR(st.st_mode)) return invalid_argument(flag + " " + path + ": " + dir + " is not a directory");
  if (::access(dir.c_str(), W_OK) != 0)
    return io_error(flag + " " + path + ": " + dir + ": " + os_error(errno));
  return Status::ok();
}

Status check_output_dir(const std::string& flag, const std::string& dir) {
  if (dir.empty()) return invalid_argument(flag + " needs a folder name, got an empty string");
  // The folder is created with its missing parents; the nearest existing one must be a
  // writable directory (catches `-o file.txt/sub` and read-only places up front).
  std::filesystem::path p = std::filesystem::absolute(dir).lexically_normal();
  struct stat st {};
  while (::stat(p.c_str(), &st) != 0) {
    if (!p.has_parent_path() || p.parent_path() == p)
      return not_found(flag + " " + dir + ": no existing parent");
    p = p.parent_path();
  }
  if (!S_ISDIR(st.st_mode))
    return invalid_argument(flag + " " + dir + ": " + p.string() + " is not a directory");
  if (::access(p.c_str(), W_OK) != 0)
    return io_error(flag + " " + dir + ": " + p.string() + ": " + os_error(errno));
  return Status::ok();
}

Status write_file_atomic(const std::string& path, std::string_view data) {
  // No check_output_path here: a missing folder is an I/O error at write time (mkstemp).
  if (path.empty()) return invalid_argument("cannot write a file with an empty name");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return write_in_place(path, data);
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return io_error("cannot create a temporary file next to " + path + ": " + os_error(errno));
  Status s = write_all(fd, data, path);
  // fsync: a full disk on NFS or with delayed allocation can show up only here.
  if (s.is_ok() && ::fsync(fd) != 0) s = io_error("writing " + path + ": " + os_error(errno));
  // mkstemp makes the file 0600; give it the permissions a plain create would.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (s.is_ok() && ::fchmod(fd, 0666 & ~mask) != 0) s = io_error("chmod " + tmp + ": " + os_error(errno));
  if (::close(fd) != 0 && s.is_ok()) s = io_error("writing " + path + ": " + os_error(errno));
  if (s.is_ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    s = io_error("cannot rename " + tmp + " to " + path + ": " + os_error(errno));
  if (!s.is_ok()) ::unlink(tmp.c_str());
  return s;
}

Status check_stdout() {
  errno = 0;
  const bool flush_failed = std::fflush(stdout) != 0;
  const int err = errno;
  if (!flush_failed && std::ferror(stdout) == 0) return Status::ok();
  return io_error("writing stdout: " + (err != 0 ? os_error(err) : std::string("write error")));
}

}  // namespace vatp
