// The structure a region view imposes (PROTOCOL.md §1, §5): with N members and replication R,
// P = max(1, N div R) partitions; member i (in view order) is in partition i mod P at position
// i div P. Each partition's ring runs in position order; the region ring runs over the partition
// leaders (position 0) in partition order; member 0 is the region leader. Message s is cached by
// partition (s - 1) mod P.
// Threading: immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/wire/packets.h"

namespace qsm {

class RegionLayout {
 public:
  // Requires `self` to be a member of `view` and replication >= 1.
  RegionLayout(const wire::RegionView& view, size_t replication, wire::NodeId self);
  // The layout if `self` is in `view`, else nullopt.
  static std::optional<RegionLayout> For(const wire::RegionView& view, size_t replication, wire::NodeId self);

  const wire::RegionView& view() const { return view_; }
  size_t size() const { return view_.members.size(); }
  size_t partitions() const { return partitions_; }

  size_t self_index() const { return self_; }
  size_t partition_of(size_t index) const { return index % partitions_; }
  size_t position_of(size_t index) const { return index / partitions_; }
  size_t my_partition() const { return partition_of(self_); }
  bool is_region_leader() const { return self_ == 0; }
  bool is_partition_leader() const { return position_of(self_) == 0; }

  // Members of partition p, in ring order (position 0 first).
  size_t partition_size(size_t p) const;
  size_t member_at(size_t partition, size_t position) const { return position * partitions_ + partition; }
  // The member after `index` in its partition ring (wrapping to position 0).
  size_t successor_in_partition(size_t index) const;
  // The leader of the partition after p, or of partition 0 after the last.
  size_t next_partition_leader(size_t p) const { return member_at((p + 1) % partitions_, 0); }

  size_t caching_partition(uint64_t seq) const { return static_cast<size_t>((seq - 1) % partitions_); }
  bool i_cache(uint64_t seq) const { return caching_partition(seq) == my_partition(); }

  const wire::Member& member(size_t index) const { return view_.members[index]; }
  std::optional<size_t> IndexOf(wire::NodeId node) const;
  // The member at `endpoint` (O(members)).
  std::optional<size_t> IndexOfEndpoint(const Endpoint& endpoint) const;

 private:
  wire::RegionView view_;
  size_t partitions_;
  size_t self_;
};

}  // namespace qsm
