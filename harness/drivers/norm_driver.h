// The NORM driver: the same workload over NORM (NACK-Oriented Reliable Multicast, RFC 5740) from
// libnorm, with ACK-based flow control as NORM's own normMsgr example does it and as
// qsm-norm-blaster does. Every node is a NORM receiver on the region's multicast address and
// port; a node that sends is also a NORM sender whose acking nodes are the other members of the
// view. A sender delivers its own messages as it enqueues them, as a QSM node does. Each message
// is one NORM data object: a 24-byte header (group, group_seq, intended send
// time) and the payload. Timer-based flow control is off: at most `window` messages are
// unacknowledged, and a watermark (NORM's positive-ACK request) covers them, asked once half the
// window is unacknowledged or whenever the load has nothing ready. A member excluded from the
// view (crashed) is removed from the acking nodes, so the sender goes on without it.
//
// Guarantees: reliable; not FIFO (NORM completes objects in the order their repairs finish, and
// the driver delivers them so: the check reports order, it does not fail on it).
// Faults: the sleep fault suspends the NORM instance with the core thread (NormSuspendInstance),
// so the node neither reads nor acknowledges; in-process loss is NORM's own receive loss
// (NormSetRxLoss, which drops every kind of incoming NORM packet, like faults::InboundLoss).
// Not supported: a GMS (NORM has no group membership service), the simulator (libnorm owns its
// sockets and threads), the cluster key (NORM has its own security, not ours).
//
// Threading: the driver's methods run on the core thread. NORM runs its protocol in its own
// thread; a reader thread takes its events and posts them, in batches, to the core thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "faults/inbound_loss.h"
#include "harness/drivers/static_view_driver.h"

namespace qsm::harness {

struct NormDriverConfig {
  wire::NodeId id = 0;
  std::string interface_name;  // the multicast interface, by name (NORM takes a name)
  size_t message_size = 1000;  // the largest payload
  bool sends = false;          // start a NORM sender too
  uint32_t window = 8192;      // messages unacknowledged, at most (2..32767)
  double tx_mbps = 20000;      // NORM's fixed transmit rate: high, so that the ACKs pace it
  uint64_t seed = 1;           // the NORM session's instance id
  // In-process loss on arrival: each incoming packet dropped with `loss_rate`, and every one in
  // the windows.
  double loss_rate = 0;
  std::vector<faults::TimeWindow> loss_bursts;
};

class NormDriver final : public StaticViewDriver {
 public:
  // `scheduler` must outlive the driver. Fails if libnorm cannot start an instance.
  static Result<std::unique_ptr<NormDriver>> Create(NormDriverConfig config, Scheduler& scheduler);
  ~NormDriver() override;
  NormDriver(const NormDriver&) = delete;
  NormDriver& operator=(const NormDriver&) = delete;

  // The first view starts the NORM session on its multicast address; later ones only change the
  // acking nodes (the address must stay).
  Status InstallView(const wire::RegionView& view) override;
  Node::Memory MemoryUse() const override;
  bool idle() const override { return unacknowledged_ == 0 && !held_; }
  void Suspend() override;
  void Resume() override;

  static constexpr size_t kHeaderBytes = 24;  // u32 group, u32 reserved, u64 group_seq, i64 send time

 private:
  struct Impl;   // libnorm's handles, kept out of this header
  struct Event;  // a NormEvent
  NormDriver(NormDriverConfig config, Scheduler& scheduler);

  Status StartSession(const wire::RegionView& view);
  void ReadEvents();  // the reader thread
  void HandleEvents(const std::vector<Event>& events);
  void Pump() override;
  bool Enqueue(const OutgoingMessage& m);
  // A watermark over what went out and is not yet covered by one, unless one is pending.
  void RequestAcks();
  void SetRxLoss(double fraction);

  NormDriverConfig config_;
  std::unique_ptr<Impl> impl_;
  std::map<wire::GroupId, uint64_t> group_seqs_;
  // Sender: what NORM sends from, by object, until NORM purges it.
  std::unordered_map<uintptr_t, std::unique_ptr<std::byte[]>> buffers_;
  size_t buffered_bytes_ = 0;
  std::optional<OutgoingMessage> held_;  // given by the feed, refused by NORM: sent first
  bool vacancy_ = true;
  uint32_t unacknowledged_ = 0;  // enqueued and not covered by a completed watermark
  bool watermark_pending_ = false;
  uint32_t watermark_covers_ = 0;
  std::vector<AlarmId> loss_alarms_;
  uint64_t aborted_ = 0;  // objects NORM gave up on (NORM_RX_OBJECT_ABORTED)
  GroupReady ready_;
  std::atomic<bool> stop_{false};
  std::thread reader_;
};

}  // namespace qsm::harness
