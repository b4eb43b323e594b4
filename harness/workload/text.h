// Small text and text-file helpers shared by the harness and the node's plan/result files.
// Threading: none.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "engine/core/status.h"

namespace qsm::harness {

// Appends `item` to a `separator`-separated list held in `list`.
inline void Append(std::string& list, std::string_view item, std::string_view separator) {
  if (!list.empty()) list += separator;
  list += item;
}

// The whole file; the error names it.
inline Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return MakeError(ErrorCode::kInvalidArgument, path + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Replaces `path` with `text` atomically (written beside it, then renamed), so a reader never sees
// half a file - a node killed while writing its result leaves the old file or none.
inline Status WriteFile(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  const bool written = f != nullptr && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (f != nullptr && std::fclose(f) != 0)
    return MakeError(ErrorCode::kIo, "cannot write " + path + ": " + std::strerror(errno));
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    return MakeError(ErrorCode::kIo, "cannot write " + path + ": " + reason);
  }
  return {};
}

}  // namespace qsm::harness
