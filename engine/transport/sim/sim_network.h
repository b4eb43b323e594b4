// An in-process network in virtual time, for deterministic simulation. Hosts get SimTransports;
// datagrams sent between them are delivered after a per-link latency with jitter and a tail,
// subject to random loss, inbound loss windows, partitions, duplication and reordering, and to
// each host's egress bandwidth and receive buffer. Every random choice comes from the seed, and
// events at the same virtual time are ordered by insertion, so a run is fully determined by its
// seed and inputs; trace_hash() fingerprints everything the network did.
// Threading: one thread (the simulation's).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <vector>

#include "engine/core/endpoint.h"
#include "engine/core/hasher.h"
#include "engine/core/random.h"
#include "engine/core/time.h"

namespace qsm {

class SimTransport;
class Counters;

// How datagrams travel from one host to another.
struct LinkModel {
  Duration latency = 50us;        // base one-way delay
  Duration jitter = 10us;         // plus uniform [0, jitter)
  double tail_probability = 0.0;  // with this probability, plus an exponential tail...
  Duration tail_mean = 1ms;       // ...of this mean
  double loss = 0.0;              // independent loss probability per datagram and receiver
  double duplicate = 0.0;         // probability a delivered datagram arrives twice
  double reorder = 0.0;           // probability of an extra delay that lets later ones overtake
  Duration reorder_delay = 500us;
};

// A host's network interface and socket limits.
struct HostModel {
  uint64_t egress_bits_per_second = 0;            // 0: unlimited
  size_t send_buffer_bytes = 256 * 1024;          // queued for egress beyond this: kWouldBlock
  size_t receive_buffer_bytes = 4 * 1024 * 1024;  // unread beyond this: dropped, as in an OS
  size_t pool_buffers = 512;                      // buffers between socket and protocol
  size_t max_datagram_bytes = 9216;
};

struct SimNetworkStats {
  uint64_t sent = 0;               // datagrams handed to the network by senders
  uint64_t delivered = 0;          // datagrams placed in a receive buffer
  uint64_t dropped_loss = 0;       // random link loss
  uint64_t dropped_window = 0;     // inbound loss windows
  uint64_t dropped_partition = 0;  // partitions and down hosts
  uint64_t dropped_overflow = 0;   // receive buffer full
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t no_receiver = 0;  // unicast to an unknown host
};

class SimNetwork {
 public:
  // `clock` must outlive the network; only the simulation driver moves it.
  SimNetwork(VirtualClock& clock, uint64_t seed, LinkModel default_link = {});
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // Creates the host at `unicast` (its address and port) and returns its transport, owned by the
  // network. `counters` (the node's) must outlive the network.
  SimTransport& AddHost(Endpoint unicast, Counters& counters, HostModel model = {});

  // Overrides the link model for datagrams from `from` to `to` (hosts' unicast endpoints).
  void SetLink(Endpoint from, Endpoint to, LinkModel link);
  void SetDefaultLink(LinkModel link) { default_link_ = link; }
  // Drops everything arriving at `host` during [start, end).
  void AddInboundLossWindow(Endpoint host, TimePoint start, TimePoint end);
  // Drops each datagram arriving at `host` with this probability (on top of the links' loss).
  void SetInboundLoss(Endpoint host, double probability);
  // Splits the network: hosts in `side` and hosts outside it cannot reach each other.
  void Partition(const std::set<Endpoint>& side);
  void Heal();
  // A down host sends and receives nothing (a crash, from the network's point of view).
  void SetHostDown(Endpoint host, bool down);

  // When the next datagram arrives or an egress queue drains; nullopt if nothing is in flight.
  std::optional<TimePoint> NextEventTime() const;
  // Performs every network event due at or before the clock's now.
  void RunDue();

  const SimNetworkStats& stats() const { return stats_; }
  uint64_t trace_hash() const { return trace_.value(); }

 private:
  friend class SimTransport;
  struct Event {
    TimePoint time;
    uint64_t sequence;
    enum class Kind { kArrive, kEgressDone } kind;
    size_t host;  // kArrive: receiver; kEgressDone: sender
    Endpoint from;
    std::shared_ptr<const std::vector<std::byte>> bytes;
    bool operator>(const Event& o) const { return time != o.time ? time > o.time : sequence > o.sequence; }
  };

  // Called by SimTransport::Send.
  bool Transmit(size_t sender, Endpoint to, std::span<const std::byte> datagram);
  void Join(size_t host, Endpoint group);
  void Leave(size_t host, Endpoint group);
  void ScheduleArrival(size_t sender, size_t receiver, TimePoint departure,
                       const std::shared_ptr<const std::vector<std::byte>>& bytes);
  void Arrive(Event& e);
  SimTransport& host(size_t i) { return *hosts_[i]; }
  const LinkModel& Link(size_t from, size_t to) const;
  bool Blocked(size_t from, size_t to) const;
  void Push(Event e);

  VirtualClock& clock_;
  Random random_;
  LinkModel default_link_;
  std::vector<std::unique_ptr<SimTransport>> hosts_;
  std::map<Endpoint, size_t> host_index_;
  std::map<Endpoint, std::set<size_t>> groups_;  // multicast group -> subscribed hosts
  std::map<std::pair<size_t, size_t>, LinkModel> links_;
  std::set<size_t> partition_side_;  // empty: no partition
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  uint64_t next_sequence_ = 0;
  SimNetworkStats stats_;
  Hasher trace_;
};

}  // namespace qsm
