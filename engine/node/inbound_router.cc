#include "engine/node/inbound_router.h"

#include "engine/core/check.h"

namespace qsm {

Route InboundRouter::RouteOf(const wire::Packet& packet, std::optional<wire::RegionViewId> own) const {
  switch (wire::InfoOf(packet.type).scope) {
    case wire::Scope::kFromGms:
      return Route::kGmsClient;
    case wire::Scope::kToGms:
      return Route::kNotForNodes;
    case wire::Scope::kSender:
      return Route::kSender;
    case wire::Scope::kRegion:
      break;
  }
  const auto rvid = wire::RegionViewOf(packet);
  QSM_CHECK(rvid.has_value(), "a region-scoped packet names no region view");
  if (own == rvid) return Route::kRegion;
  if (IsFuture(*rvid, own)) return Route::kHold;
  return own ? Route::kRegion : Route::kNoRegion;
}

bool InboundRouter::IsFuture(const wire::RegionViewId& rvid, std::optional<wire::RegionViewId> own) const {
  if (own && own->region == rvid.region) return rvid.view > own->view;
  if (!known_view_) return !own.has_value();  // static: a view is about to be installed
  // Another region: for this node only if it is joining it, i.e. the GMS has not told it of that
  // region at this view yet.
  const auto known = known_view_(rvid.region);
  return !known || *known < rvid.view;
}

}  // namespace qsm
