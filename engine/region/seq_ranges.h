// Operations on lists of sequence-number ranges (sorted, non-overlapping, inclusive), as tokens,
// NAKs and pull requests carry them. Pure functions.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/wire/packets.h"

namespace qsm {

// The ranges in both `a` and `b`.
std::vector<wire::SeqRange> Intersect(const std::vector<wire::SeqRange>& a, const std::vector<wire::SeqRange>& b);

// The parts of `ranges` cached by partition `p` of `parts` (message s is cached by partition
// (s - 1) mod parts). Short ranges give exact single seqs; a range longer than 4 x parts gives the
// covering range from its first seq partition p caches (a partition that lost that much means the
// whole region lost it, so little is asked for in vain). At most wire::kMaxNakRanges ranges.
std::vector<wire::SeqRange> CachedBy(const std::vector<wire::SeqRange>& ranges, size_t p, size_t parts);

}  // namespace qsm
