// InboundRouter: decides, for each decoded packet a node receives, which of its parts handles it,
// from the packet table's scope (engine/wire/packets.h) and the views the node has:
//   kFromGms  -> the GMS client;   kSender -> the node's send targets (ACKs, NAKs);
//   kRegion   -> the region member if the packet's region view is the node's own, held if it is a
//                view this node has not been told of yet (it is joining it), else stale;
//   kToGms    -> not for nodes (counted and dropped).
// Threading: core thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "engine/wire/packets.h"

namespace qsm {

enum class Route {
  kGmsClient,
  kSender,
  kRegion,       // the region member (which also drops what belongs to an older view of its region)
  kHold,         // a view this node has not installed yet: hold the datagram
  kNoRegion,     // a region packet, and this node is in no region that could take it: drop
  kNotForNodes,  // GMS-bound traffic: drop
};

class InboundRouter {
 public:
  // With a GMS, `known_view(region)` is the view number of a region the GMS has told this node
  // of (nullopt: none). Without one (static membership) it is empty, and only a node with no
  // view yet holds region packets.
  using KnownView = std::function<std::optional<uint32_t>(uint32_t region)>;
  explicit InboundRouter(KnownView known_view) : known_view_(std::move(known_view)) {}

  // `own`: the node's current region view, if it is in one.
  Route RouteOf(const wire::Packet& packet, std::optional<wire::RegionViewId> own) const;

 private:
  // A region packet of view `rvid`, not the node's own: whether that view is still to come.
  bool IsFuture(const wire::RegionViewId& rvid, std::optional<wire::RegionViewId> own) const;

  KnownView known_view_;
};

}  // namespace qsm
