#include "cli/cli_checks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <thread>

namespace vatp::cli {

Result<std::string> read_input_file(const std::string& flag, const std::string& path) {
  if (path.empty()) return invalid_argument(flag + " needs a file name, got an empty string");
  // stat before open: opening a FIFO blocks, and a device has no size.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return not_found(flag + " " + path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return invalid_argument(flag + " " + path + " is a directory");
  if (!S_ISREG(st.st_mode)) return invalid_argument(flag + " " + path + " is not a regular file");
  if (st.st_size == 0) return invalid_argument(flag + " " + path + " is empty");
  if (static_cast<uint64_t>(st.st_size) > kMaxInputFileBytes) {
    return invalid_argument(flag + " " + path + " is " +
                            runtime::format_bytes(static_cast<uint64_t>(st.st_size)) +
                            "; input files are limited to " + runtime::format_bytes(kMaxInputFileBytes));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return io_error("cannot open " + path + ": " + std::strerror(errno));
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return io_error("reading " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;  // shrank while reading: use what is there
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  return text;
}

Result<int> resolve_threads(int threads, bool given) {
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (!given) return hw;
  if (threads < 1) return invalid_argument("-t must be >= 1, got " + std::to_string(threads));
  if (threads > kMaxThreadsPerCore * hw) {
    return invalid_argument("-t " + std::to_string(threads) + " is more than " +
                            std::to_string(kMaxThreadsPerCore) + " x the " + std::to_string(hw) +
                            " hardware threads (at most " + std::to_string(kMaxThreadsPerCore * hw) + ")");
  }
  return threads;
}

const CLI::Validator& seed_validator() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        uint64_t x = 0;
        const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
        if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
          return "a seed is an integer in 0..18446744073709551615, got '" + s + "'";
        return "";
      },
      "UINT64");
  return v;
}

void add_max_memory_flag(CLI::App* cmd, std::string& dst) {
  cmd->add_option("--max-memory", dst,
                  "Refuse to start when the KV cache, scratch and logits would exceed SIZE (e.g. 8G); "
                  "default: the available memory (MemAvailable)");
}

Result<std::optional<uint64_t>> memory_limit(const std::string& flag_text) {
  if (flag_text.empty()) return std::optional<uint64_t>{};
  VATP_ASSIGN_OR_RETURN(const uint64_t v, runtime::parse_byte_size(flag_text));
  return std::optional<uint64_t>(v);
}

void warn_beyond_training_context(const std::string& what, int64_t n, const model::ModelConfig& c) {
  if (n > c.n_ctx_train) {
    std::fprintf(stderr, "warning: %s %lld exceeds the model's training context %d\n", what.c_str(),
                 static_cast<long long>(n), c.n_ctx_train);
  }
}

}  // namespace vatp::cli
