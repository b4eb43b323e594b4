// Operations on lists of sequence-number ranges (sorted, non-overlapping, inclusive), as tokens,
// NAKs and pull requests carry them. Pure functions.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/wire/packets.h"

namespace qsm {

// The ranges in both `a` and `b`, the lowest `max_ranges` of them. (Two lists of n ranges can
// intersect in 2n - 1: without the cap a token's missing list would outgrow its wire bound.)
std::vector<wire::SeqRange> Intersect(const std::vector<wire::SeqRange>& a, const std::vector<wire::SeqRange>& b,
                                      size_t max_ranges = wire::kMaxRanges);

// The parts of `ranges` cached by partition `p` of `parts` (message s is cached by partition
// (s - 1) mod parts). Short ranges give exact single seqs; a range longer than 4 x parts gives the
// covering range from its first seq partition p caches (a partition that lost that much means the
// whole region lost it, so little is asked for in vain). At most `max_ranges` ranges, the lowest.
std::vector<wire::SeqRange> CachedBy(const std::vector<wire::SeqRange>& ranges, size_t p, size_t parts,
                                     size_t max_ranges = wire::kMaxRanges);

// Bounds a token to `max_bytes` encoded (header included). First the range lists of its records
// are shortened, longest first, down to `min_ranges` each (the highest ranges go: they are asked
// for again in a later round); then records are dropped from the back (carried in a later round: a
// record missing from part of a round claims nothing, see region_member.h). Returns the number of
// records dropped.
size_t FitToken(wire::TokenPacket& token, size_t max_bytes, size_t min_ranges = 4);

}  // namespace qsm
