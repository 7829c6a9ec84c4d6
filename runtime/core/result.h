#pragma once
// Result<T>: a value or an Error, for failures a caller is expected to handle (ccache's
// tl::expected habit, without the dependency). Plain value type.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ticketctl {

// Kubernetes' reasons, so the API layer can map them to Status objects one to one.
enum class ErrorCode { NotFound, AlreadyExists, Conflict, Invalid, Internal };

struct Error {
  ErrorCode code = ErrorCode::Internal;
  std::string message;
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const {
    assert(ok());
    return std::get<0>(v_);
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

}  // namespace ticketctl
