#include "engine/region/seq_ranges.h"

#include <algorithm>
#include <cstdint>

namespace qsm {

std::vector<wire::SeqRange> Intersect(const std::vector<wire::SeqRange>& a, const std::vector<wire::SeqRange>& b,
                                      size_t max_ranges) {
  std::vector<wire::SeqRange> out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size() && out.size() < max_ranges) {
    const uint64_t first = std::max(a[i].first, b[j].first);
    const uint64_t last = std::min(a[i].last, b[j].last);
    if (first <= last) out.push_back({first, last});
    (a[i].last < b[j].last) ? ++i : ++j;
  }
  return out;
}

std::vector<wire::SeqRange> CachedBy(const std::vector<wire::SeqRange>& ranges, size_t p, size_t parts,
                                     size_t max_ranges) {
  std::vector<wire::SeqRange> out;
  for (const auto& r : ranges) {
    if (out.size() >= max_ranges) break;
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
    for (uint64_t s = first; s <= r.last && out.size() < max_ranges; s += n) out.push_back({s, s});
  }
  return out;
}

size_t FitToken(wire::TokenPacket& token, size_t max_bytes, size_t min_ranges) {
  size_t size = wire::EncodedTokenSize(token);
  // Halve the longest lists until the token fits or every list is down to min_ranges.
  while (size > max_bytes) {
    size_t longest = 0;
    for (const auto& r : token.records) longest = std::max({longest, r.missing_all.size(), r.pred_missing.size()});
    if (longest <= min_ranges) break;
    const size_t cap = std::max(min_ranges, longest / 2);
    for (auto& r : token.records) {
      for (auto* list : {&r.missing_all, &r.pred_missing}) {
        if (list->size() > cap) {
          size -= (list->size() - cap) * wire::kRangeBytes;
          list->resize(cap);
        }
      }
    }
  }
  size_t dropped = 0;
  while (size > max_bytes && !token.records.empty()) {
    size -= wire::EncodedSize(token.records.back());
    token.records.pop_back();
    ++dropped;
  }
  return dropped;
}

}  // namespace qsm
