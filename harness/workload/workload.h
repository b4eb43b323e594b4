// NodeWorkload: runs one node's part of a scenario on an engine, through its EngineDriver, the
// same way in a qsm-node process and in the simulator. It installs the plan's region view, joins
// the groups, feeds the load (paced at the plan's rate, each message stamped with its intended
// send time so a stall shows up as latency instead of hiding), records every delivery per sender
// and group (as ranges, with duplicates and order violations), samples peak pending-ACK and cache
// bytes, emits a Tick every plan.tick, and applies the sleep fault through a hook (loss is the
// transport's business: faults::InboundLoss for real nodes, SimNetwork in simulation, NORM's own
// receive loss for NORM).
// Threading: core thread only (alarms and the delivery handler run there).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "harness/workload/engine_driver.h"
#include "harness/workload/node_plan.h"
#include "harness/workload/node_result.h"

namespace qsm::harness {

class NodeWorkload {
 public:
  struct Hooks {
    // Stops the core thread until `until` (the sleep fault). Required if the plan has sleeps.
    std::function<void(TimePoint until)> stop_core;
    // Called every plan.tick with the progress record. Optional.
    std::function<void(const Tick&)> on_tick;
  };

  // `plan`, `engine` and `scheduler` must outlive the workload. `start` is the run's time zero, on
  // the scheduler's clock; the load starts then, or with a GMS once this node's views of its send
  // groups hold the plan's group_members (at most plan.await_members_for later).
  NodeWorkload(const NodePlan& plan, EngineDriver& engine, Scheduler& scheduler, TimePoint start, Hooks hooks);
  ~NodeWorkload();

  // Installs the view, joins the groups, registers the feed and the alarms.
  Status Start();
  // Installs the next view of the region without the members `ids` (crashed or departed).
  Status ExcludeMembers(const std::vector<uint32_t>& ids);

  bool sending() const;
  uint64_t sent() const;
  uint64_t delivered() const { return delivered_; }
  // How long after the start the load began (zero before it has, and for a node that only receives).
  Duration load_delay() const { return load_delay_; }
  Tick MakeTick(TimePoint now);
  // The result so far. `end` says how the run ended (see NodeResult::end).
  NodeResult Finish(TimePoint now, std::string end);

 private:
  class LoadFeed;
  // The plan's group_members not yet in this node's views of its send groups.
  std::vector<uint32_t> AbsentMembers() const;
  // Starts the load now if no member is absent or the wait is over, else looks again shortly.
  void AwaitMembers(TimePoint now);
  void OnDelivery(const Delivery& d);
  void SamplePeaks();
  void OnTickAlarm(TimePoint now);
  void OnPeakAlarm(TimePoint now);

  const NodePlan& plan_;
  EngineDriver& engine_;
  Scheduler& scheduler_;
  TimePoint start_;
  Hooks hooks_;
  std::unique_ptr<LoadFeed> feed_;
  std::vector<uint32_t> view_members_;
  uint32_t view_number_ = 1;
  NodeResult result_;
  uint64_t delivered_ = 0;  // distinct deliveries (result_.delivered_total() without the walk)
  Duration load_delay_{};
  NodeStats last_tick_stats_;
  AlarmId start_alarm_;
  AlarmId tick_alarm_;
  AlarmId peak_alarm_;
  std::vector<AlarmId> sleep_alarms_;
};

// The QSM node configuration the plan asks for. The load paces itself (send_rate 0), so the node
// can catch up after a stall. A process may lower datagram_bytes to what its interface carries.
NodeConfig NodeConfigOf(const NodePlan& plan);

// The region view the plan describes, with `members` (ids from the plan) in plan order.
wire::RegionView ViewFromPlan(const NodePlan& plan, const std::vector<uint32_t>& members, uint32_t number);

}  // namespace qsm::harness
