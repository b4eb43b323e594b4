#include "engine/sender/send_targets.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace qsm {
namespace {

std::vector<wire::NodeId> MemberIds(const std::vector<wire::Member>& members) {
  std::vector<wire::NodeId> ids;
  ids.reserve(members.size());
  for (const auto& m : members) ids.push_back(m.node);
  return ids;
}

}  // namespace

SendTargets::SendTargets(SenderWindow window, Duration view_change_suspend, Counters& counters)
    : window_(window), view_change_suspend_(view_change_suspend), counters_(counters) {}

void SendTargets::SetGroupRegions(wire::GroupId group, std::vector<uint32_t> regions) {
  if (regions.empty()) {
    group_regions_.erase(group);
    return;
  }
  std::vector<uint32_t>& known = group_regions_[group];
  const std::vector<uint32_t> before = std::exchange(known, std::move(regions));
  if (before.empty()) return;  // the first view of the group: nothing was sent to it yet
  for (uint32_t region : known) {
    if (std::find(before.begin(), before.end(), region) != before.end()) continue;
    if (Find(region) != nullptr) {
      CarryPending(group, region);
    } else {
      carry_on_create_.emplace(region, group);
    }
  }
}

std::map<std::pair<wire::GroupId, uint64_t>, SendTargets::Copy> SendTargets::CopiesFor(
    uint32_t region, const std::map<wire::GroupId, uint64_t>& below, const std::vector<wire::NodeId>& added) const {
  std::map<std::pair<wire::GroupId, uint64_t>, Copy> out;  // each message once, in order
  std::map<wire::GroupId, uint64_t> highest_catch_up;       // per group
  auto consider = [&](const PendingMessage& m, bool departed) {
    auto limit = below.find(m.group);
    if (limit == below.end() || m.group_seq >= limit->second) return;
    out.emplace(std::pair{m.group, m.group_seq}, Copy{&m, false});
    // A departed member's copy is catch-up, and so stays a catch-up copy pending elsewhere.
    if (departed || m.catch_up) highest_catch_up[m.group] = std::max(highest_catch_up[m.group], m.group_seq);
  };
  for (const auto& [other, t] : targets_) {
    if (other != region) t.sender.ForEachPending([&](const PendingMessage& m) { consider(m, false); });
  }
  for (const Departed& d : departed_) {
    const bool mover_added = std::any_of(added.begin(), added.end(), [&](wire::NodeId n) {
      return std::find(d.members.begin(), d.members.end(), n) != d.members.end();
    });
    if (mover_added) {
      for (const PendingMessage& m : d.messages) consider(m, true);
    }
  }
  // At or below a group's highest catch-up copy, every copy is for movers only: a joiner that
  // delivered some of them would then see the gap up to the next message it gets.
  for (auto& [key, copy] : out) {
    auto h = highest_catch_up.find(key.first);
    copy.catch_up = h != highest_catch_up.end() && key.second <= h->second;
  }
  return out;
}

void SendTargets::CarryPending(wire::GroupId group, uint32_t to) {
  SendTarget* target = Find(to);
  if (target == nullptr || target->sender.LowestPendingGroupSeq(group)) return;  // already sending it
  for (const auto& [key, copy] : CopiesFor(to, {{group, UINT64_MAX}}, MemberIds(target->members))) {
    if (!target->sender.Fits(copy.message->payload.size())) break;  // the rest: a gap, counted by receivers
    target->sender.Add(copy.Make());
    counters_.Add(Counter::kCarriedToNewRegion);
  }
}

std::vector<uint32_t> SendTargets::RegionsOf(wire::GroupId group) const {
  if (every_group_to_) return {*every_group_to_};
  auto it = group_regions_.find(group);
  return it == group_regions_.end() ? std::vector<uint32_t>{} : it->second;
}

bool SendTargets::Spans(wire::GroupId group, uint32_t region) const {
  if (every_group_to_) return *every_group_to_ == region;
  auto it = group_regions_.find(group);
  return it != group_regions_.end() && std::find(it->second.begin(), it->second.end(), region) != it->second.end();
}

std::vector<wire::NodeId> SendTargets::MembersOf(wire::GroupId group) const {
  std::vector<wire::NodeId> out;
  for (uint32_t region : RegionsOf(group)) {
    if (const SendTarget* t = Find(region); t != nullptr) {
      for (const wire::Member& m : t->members) out.push_back(m.node);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool SendTargets::Named(uint32_t region) const {
  if (every_group_to_ == region) return true;
  return std::any_of(group_regions_.begin(), group_regions_.end(), [&](const auto& entry) {
    return std::find(entry.second.begin(), entry.second.end(), region) != entry.second.end();
  });
}

bool SendTargets::Follow(const wire::RegionView& view, bool create, TimePoint now) {
  auto it = targets_.find(view.id.region);
  if (view.members.empty()) {
    // The region is gone; its members may be in other regions now.
    if (it != targets_.end()) {
      KeepForDeparted(MemberIds(it->second.members), it->second.sender.TakeUnacknowledged());
      targets_.erase(it);
    }
    return false;
  }
  if (it == targets_.end()) {
    if (!create) return false;
    targets_.emplace(view.id.region, SendTarget{.sender = RegionSender(view.id, window_),
                                                .multicast = view.multicast,
                                                .members = view.members,
                                                .suspended_until = {},
                                                .last_ack_progress = now});
    auto [first, last] = carry_on_create_.equal_range(view.id.region);
    std::vector<wire::GroupId> groups;
    for (auto c = first; c != last; ++c) groups.push_back(c->second);
    carry_on_create_.erase(first, last);
    for (wire::GroupId g : groups) CarryPending(g, view.id.region);
    return true;
  }
  SendTarget& t = it->second;
  if (t.sender.rvid().view >= view.id.view) return false;  // not newer
  const std::vector<wire::NodeId> members = MemberIds(view.members);
  const std::vector<wire::NodeId> before = MemberIds(t.members);
  std::vector<wire::NodeId> added;
  std::copy_if(members.begin(), members.end(), std::back_inserter(added), [&](wire::NodeId n) {
    return std::find(before.begin(), before.end(), n) == before.end();
  });
  std::vector<PendingMessage> carried = t.sender.TakeUnacknowledged();
  std::vector<wire::NodeId> departed;
  std::copy_if(before.begin(), before.end(), std::back_inserter(departed), [&](wire::NodeId n) {
    return std::find(members.begin(), members.end(), n) == members.end();
  });
  if (!departed.empty() && !carried.empty()) KeepForDeparted(std::move(departed), carried);
  t.sender = RegionSender(view.id, window_, t.sender);
  if (!added.empty()) GiveNewMembersWhatTheyMayLack(view.id.region, t, carried, added);
  for (auto& m : carried) t.sender.Add(std::move(m));  // fits: room for them was kept
  if (!added.empty()) {
    // New members: let the new view's rings form before new data arrives (PROTOCOL.md §3).
    t.suspended_until = now + view_change_suspend_;
    counters_.Add(Counter::kSendSuspended);
  }
  t.members = view.members;
  t.multicast = view.multicast;
  t.last_ack_progress = now;
  return true;
}

void SendTargets::KeepForDeparted(std::vector<wire::NodeId> members, std::vector<PendingMessage> messages) {
  if (every_group_to_ || members.empty() || messages.empty()) return;  // static membership: nowhere else to go
  departed_.push_back({std::move(members), std::move(messages)});
}

void SendTargets::ForgetUnused(std::optional<uint32_t> keep) {
  std::erase_if(targets_, [&](const auto& entry) {
    return entry.first != keep && entry.second.sender.pending_messages() == 0 && !Named(entry.first);
  });
}

bool SendTargets::CanTake(wire::GroupId group, size_t bytes) const {
  auto room = [&](uint32_t region) {
    const SendTarget* t = Find(region);
    return t != nullptr && t->sender.HasRoom(bytes);
  };
  if (every_group_to_) return room(*every_group_to_);
  auto it = group_regions_.find(group);
  return it != group_regions_.end() && !it->second.empty() && std::all_of(it->second.begin(), it->second.end(), room);
}

bool SendTargets::Reserve(wire::GroupId group, size_t bytes, std::vector<SendTarget*>& out) {
  out.clear();
  auto reserve = [&](uint32_t region) {
    SendTarget* t = Find(region);
    if (t == nullptr || !t->sender.HasRoom(bytes)) return false;
    out.push_back(t);
    return true;
  };
  if (every_group_to_) return reserve(*every_group_to_);
  auto it = group_regions_.find(group);
  if (it == group_regions_.end()) return false;
  return std::all_of(it->second.begin(), it->second.end(), reserve) && !out.empty();
}

uint64_t SendTargets::Assign(const std::vector<SendTarget*>& targets, PendingMessage message) {
  message.group_seq = ++group_seqs_[message.group];
  for (size_t i = 0; i + 1 < targets.size(); ++i) {
    PendingMessage copy{message.group, message.group_seq, message.send_time_ns, targets[i]->sender.TakeSpareBuffer()};
    copy.payload.assign(message.payload.begin(), message.payload.end());
    targets[i]->sender.Add(std::move(copy));
  }
  const uint64_t group_seq = message.group_seq;
  targets.back()->sender.Add(std::move(message));
  counters_.Add(Counter::kMessagesSent);
  return group_seq;
}

void SendTargets::GiveNewMembersWhatTheyMayLack(uint32_t region, SendTarget& t,
                                                 const std::vector<PendingMessage>& carried,
                                                 const std::vector<wire::NodeId>& added) {
  // Per group this region serves: the copies go below the group's first carried message.
  std::map<wire::GroupId, uint64_t> below;
  for (const auto& [group, regions] : group_regions_) {
    if (std::find(regions.begin(), regions.end(), region) != regions.end()) below[group] = UINT64_MAX;
  }
  for (const PendingMessage& m : carried) {
    auto b = below.find(m.group);
    if (b != below.end()) b->second = std::min(b->second, m.group_seq);
  }
  const size_t cap = window_.max_messages > 0 ? window_.max_messages : SIZE_MAX;
  size_t room = cap - std::min(cap, carried.size());
  size_t bytes = 0;
  for (const PendingMessage& m : carried) bytes += RegionSender::HeldBytes(m.payload.size());
  for (const auto& [key, copy] : CopiesFor(region, below, added)) {
    const size_t held = RegionSender::HeldBytes(copy.message->payload.size());
    if (room == 0 || bytes + held > window_.max_bytes) break;  // the rest: a gap, counted
    t.sender.Add(copy.Make());
    counters_.Add(Counter::kCarriedToNewRegion);
    --room;
    bytes += held;
  }
}

std::vector<std::byte> SendTargets::TakeSpareBuffer() {
  return targets_.empty() ? std::vector<std::byte>{} : targets_.begin()->second.sender.TakeSpareBuffer();
}

SendTarget* SendTargets::Find(uint32_t region) {
  auto it = targets_.find(region);
  return it == targets_.end() ? nullptr : &it->second;
}

SendTarget* SendTargets::FindView(const wire::RegionViewId& rvid) {
  SendTarget* t = Find(rvid.region);
  return t != nullptr && t->sender.rvid() == rvid ? t : nullptr;
}

const SendTarget* SendTargets::Find(uint32_t region) const {
  auto it = targets_.find(region);
  return it == targets_.end() ? nullptr : &it->second;
}

bool SendTargets::HasRetransmits() const {
  return std::any_of(targets_.begin(), targets_.end(),
                     [](const auto& t) { return t.second.sender.has_retransmits(); });
}

uint64_t SendTargets::AcknowledgedThrough(wire::GroupId group) const {
  auto sent = group_seqs_.find(group);
  if (sent == group_seqs_.end()) return 0;
  uint64_t through = sent->second;
  for (const auto& [region, t] : targets_) {
    if (auto pending = t.sender.LowestPendingGroupSeq(group)) through = std::min(through, *pending - 1);
  }
  return through;
}

size_t SendTargets::pending_messages() const {
  size_t n = 0;
  for (const auto& [region, t] : targets_) n += t.sender.pending_messages();
  return n;
}

size_t SendTargets::departed_copies() const {
  size_t n = 0;
  for (const Departed& d : departed_) n += d.messages.size();
  return n;
}

size_t SendTargets::pending_bytes() const {
  size_t n = 0;
  for (const auto& [region, t] : targets_) n += t.sender.pending_bytes();
  return n;
}

}  // namespace qsm
