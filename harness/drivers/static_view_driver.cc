#include "harness/drivers/static_view_driver.h"

#include <algorithm>

namespace qsm::harness {

StaticViewDriver::~StaticViewDriver() { scheduler_.alarms().Cancel(pump_alarm_); }

Status StaticViewDriver::Join(wire::GroupId group) {
  joined_.insert(group);
  return {};
}

std::vector<wire::NodeId> StaticViewDriver::MembersOf(wire::GroupId /*group*/) const {
  std::vector<wire::NodeId> ids;
  if (view_) {
    for (const auto& m : view_->members) ids.push_back(m.node);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void StaticViewDriver::SetFeed(MessageFeed* feed) {
  feed_ = feed;
  if (feed_ == nullptr) {
    scheduler_.alarms().Cancel(pump_alarm_);
    pump_at_.reset();
  }
}

void StaticViewDriver::ArmPumpAlarm(TimePoint at) {
  if (pump_at_ && *pump_at_ <= at) return;
  scheduler_.alarms().Cancel(pump_alarm_);
  pump_at_ = at;
  pump_alarm_ = scheduler_.alarms().Schedule(at, [this](TimePoint) {
    pump_at_.reset();
    Pump();
  });
}

void StaticViewDriver::Deliver(const Delivery& d) {
  if (!joined_.contains(d.group)) return;
  scheduler_.counters().Add(Counter::kMessagesDelivered);
  scheduler_.counters().Add(Counter::kBytesDelivered, d.payload.size());
  const int64_t latency = ToNanos(d.delivered_at) - d.send_time_ns;
  delivery_latency_ns_.Record(latency > 0 ? static_cast<uint64_t>(latency) : 0);
  if (on_deliver_) on_deliver_(d);
}

NodeStats StaticViewDriver::Snapshot() const {
  NodeStats s;
  s.counters = scheduler_.counters().Snapshot();
  s.delivery_latency_ns = delivery_latency_ns_;
  s.timer_lateness_ns = scheduler_.alarms().lateness_ns();
  for (size_t c = 0; c < kIoClassCount; ++c) s.io_queue_depths[c] = scheduler_.io_queue_depth(static_cast<IoClass>(c));
  s.alarms_pending = scheduler_.alarms().size();
  s.groups_joined = joined_.size();
  s.regions = view_ ? 1 : 0;
  s.target_regions = view_ ? 1 : 0;
  const Node::Memory m = MemoryUse();
  s.pending_messages = m.pending_messages;
  s.pending_bytes = m.pending_bytes;
  s.cache_bytes = m.cache_bytes;
  s.cached_messages = m.cached_messages;
  return s;
}

}  // namespace qsm::harness
