// Small text helpers shared by the harness. Threading: none.
#pragma once

#include <string>
#include <string_view>

namespace qsm::harness {

// Appends `item` to a `separator`-separated list held in `list`.
inline void Append(std::string& list, std::string_view item, std::string_view separator) {
  if (!list.empty()) list += separator;
  list += item;
}

}  // namespace qsm::harness
