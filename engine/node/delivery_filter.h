// DeliveryFilter: the node's last step before the application (PROTOCOL.md §4). It knows the
// groups the node joined (ordered or unordered) and delivers each (sender, group, group seq) at
// most once: an ordered group's stream must rise (re-sends after a view change are dropped as
// duplicates; a jump is counted as a delivery gap), an unordered group's seqs are kept in a
// window. State exists only per (sender, joined group). A catch-up copy (wire::DataPacket) is for
// members that moved from another region of the group, not for one that joined in its view.
// Threading: core thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "engine/core/counters.h"
#include "engine/region/receive_window.h"
#include "engine/wire/packets.h"

namespace qsm {

class DeliveryFilter {
 public:
  // `counters` must outlive this.
  explicit DeliveryFilter(Counters& counters) : counters_(counters) {}

  void Join(wire::GroupId group, bool unordered) { joined_[group] = Membership{.unordered = unordered}; }
  // Forgets the group and what was delivered of it: a later Join starts its streams afresh.
  void Leave(wire::GroupId group);
  bool joined(wire::GroupId group) const { return joined_.contains(group); }
  // Whether `group` is joined as unordered (delivered on first receipt).
  bool unordered(wire::GroupId group) const;
  std::vector<wire::GroupId> groups() const;
  size_t group_count() const { return joined_.size(); }

  // Whether message `group_seq` of `sender` to `group` goes to the application now: the group is
  // joined and the message was not delivered before (duplicates are counted as kDuplicatesDropped).
  bool Admit(wire::NodeId sender, wire::GroupId group, uint64_t group_seq);
  // The same for message `m` of `sender`, which is not admitted either if it is a catch-up copy
  // not for this node (SkipsCatchUp; counted as kCatchUpSkipped).
  bool Admit(wire::NodeId sender, const wire::DataPacket& m);

  // The node's own region view `rvid` serves `group`. The first such view since Join(group) is the
  // one in which the node entered the group's regions; later calls change nothing.
  void EnteredRegion(wire::GroupId group, wire::RegionViewId rvid);
  // Whether a catch-up copy of a message to `group` sent in region view `rvid` is not for this
  // node: the node entered the group's regions in that very view (it joined the group there), or
  // has not entered them yet.
  bool SkipsCatchUp(wire::GroupId group, wire::RegionViewId rvid) const;

  // Unordered: a seq more than this far below the highest delivered counts as delivered, and at
  // most half as far once the window slides (a sender's pending window is far smaller, so no
  // message that is new gets there).
  static constexpr uint64_t kUnorderedSpan = ReceiveWindow::kMaxSpan / 2;

 private:
  struct Stream {
    uint64_t last = 0;                    // ordered: highest group seq delivered (0: none yet)
    std::unique_ptr<ReceiveWindow> seen;  // unordered: every group seq delivered
  };
  static uint64_t KeyOf(wire::NodeId sender, wire::GroupId group) { return (uint64_t{sender} << 32) | group; }

  struct Membership {
    bool unordered = false;
    std::optional<wire::RegionViewId> entered;  // see EnteredRegion
  };

  Counters& counters_;
  std::unordered_map<wire::GroupId, Membership> joined_;
  std::unordered_map<uint64_t, Stream> streams_;    // by KeyOf(sender, group)
};

}  // namespace qsm
