// Membership: the GMS's model of the cluster and the views it derives (PROTOCOL.md §1-§2, §7).
//
// Nodes are in groups; groups are partitioned into group sets (normally one). Within a set, the
// nodes whose groups in that set are exactly equal form a region: the region's signature is
// (set, those groups). A node is therefore in at most one region per set. Each region has a
// multicast address from the pool and a numbered view: its members in view order, which is the
// order they joined the region, so the region leader (member 0) is its oldest member and a leader
// that leaves is replaced by the next oldest. A group's view is the list of region views whose
// signature contains the group.
//
// Changes (Upsert, Remove) are staged and applied together by Commit(), which gives every region
// whose members changed a new view number, and every group whose list of region views changed a
// new group view number. View numbers only grow; region ids are never reused. A region whose last
// member leaves is gone: its final view has no members and its address returns to the pool.
//
// Addresses: the pool hands out the lowest free address. If every address is taken, new regions
// share addresses round robin: correct (every packet names its region view, and nodes drop
// traffic for views they are not in), only less efficient, and counted in shared_addresses().
// Threading: one thread (the GMS's core thread, or a test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/core/endpoint.h"
#include "engine/core/status.h"
#include "engine/wire/packets.h"

namespace qsm::membership {

using wire::GroupId;
using wire::NodeId;
using RegionId = uint32_t;
using SetId = uint32_t;

// Multicast addresses first.address .. first.address + count - 1, all on first.port.
class AddressPool {
 public:
  AddressPool(Endpoint first, uint32_t count);
  // The lowest free address, or (every one taken) the next one round robin, shared.
  Endpoint Allocate();
  void Release(Endpoint address);
  // Marks an address as taken (restoring persisted state).
  void Reserve(Endpoint address);
  size_t shared_addresses() const { return shared_; }
  Endpoint first() const { return first_; }
  uint32_t count() const { return count_; }

 private:
  Endpoint first_;
  uint32_t count_;
  std::vector<uint32_t> users_;  // per address: regions using it
  uint32_t next_shared_ = 0;
  size_t shared_ = 0;
};

struct NodeInfo {
  NodeId id = 0;
  uint64_t incarnation = 0;
  Endpoint endpoint;
  std::vector<GroupId> groups;  // sorted, unique
  uint64_t groups_version = 0;  // the node's version of `groups` (kept for the GMS)
};

struct Region {
  RegionId id = 0;
  uint32_t view = 0;
  SetId set = 0;
  std::vector<GroupId> signature;  // sorted
  std::vector<NodeId> members;     // view order (join order); empty: gone
  Endpoint multicast;
};

struct GroupState {
  uint32_t view = 0;
  std::vector<wire::RegionViewId> regions;  // by region id
  std::set<NodeId> members;
};

class Membership {
 public:
  explicit Membership(AddressPool pool) : pool_(std::move(pool)) {}

  // Assigns groups to sets (groups not listed are in set 0). Only while there are no nodes.
  Status SetGroupSets(std::unordered_map<GroupId, SetId> set_of_group);
  SetId SetOf(GroupId g) const;

  // Staged until Commit(). Upsert adds a node or replaces its groups, endpoint or incarnation
  // (a new incarnation is a restarted node: it leaves its regions and joins again as the newest
  // member). `node.groups` need not be sorted.
  void Upsert(NodeInfo node);
  void Remove(NodeId node);
  bool has_staged_changes() const { return !staged_.empty(); }

  struct Changes {
    std::vector<RegionId> regions;  // regions with a new view (including regions now gone)
    std::vector<GroupId> groups;    // groups with a new view
    std::set<NodeId> nodes;         // live nodes whose needed views changed
    std::vector<NodeId> removed;    // nodes no longer in the cluster
  };
  // Applies every staged change and returns what changed.
  Changes Commit();

  const NodeInfo* node(NodeId id) const;
  const std::map<NodeId, NodeInfo>& nodes() const { return nodes_; }
  const Region* region(RegionId id) const;
  const std::map<RegionId, Region>& regions() const { return regions_; }
  const GroupState* group(GroupId g) const;
  // The regions node `id` is a member of, one per set it has groups in.
  std::vector<RegionId> RegionsOf(NodeId id) const;
  // Every region whose view node `id` needs: its own, and those its groups span.
  std::set<RegionId> RegionsNeededBy(NodeId id) const;

  wire::RegionView ViewOf(const Region& r) const;
  wire::GroupView ViewOf(GroupId g) const;
  const AddressPool& pool() const { return pool_; }

  // The whole state as text, and back (the GMS's state file). Restore requires an empty model.
  std::string Serialize() const;
  Status Restore(const std::string& text);

 private:
  using Signature = std::pair<SetId, std::vector<GroupId>>;
  // The region with this signature, created (no members yet) if there is none.
  Region& RegionFor(const Signature& signature, std::set<RegionId>& dirty);

  AddressPool pool_;
  std::unordered_map<GroupId, SetId> set_of_group_;
  std::map<NodeId, NodeInfo> nodes_;
  std::map<NodeId, std::map<SetId, RegionId>> node_regions_;
  std::map<RegionId, Region> regions_;  // live regions, and gone ones until the next Commit
  std::map<Signature, RegionId> region_by_signature_;
  std::map<GroupId, GroupState> groups_;
  std::unordered_map<GroupId, std::set<RegionId>> regions_of_group_;
  std::map<NodeId, std::optional<NodeInfo>> staged_;  // nullopt: remove
  RegionId next_region_ = 1;
};

}  // namespace qsm::membership
