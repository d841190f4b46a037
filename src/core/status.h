// Errors as values: Status and Result<T> for everything caused by input (files,
// metadata, prompts, flags). Broken invariants use VATP_CHECK (check.h) instead.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace vatp {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // bad flag, bad setting, bad request
  kNotFound,           // missing file, key or tensor
  kDataLoss,           // malformed or truncated file
  kUnimplemented,      // a valid but unsupported feature (type, architecture)
  kOutOfRange,         // prompt longer than the context, index past the end
  kIoError,            // the OS said no
  kResourceExhausted,  // no room now (a full queue, a memory limit); may succeed later
  kInternal,
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code>: <message>", for logs and CLI errors.
  std::string to_string() const;
  // Prepends context ("loading blk.3.attn_q.weight: ...") to an error; ok stays ok.
  Status with_context(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status io_error(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T> holds either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).is_ok()) v_ = Status(StatusCode::kInternal, "Result built from an ok Status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace vatp

#define VATP_CONCAT_INNER_(a, b) a##b
#define VATP_CONCAT_(a, b) VATP_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` (a Status) is not ok.
#define VATP_RETURN_IF_ERROR(expr)                  \
  do {                                              \
    ::vatp::Status vatp_status_ = (expr);           \
    if (!vatp_status_.is_ok()) return vatp_status_; \
  } while (0)

// `VATP_ASSIGN_OR_RETURN(auto x, make_x());` unwraps a Result or returns its Status.
#define VATP_ASSIGN_OR_RETURN(lhs, expr) \
  VATP_ASSIGN_OR_RETURN_IMPL_(VATP_CONCAT_(vatp_result_, __LINE__), lhs, expr)
#define VATP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.is_ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
