// EngineDriver: the engine a NodeWorkload drives. The workload is the same for every engine (the
// load, its pacing and latency stamps, the delivery record, the ticks, the sleep fault); a driver
// maps it onto one engine:
//   qsm   qsm::Node (this project's engine), below as QsmDriver;
//   udp   raw UDP multicast, no reliability (harness/drivers/udp_driver.h);
//   norm  NORM from libnorm, with ACK-based flow control (harness/drivers/norm_driver.h).
// Every driver delivers through the same Delivery record (sender, group, group_seq, intended send
// time), pulls its messages from the same MessageFeed, and reports the same NodeStats; what an
// engine does not have (a token ring, a pending-ACK window) reads as zero or an empty histogram.
// Threading: core thread only, like the engine under it.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "engine/node/node.h"

namespace qsm::harness {

// What each engine promises; the delivery check reads it (run/check.h).
struct EngineGuarantees {
  bool reliable = true;  // every message to a live member is delivered: a gap is a violation
  bool fifo = true;      // per sender and group, in order: a message out of order is a violation
};
// qsm: reliable and FIFO; norm: reliable; udp: neither.
EngineGuarantees GuaranteesOf(std::string_view kind);

class EngineDriver {
 public:
  virtual ~EngineDriver() = default;

  // Static membership: the region's members (ids and endpoints) and multicast address.
  virtual Status InstallView(const wire::RegionView& view) = 0;
  // Membership from a GMS. Only QSM has one.
  virtual Status StartMembership(const membership::GmsClientConfig& config);
  virtual void LeaveCluster() {}
  virtual Status Join(wire::GroupId group) = 0;
  // The nodes a message to `group` sent now is for (sorted).
  virtual std::vector<wire::NodeId> MembersOf(wire::GroupId group) const = 0;
  // The driver pulls messages from `feed` whenever it can send (nullptr: none).
  virtual void SetFeed(MessageFeed* feed) = 0;
  // The feed has messages now that it did not have when last asked.
  virtual void Wake() = 0;
  virtual void SetDeliveryHandler(std::function<void(const Delivery&)> handler) = 0;
  virtual NodeStats Snapshot() const = 0;
  virtual Node::Memory MemoryUse() const = 0;
  // Nothing pending, nothing to recover.
  virtual bool idle() const = 0;
  // The core thread stops until Resume() (the sleep fault). A driver whose engine runs threads of
  // its own stops them too, so that the node as a whole sleeps, as a QSM node does.
  virtual void Suspend() {}
  virtual void Resume() {}
};

// QSM: the driver is the node's own API.
class QsmDriver final : public EngineDriver {
 public:
  explicit QsmDriver(Node& node) : node_(node) {}

  Status InstallView(const wire::RegionView& view) override { return node_.InstallView(view); }
  Status StartMembership(const membership::GmsClientConfig& config) override {
    return node_.StartMembership(config);
  }
  void LeaveCluster() override { node_.LeaveCluster(); }
  Status Join(wire::GroupId group) override { return node_.Join(group); }
  std::vector<wire::NodeId> MembersOf(wire::GroupId group) const override { return node_.MembersOf(group); }
  void SetFeed(MessageFeed* feed) override { node_.SetFeed(feed); }
  void Wake() override { node_.Wake(); }
  void SetDeliveryHandler(std::function<void(const Delivery&)> handler) override {
    node_.SetDeliveryHandler(std::move(handler));
  }
  NodeStats Snapshot() const override { return node_.Snapshot(); }
  Node::Memory MemoryUse() const override { return node_.MemoryUse(); }
  bool idle() const override { return node_.idle(); }

 private:
  Node& node_;
};

}  // namespace qsm::harness
