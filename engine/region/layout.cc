#include "engine/region/layout.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {

RegionLayout::RegionLayout(const wire::RegionView& view, size_t replication, wire::NodeId self)
    : view_(view), partitions_(std::max<size_t>(1, view.members.size() / std::max<size_t>(1, replication))) {
  auto index = IndexOf(self);
  QSM_CHECK(index.has_value(), "RegionLayout for a node that is not in the view");
  self_ = *index;
}

std::optional<RegionLayout> RegionLayout::For(const wire::RegionView& view, size_t replication,
                                              wire::NodeId self) {
  for (const auto& m : view.members) {
    if (m.node == self) return RegionLayout(view, replication, self);
  }
  return std::nullopt;
}

std::optional<size_t> RegionLayout::IndexOf(wire::NodeId node) const {
  for (size_t i = 0; i < view_.members.size(); ++i) {
    if (view_.members[i].node == node) return i;
  }
  return std::nullopt;
}

std::optional<size_t> RegionLayout::IndexOfEndpoint(const Endpoint& endpoint) const {
  for (size_t i = 0; i < view_.members.size(); ++i) {
    if (view_.members[i].endpoint == endpoint) return i;
  }
  return std::nullopt;
}

size_t RegionLayout::partition_size(size_t p) const {
  const size_t n = size();
  return n / partitions_ + (p < n % partitions_ ? 1 : 0);
}

size_t RegionLayout::successor_in_partition(size_t index) const {
  const size_t p = partition_of(index);
  const size_t next = position_of(index) + 1;
  return next < partition_size(p) ? member_at(p, next) : member_at(p, 0);
}

}  // namespace qsm
