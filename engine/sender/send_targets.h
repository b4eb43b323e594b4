// SendTargets: the group -> region fan-out of one sending node (PROTOCOL.md §3). It keeps one
// RegionSender per region the node sends to (a *target*), follows each target region's views,
// knows which regions each group spans, numbers each group's messages (group sequence numbers,
// from 1, surviving view changes), and assigns a message to every region of its group.
//
// Membership is static (every group goes to one region: SendEveryGroupTo) or comes from group
// views (SetGroupRegions). A message is pending until every region it was assigned to has
// acknowledged it; back-pressure is "some region of the group has no room".
// Threading: core thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "engine/core/counters.h"
#include "engine/core/endpoint.h"
#include "engine/core/time.h"
#include "engine/sender/region_sender.h"
#include "engine/wire/packets.h"

namespace qsm {

// The sending side of one region's current view.
struct SendTarget {
  RegionSender sender;
  Endpoint multicast;
  std::vector<wire::Member> members;  // the region view's, in view order: the first is its leader
  TimePoint suspended_until{};    // no new data before this (a view that added members)
  TimePoint last_ack_progress{};  // for the tail probe
};

class SendTargets {
 public:
  using Map = std::map<uint32_t, SendTarget>;  // by region id

  // `counters` must outlive this.
  SendTargets(SenderWindow window, Duration view_change_suspend, Counters& counters);

  // Static membership: every group goes to `region` (nullopt: group views decide).
  void SendEveryGroupTo(std::optional<uint32_t> region) { every_group_to_ = region; }
  // From a group view: the regions `group` spans now; empty forgets the group. A region new to
  // the group gets, before any new message, a copy of every message of the group still pending in
  // its other regions (at once, or when its target is created): a member that moved there from
  // another region of the group (its groups changed) may not have delivered them, and receivers
  // drop the copies they did deliver (same group seqs).
  void SetGroupRegions(wire::GroupId group, std::vector<uint32_t> regions);
  // The regions messages to `group` go to now (empty: not known yet).
  std::vector<uint32_t> RegionsOf(wire::GroupId group) const;
  // Whether `region` is one of RegionsOf(group).
  bool Spans(wire::GroupId group, uint32_t region) const;
  // The members of the current views of those regions that have a target yet, sorted, without
  // repeats: the nodes a message to `group` sent now is for.
  std::vector<wire::NodeId> MembersOf(wire::GroupId group) const;
  // Whether messages of some group go to `region`.
  bool Named(uint32_t region) const;

  // Follows a view of region `view.id.region`. An existing target moves to a newer view and
  // re-sends, in order, what the old view did not acknowledge; if the view adds members, it first
  // sends them what other regions of its groups still hold (a member may come from one of them),
  // and new data waits `view_change_suspend` (counted as kSendSuspended). A missing target is created only if
  // `create`. A view without members (the region is gone) drops the target.
  // Members that leave a region view (or whose region is gone) may not have what it had pending
  // (sent before they joined its address, say), and the view that moves them into another region
  // of the same groups may come later in the same GMS update (or in the snapshot that repairs a
  // lost part of it): copies of those messages are kept until the update is applied whole with
  // nothing missing before it (ForgetDeparted), and a view that adds one of those departed members
  // gets them too, marked catch_up so that a joiner added in the same view skips them (for it they
  // would be a stretch followed by a gap). Static membership (one region) keeps none.
  // Returns true if a target was created or changed (the pump has something to look at).
  bool Follow(const wire::RegionView& view, bool create, TimePoint now);
  // Drops the targets that no group names and that hold nothing pending, except `keep`.
  void ForgetUnused(std::optional<uint32_t> keep);
  // The GMS update that removed members from views, and every update before it, has been applied
  // whole (membership::ViewListener::OnUpdateComplete): drops the copies kept for them.
  void ForgetDeparted() { departed_.clear(); }

  // Whether the regions of `group` are known and every one is a target with room for `bytes` more.
  bool CanTake(wire::GroupId group, size_t bytes) const;
  // CanTake, and if so, those targets in `out`.
  bool Reserve(wire::GroupId group, size_t bytes, std::vector<SendTarget*>& out);
  // Gives `message` the next group seq of its group and assigns it to every target of `targets`
  // (from Reserve, non-empty; copies for all but the last), counted once as kMessagesSent.
  // Returns the group seq.
  uint64_t Assign(const std::vector<SendTarget*>& targets, PendingMessage message);
  // An empty payload buffer recycled from a released message (or a new one).
  std::vector<std::byte> TakeSpareBuffer();

  SendTarget* Find(uint32_t region);
  // The target of region view `rvid`, if that is the target's current view.
  SendTarget* FindView(const wire::RegionViewId& rvid);
  const SendTarget* Find(uint32_t region) const;
  bool empty() const { return targets_.empty(); }
  size_t size() const { return targets_.size(); }
  Map::iterator begin() { return targets_.begin(); }
  Map::iterator end() { return targets_.end(); }
  Map::const_iterator begin() const { return targets_.begin(); }
  Map::const_iterator end() const { return targets_.end(); }

  bool HasRetransmits() const;
  // The highest group seq g such that messages 1..g to `group` were acknowledged by every region
  // they were sent to.
  uint64_t AcknowledgedThrough(wire::GroupId group) const;
  size_t pending_messages() const;
  size_t pending_bytes() const;
  // Copies kept for members that left a region view (see Follow).
  size_t departed_copies() const;

 private:
  SenderWindow window_;
  Duration view_change_suspend_;
  Counters& counters_;
  Map targets_;
  std::optional<uint32_t> every_group_to_;
  std::unordered_map<wire::GroupId, std::vector<uint32_t>> group_regions_;
  std::unordered_map<wire::GroupId, uint64_t> group_seqs_;  // last group seq given, per group
  // Regions new to a group whose target does not exist yet: they get the carry when it does.
  std::multimap<uint32_t, wire::GroupId> carry_on_create_;
  // What a region view had pending when members left it, kept until ForgetDeparted (see Follow).
  struct Departed {
    std::vector<wire::NodeId> members;  // the members that left
    std::vector<PendingMessage> messages;
  };
  std::vector<Departed> departed_;

  // Keeps `messages` for `members`, which left a region view (see Follow).
  void KeepForDeparted(std::vector<wire::NodeId> members, std::vector<PendingMessage> messages);

  // Copies the messages of `group` pending in other targets into target `to` (see SetGroupRegions).
  void CarryPending(wire::GroupId group, uint32_t to);
  // A view of `region` added members `added`, which may have come from another region of the same
  // groups (their groups changed): before the re-sent `carried` messages, `t` gets copies of what
  // other regions still hold of each group it serves, below that group's first carried message.
  void GiveNewMembersWhatTheyMayLack(uint32_t region, SendTarget& t, const std::vector<PendingMessage>& carried,
                                     const std::vector<wire::NodeId>& added);
  // A message a region view gets a copy of, and whether the copy is for movers only.
  struct Copy {
    const PendingMessage* message;
    bool catch_up;
    PendingMessage Make() const {
      return PendingMessage{message->group, message->group_seq, message->send_time_ns, message->payload, catch_up};
    }
  };
  // The copies for a view of `region` that adds `added`, of each group in `below` with a group seq
  // below its value, by (group, group seq): what other targets still hold, and what was kept for
  // departed members if one of `added` is among them. Copies at or below a group's highest
  // departed-member copy, or highest copy of a catch-up message, are catch_up (wire::DataPacket):
  // a joiner added in the same view skips them, always a prefix of what it is given.
  std::map<std::pair<wire::GroupId, uint64_t>, Copy> CopiesFor(uint32_t region,
                                                               const std::map<wire::GroupId, uint64_t>& below,
                                                               const std::vector<wire::NodeId>& added) const;
};

}  // namespace qsm
