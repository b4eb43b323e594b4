// The core thread's scheduler (PROTOCOL.md §6, paper §4). Three event sources are polled round
// robin, each in a batch bounded by its quantum: I/O (default 50 ms), timers (5 ms), application
// requests (no limit). In the I/O phase every registered IoSource is drained first (a socket with
// data is emptied: loss happens when packets sit in OS buffers), its events are scattered over six
// priority classes, and events are handled highest class first, FIFO within a class. Sources are
// drained again after every 64 inbound events and after every outbound event (a batch of sends),
// so a token that arrives behind a burst of data, or while the node is sending, still goes first.
// The I/O phase also ends early when a timer is due and no inbound event waits: on a path that is
// always writable (loopback, a fast NIC) a sender's own outbound data would otherwise hold every
// timer (round starts, token hop re-sends) for the whole I/O quantum, making the ACK clock, and
// so the pending window, 50 ms coarse at full speed. Inbound events are still drained first.
//
// The same scheduler runs in the real runtime (RealClock) and in simulation (VirtualClock); under
// virtual time no quantum ever expires, so every phase runs to completion.
// Threading: core thread only, except requests().Post(), which any thread may call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/core/alarm_queue.h"
#include "engine/core/buffer_pool.h"
#include "engine/core/counters.h"
#include "engine/core/endpoint.h"
#include "engine/core/request_queue.h"
#include "engine/core/ring_queue.h"
#include "engine/core/time.h"
#include "engine/core/traffic.h"

namespace qsm {

// I/O priority classes, highest first (PROTOCOL.md §6).
enum class IoClass : uint8_t {
  kInboundControl,   // tokens, ACKs, NAKs, pull requests, membership
  kInboundRecovery,  // retransmissions and forwarded data
  kInboundData,      // regular multicast
  kOutboundControl,
  kOutboundRecovery,
  kOutboundData,
};
inline constexpr size_t kIoClassCount = 6;
std::string_view IoClassName(IoClass c);
// The class an inbound packet of `traffic` is queued in.
constexpr IoClass InboundClass(Traffic traffic) {
  switch (traffic) {
    case Traffic::kControl:
      return IoClass::kInboundControl;
    case Traffic::kRecovery:
      return IoClass::kInboundRecovery;
    case Traffic::kData:
      return IoClass::kInboundData;
  }
  return IoClass::kInboundControl;
}

class IoHandler;

// One unit of I/O work. Inbound: a received datagram. Outbound: permission for a sink to pull
// from its feeds of that class (buffer empty).
struct IoEvent {
  IoHandler* handler = nullptr;  // must outlive the event
  PooledBuffer buffer;
  Endpoint peer;   // inbound: the sender's unicast endpoint
  TimePoint time;  // inbound: when the transport read it
};

class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual void HandleIo(IoClass io_class, IoEvent& event) = 0;
};

// A source of inbound I/O the scheduler drains at the start of every I/O batch, e.g. a transport.
class IoSource {
 public:
  virtual ~IoSource() = default;
  // Reads everything available now (without blocking) and posts it with Scheduler::PostIo.
  // Returns the number of events posted.
  virtual size_t PollInput() = 0;
};

struct SchedulerQuanta {
  Duration io = 50ms;
  Duration timers = 5ms;
  // Requests have no quantum: the whole batch present at the start of the phase runs.
};

class Scheduler {
 public:
  // `clock` and `counters` must outlive the scheduler.
  Scheduler(const Clock& clock, Counters& counters, SchedulerQuanta quanta = {});
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  const Clock& clock() const { return clock_; }
  AlarmQueue& alarms() { return alarms_; }
  RequestQueue& requests() { return requests_; }
  Counters& counters() { return counters_; }

  // `source` must outlive the scheduler or be removed first.
  void AddIoSource(IoSource* source) { sources_.push_back(source); }
  void RemoveIoSource(IoSource* source);

  void PostIo(IoClass io_class, IoEvent event);
  size_t io_queue_depth(IoClass c) const { return io_queues_[static_cast<size_t>(c)].size(); }

  // One round robin pass: I/O, timers, requests. Returns true if any event was handled.
  bool RunOnce();
  // When the core thread may sleep until, if no I/O arrives: now if work is pending, the next
  // alarm's deadline, or nullopt if nothing is scheduled at all.
  std::optional<TimePoint> WakeupTime();

 private:
  size_t PollSources();
  // Handles up to `max_events` queued I/O events, highest class first.
  size_t DispatchIo(size_t max_events);
  size_t RunIoPhase();
  bool OnlyOutboundQueued() const;

  const Clock& clock_;
  Counters& counters_;
  SchedulerQuanta quanta_;
  AlarmQueue alarms_;
  RequestQueue requests_;
  std::vector<IoSource*> sources_;
  std::array<RingQueue<IoEvent>, kIoClassCount> io_queues_;
  size_t io_queued_ = 0;
};

}  // namespace qsm
