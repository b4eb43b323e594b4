// StaticViewDriver: what the drivers of engines without membership of their own (raw UDP, NORM)
// share. They take the harness's static region view, deliver every joined group's messages
// (members get their own too, as from QSM), record delivery latency from the intended send time
// and count deliveries as a QSM node does, and pump their feed from an alarm when it says a
// message is due. A derived driver sends; Pump() is its one hook.
// Threading: core thread only.
#pragma once

#include <optional>
#include <set>
#include <vector>

#include "engine/core/scheduler.h"
#include "harness/workload/engine_driver.h"

namespace qsm::harness {

class StaticViewDriver : public EngineDriver {
 public:
  Status Join(wire::GroupId group) override;
  std::vector<wire::NodeId> MembersOf(wire::GroupId group) const override;
  void SetFeed(MessageFeed* feed) override;
  void Wake() override { Pump(); }
  void SetDeliveryHandler(std::function<void(const Delivery&)> handler) override {
    on_deliver_ = std::move(handler);
  }
  // The counters, delivery latency, timer lateness and queues; the memory from MemoryUse().
  NodeStats Snapshot() const override;

 protected:
  // `scheduler` must outlive the driver.
  explicit StaticViewDriver(Scheduler& scheduler) : scheduler_(scheduler) {}
  ~StaticViewDriver() override;

  // Sends what the feed has ready, as far as the engine takes it.
  virtual void Pump() = 0;
  // Pump() again at `at` (the earliest asked for wins).
  void ArmPumpAlarm(TimePoint at);
  // To the application, if it joined the message's group; counted and its latency recorded.
  void Deliver(const Delivery& d);

  Scheduler& scheduler_;
  MessageFeed* feed_ = nullptr;
  std::optional<wire::RegionView> view_;

 private:
  std::function<void(const Delivery&)> on_deliver_;
  std::set<wire::GroupId> joined_;
  AlarmId pump_alarm_;
  std::optional<TimePoint> pump_at_;
  Histogram delivery_latency_ns_;
};

}  // namespace qsm::harness
