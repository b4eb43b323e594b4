// Reading JSON objects field by field with errors that name the field ("plan: 'rate': must be a
// number"). Shared by the node plan and node result readers. Threading: none.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/core/status.h"

namespace qsm::harness {

class JsonFields {
 public:
  // `what` prefixes every error ("plan", "node result").
  JsonFields(const nlohmann::json& object, std::string what) : object_(object), what_(std::move(what)) {}

  // Reads `key` into `out`. Missing: an error if `required`, else `out` is left as it is.
  template <typename T>
  Status Read(const char* key, T& out, bool required = true) const {
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (!required) return {};
      return MakeError(ErrorCode::kInvalidArgument, what_ + ": '" + key + "' is missing");
    }
    try {
      out = it->template get<T>();
    } catch (const nlohmann::json::exception& e) {
      return MakeError(ErrorCode::kInvalidArgument, what_ + ": '" + key + "': " + e.what());
    }
    return {};
  }
  const nlohmann::json* Find(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  Error Fail(const std::string& message) const {
    return Error{ErrorCode::kInvalidArgument, what_ + ": " + message};
  }

 private:
  const nlohmann::json& object_;
  std::string what_;
};

// Parses text as a JSON object.
inline Result<nlohmann::json> ParseJsonObject(const std::string& text, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return MakeError(ErrorCode::kInvalidArgument, what + ": not valid JSON");
  if (!j.is_object()) return MakeError(ErrorCode::kInvalidArgument, what + ": not a JSON object");
  return j;
}

}  // namespace qsm::harness
