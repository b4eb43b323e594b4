#include "engine/core/status.h"

namespace qsm {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kIo:
      return "I/O error";
    case ErrorCode::kWouldBlock:
      return "would block";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kUnavailable:
      return "unavailable";
  }
  return "unknown error";
}

std::string Error::ToString() const {
  std::string out(ErrorCodeName(code));
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

}  // namespace qsm
