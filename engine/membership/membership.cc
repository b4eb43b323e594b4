#include "engine/membership/membership.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "engine/core/check.h"

namespace qsm::membership {

// ---------------------------------------------------------------- address pool

AddressPool::AddressPool(Endpoint first, uint32_t count) : first_(first), count_(count), users_(count, 0) {
  QSM_CHECK(count > 0, "an address pool needs at least one address");
}

Endpoint AddressPool::Allocate() {
  for (uint32_t i = 0; i < count_; ++i) {
    if (users_[i] == 0) {
      users_[i] = 1;
      return Endpoint{first_.address + i, first_.port};
    }
  }
  const uint32_t i = next_shared_++ % count_;
  ++users_[i];
  ++shared_;
  return Endpoint{first_.address + i, first_.port};
}

void AddressPool::Release(Endpoint address) {
  const uint32_t i = address.address - first_.address;
  if (address.address < first_.address || i >= count_ || users_[i] == 0) return;
  if (--users_[i] > 0 && shared_ > 0) --shared_;
}

void AddressPool::Reserve(Endpoint address) {
  const uint32_t i = address.address - first_.address;
  if (address.address < first_.address || i >= count_) return;
  if (users_[i]++ > 0) ++shared_;
}

// ---------------------------------------------------------------- model

Status Membership::SetGroupSets(std::unordered_map<GroupId, SetId> set_of_group) {
  if (!nodes_.empty() || !staged_.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "group sets can only be set before any node joins");
  }
  set_of_group_ = std::move(set_of_group);
  return {};
}

SetId Membership::SetOf(GroupId g) const {
  auto it = set_of_group_.find(g);
  return it == set_of_group_.end() ? 0 : it->second;
}

void Membership::Upsert(NodeInfo node) {
  std::sort(node.groups.begin(), node.groups.end());
  node.groups.erase(std::unique(node.groups.begin(), node.groups.end()), node.groups.end());
  const NodeId id = node.id;
  staged_[id] = std::move(node);
}

void Membership::Remove(NodeId node) {
  if (nodes_.contains(node) || staged_.contains(node)) staged_[node] = std::nullopt;
}

const NodeInfo* Membership::node(NodeId id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

const Region* Membership::region(RegionId id) const {
  auto it = regions_.find(id);
  return it == regions_.end() ? nullptr : &it->second;
}

const GroupState* Membership::group(GroupId g) const {
  auto it = groups_.find(g);
  return it == groups_.end() ? nullptr : &it->second;
}

std::vector<RegionId> Membership::RegionsOf(NodeId id) const {
  std::vector<RegionId> out;
  auto it = node_regions_.find(id);
  if (it == node_regions_.end()) return out;
  for (const auto& [set, region] : it->second) out.push_back(region);
  return out;
}

std::set<RegionId> Membership::RegionsNeededBy(NodeId id) const {
  std::set<RegionId> out;
  for (RegionId r : RegionsOf(id)) out.insert(r);
  const NodeInfo* n = node(id);
  if (n == nullptr) return out;
  for (GroupId g : n->groups) {
    auto it = regions_of_group_.find(g);
    if (it != regions_of_group_.end()) out.insert(it->second.begin(), it->second.end());
  }
  return out;
}

wire::RegionView Membership::ViewOf(const Region& r) const {
  wire::RegionView v{.id = {r.id, r.view}, .multicast = r.multicast, .members = {}};
  v.members.reserve(r.members.size());
  for (NodeId m : r.members) v.members.push_back({m, nodes_.at(m).endpoint});
  return v;
}

wire::GroupView Membership::ViewOf(GroupId g) const {
  const GroupState* s = group(g);
  if (s == nullptr) return wire::GroupView{.group = g, .view = 0, .regions = {}};
  return wire::GroupView{.group = g, .view = s->view, .regions = s->regions};
}

Region& Membership::RegionFor(const Signature& signature, std::set<RegionId>& dirty) {
  if (auto it = region_by_signature_.find(signature); it != region_by_signature_.end()) {
    return regions_.at(it->second);
  }
  const RegionId id = next_region_++;
  Region& r = regions_[id];
  r.id = id;
  r.set = signature.first;
  r.signature = signature.second;
  r.multicast = pool_.Allocate();
  region_by_signature_[signature] = id;
  for (GroupId g : r.signature) regions_of_group_[g].insert(id);
  dirty.insert(id);
  return r;
}

Membership::Changes Membership::Commit() {
  Changes changes;
  // Regions that went away in the previous commit have been announced; forget them now.
  std::erase_if(regions_, [](const auto& entry) { return entry.second.members.empty(); });

  std::set<RegionId> dirty;
  std::set<GroupId> groups_touched;
  for (auto& [id, staged] : staged_) {
    auto old = nodes_.find(id);
    const bool restarted = old != nodes_.end() && staged && staged->incarnation != old->second.incarnation;
    std::map<SetId, RegionId>& placed = node_regions_[id];
    // The regions the node belongs in now, one per set with any of its groups.
    std::map<SetId, std::vector<GroupId>> wanted;
    if (staged) {
      for (GroupId g : staged->groups) wanted[SetOf(g)].push_back(g);
    }
    // Leave every region whose signature no longer fits (or all, if restarted or removed).
    for (auto it = placed.begin(); it != placed.end();) {
      Region& r = regions_.at(it->second);
      auto want = wanted.find(it->first);
      const bool keep = !restarted && want != wanted.end() && want->second == r.signature;
      if (keep) {
        wanted.erase(want);  // already there, and keeps its place in the view order
        ++it;
        continue;
      }
      std::erase(r.members, id);
      dirty.insert(r.id);
      it = placed.erase(it);
    }
    if (old != nodes_.end()) {
      for (GroupId g : old->second.groups) {
        groups_[g].members.erase(id);
        groups_touched.insert(g);
      }
    }
    if (!staged) {
      if (old != nodes_.end()) changes.removed.push_back(id);
      nodes_.erase(id);
      node_regions_.erase(id);
      continue;
    }
    for (GroupId g : staged->groups) {
      groups_[g].members.insert(id);
      groups_touched.insert(g);
    }
    nodes_[id] = std::move(*staged);
    for (auto& [set, signature] : wanted) {
      Region& r = RegionFor({set, signature}, dirty);
      r.members.push_back(id);  // the newest member: last in view order
      dirty.insert(r.id);
      placed[set] = r.id;
    }
    changes.nodes.insert(id);
  }
  staged_.clear();

  // New views for the regions whose membership changed; a region left empty is gone.
  for (RegionId id : dirty) {
    Region& r = regions_.at(id);
    ++r.view;
    changes.regions.push_back(id);
    for (NodeId m : r.members) changes.nodes.insert(m);
    if (r.members.empty()) {
      pool_.Release(r.multicast);
      region_by_signature_.erase({r.set, r.signature});
      for (GroupId g : r.signature) {
        auto& of = regions_of_group_[g];
        of.erase(id);
        if (of.empty()) regions_of_group_.erase(g);
      }
    }
    for (GroupId g : r.signature) groups_touched.insert(g);
  }
  // New group views where the list of region views changed.
  for (GroupId g : groups_touched) {
    GroupState& s = groups_[g];
    std::vector<wire::RegionViewId> now;
    if (auto it = regions_of_group_.find(g); it != regions_of_group_.end()) {
      for (RegionId id : it->second) now.push_back({id, regions_.at(id).view});
    }
    if (now != s.regions) {
      s.regions = std::move(now);
      ++s.view;
      changes.groups.push_back(g);
      changes.nodes.insert(s.members.begin(), s.members.end());
    }
  }
  return changes;
}

// ---------------------------------------------------------------- state file
//
// Text, one record per line, whitespace-separated:
//   qsm-membership 1
//   next_region R
//   set GROUP SET                                         (one per group not in set 0)
//   node ID INCARNATION GROUPS_VERSION ADDRESS:PORT GROUP...
//   region ID VIEW SET ADDRESS:PORT groups G... members N...
//   group ID VIEW                                         (view numbers of groups)

std::string Membership::Serialize() const {
  QSM_CHECK(staged_.empty(), "serializing with staged changes");
  std::ostringstream out;
  out << "qsm-membership 1\nnext_region " << next_region_ << "\n";
  std::map<GroupId, SetId> sets(set_of_group_.begin(), set_of_group_.end());
  for (const auto& [g, s] : sets) out << "set " << g << " " << s << "\n";
  for (const auto& [id, n] : nodes_) {
    out << "node " << id << " " << n.incarnation << " " << n.groups_version << " " << n.endpoint.ToString();
    for (GroupId g : n.groups) out << " " << g;
    out << "\n";
  }
  for (const auto& [id, r] : regions_) {
    if (r.members.empty()) continue;
    out << "region " << id << " " << r.view << " " << r.set << " " << r.multicast.ToString() << " groups";
    for (GroupId g : r.signature) out << " " << g;
    out << " members";
    for (NodeId m : r.members) out << " " << m;
    out << "\n";
  }
  for (const auto& [g, s] : groups_) out << "group " << g << " " << s.view << "\n";
  return out.str();
}

Status Membership::Restore(const std::string& text) {
  if (!nodes_.empty() || !regions_.empty() || !staged_.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "restoring into a membership that is not empty");
  }
  std::istringstream in(text);
  std::string line;
  size_t number = 0;
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kMalformed, "line " + std::to_string(number) + ": " + why);
  };
  std::map<GroupId, uint32_t> group_views;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream words(line);
    std::string kind;
    if (!(words >> kind)) continue;
    if (number == 1) {
      int version = 0;
      if (kind != "qsm-membership" || !(words >> version) || version != 1) {
        return bad("not a qsm-membership version 1 state file");
      }
      continue;
    }
    if (kind == "next_region") {
      if (!(words >> next_region_)) return bad("next_region needs a number");
    } else if (kind == "set") {
      GroupId g = 0;
      SetId s = 0;
      if (!(words >> g >> s)) return bad("set needs GROUP SET");
      set_of_group_[g] = s;
    } else if (kind == "node") {
      NodeInfo n;
      std::string endpoint;
      if (!(words >> n.id >> n.incarnation >> n.groups_version >> endpoint)) {
        return bad("node needs ID INCARNATION GROUPS_VERSION ADDRESS:PORT");
      }
      auto parsed = Endpoint::Parse(endpoint);
      if (!parsed) return bad(parsed.error().message);
      n.endpoint = *parsed;
      for (GroupId g; words >> g;) n.groups.push_back(g);
      if (!words.eof()) return bad("node " + std::to_string(n.id) + ": bad group list");
      for (GroupId g : n.groups) groups_[g].members.insert(n.id);
      nodes_[n.id] = std::move(n);
    } else if (kind == "region") {
      Region r;
      std::string endpoint, word;
      if (!(words >> r.id >> r.view >> r.set >> endpoint >> word) || word != "groups") {
        return bad("region needs ID VIEW SET ADDRESS:PORT groups ... members ...");
      }
      auto parsed = Endpoint::Parse(endpoint);
      if (!parsed) return bad(parsed.error().message);
      r.multicast = *parsed;
      while (words >> word && word != "members") {
        GroupId g = 0;
        if (std::sscanf(word.c_str(), "%u", &g) != 1) return bad("group id '" + word + "' is not a number");
        r.signature.push_back(g);
      }
      for (NodeId m; words >> m;) r.members.push_back(m);
      if (r.members.empty() || !words.eof())
        return bad("region " + std::to_string(r.id) + ": bad member list");
      pool_.Reserve(r.multicast);
      region_by_signature_[{r.set, r.signature}] = r.id;
      for (GroupId g : r.signature) regions_of_group_[g].insert(r.id);
      for (NodeId m : r.members) node_regions_[m][r.set] = r.id;
      regions_[r.id] = std::move(r);
    } else if (kind == "group") {
      GroupId g = 0;
      uint32_t view = 0;
      if (!(words >> g >> view)) return bad("group needs ID VIEW");
      group_views[g] = view;
    } else {
      return bad("unknown record '" + kind + "'");
    }
  }
  for (const auto& [id, r] : regions_) {
    for (NodeId m : r.members) {
      if (!nodes_.contains(m))
        return bad("region " + std::to_string(id) + " names unknown node " + std::to_string(m));
    }
  }
  for (const auto& [g, view] : group_views) groups_[g].view = view;
  for (auto& [g, s] : groups_) {
    if (auto it = regions_of_group_.find(g); it != regions_of_group_.end()) {
      for (RegionId id : it->second) s.regions.push_back({id, regions_.at(id).view});
    }
  }
  return {};
}

}  // namespace qsm::membership
