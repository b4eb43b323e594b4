#include "engine/region/seq_ranges.h"

#include <algorithm>
#include <cstdint>

namespace qsm {

std::vector<wire::SeqRange> Intersect(const std::vector<wire::SeqRange>& a, const std::vector<wire::SeqRange>& b) {
  std::vector<wire::SeqRange> out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const uint64_t first = std::max(a[i].first, b[j].first);
    const uint64_t last = std::min(a[i].last, b[j].last);
    if (first <= last) out.push_back({first, last});
    (a[i].last < b[j].last) ? ++i : ++j;
  }
  return out;
}

std::vector<wire::SeqRange> CachedBy(const std::vector<wire::SeqRange>& ranges, size_t p, size_t parts) {
  std::vector<wire::SeqRange> out;
  for (const auto& r : ranges) {
    if (out.size() >= wire::kMaxNakRanges) break;
    if (parts == 1) {
      out.push_back(r);
      continue;
    }
    const uint64_t n = parts;
    const uint64_t first = r.first + (p + n - (r.first - 1) % n) % n;
    if (first > r.last) continue;
    if (r.last - r.first + 1 > 4 * n) {
      out.push_back({first, r.last});
      continue;
    }
    for (uint64_t s = first; s <= r.last && out.size() < wire::kMaxNakRanges; s += n) out.push_back({s, s});
  }
  return out;
}

}  // namespace qsm
