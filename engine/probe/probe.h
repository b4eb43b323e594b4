// The multicast probe: the trivial protocol that runs before QSM's own. Every node multicasts
// numbered data packets to one group address at a fixed rate, and accounts, per sender, what it
// received: distinct packets, duplicates, packets that arrived after a later one (reordered), and
// one-way latency from the intended send time. Nothing is repaired: it measures what the network
// (real or simulated) delivers, and it is what `make demo` runs until the harness exists.
// Threading: core thread only.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "engine/core/histogram.h"
#include "engine/core/scheduler.h"
#include "engine/runtime/dispatcher.h"
#include "engine/transport/transport.h"

namespace qsm {

struct ProbeConfig {
  wire::NodeId node = 0;
  Endpoint group;         // multicast address and port all probes use
  double rate = 1000;     // packets/s this node sends; 0: receive only
  uint64_t count = 1000;  // packets to send; 0: until Stop()
  size_t payload_bytes = 100;
};

struct ProbePeerStats {
  uint64_t distinct = 0;  // distinct sequence numbers received
  uint64_t duplicates = 0;
  uint64_t reordered = 0;  // arrived after a higher sequence number from the same sender
  uint64_t highest = 0;    // highest sequence number received
  Histogram latency_ns;    // receive time - intended send time
  std::vector<bool> seen;  // index: sequence number
};

class MulticastProbe final : public PacketHandler {
 public:
  // `scheduler` and `transport` must outlive the probe.
  MulticastProbe(ProbeConfig config, Scheduler& scheduler, Transport& transport);

  // Joins the group and starts sending (if rate > 0).
  Status Start();
  // Stops sending; keeps receiving.
  void Stop();
  bool done_sending() const { return stopped_ || (config_.count > 0 && sent_ >= config_.count); }

  void OnPacket(const wire::Packet& packet, std::span<const std::byte> datagram, const Endpoint& from,
                TimePoint at) override;

  uint64_t sent() const { return sent_; }
  uint64_t send_failures() const { return send_failures_; }
  const std::map<wire::NodeId, ProbePeerStats>& peers() const { return peers_; }

 private:
  // Alarm: sends every packet whose intended time has come, then re-arms for the next one.
  void OnSendAlarm(TimePoint now);
  TimePoint IntendedTime(uint64_t seq) const;

  ProbeConfig config_;
  Scheduler& scheduler_;
  Transport& transport_;
  TimePoint start_{};
  uint64_t sent_ = 0;
  uint64_t send_failures_ = 0;
  bool stopped_ = false;
  AlarmId alarm_;
  std::vector<std::byte> payload_;
  std::vector<std::byte> datagram_;
  std::map<wire::NodeId, ProbePeerStats> peers_;
};

}  // namespace qsm
