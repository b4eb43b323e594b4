// Expected failures are values: Result<T> = std::expected<T, Error> (STYLE rule 6). Nothing in the
// engine throws on the hot path; invariant violations use QSM_CHECK instead.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace qsm {

enum class ErrorCode {
  kInvalidArgument,  // the caller passed something unusable (bad flag, bad address, bad config)
  kIo,               // the operating system refused an operation
  kWouldBlock,       // try again when the resource is ready
  kNotFound,
  kMalformed,    // bytes that do not decode
  kUnavailable,  // a resource is exhausted or not there yet
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;

  std::string ToString() const;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = Result<void>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace qsm
