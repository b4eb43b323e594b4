#include "engine/core/scheduler.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {
namespace {

// Events handled between two drains of the sources (and two looks at the clock).
constexpr size_t kDispatchBatch = 64;

constexpr Counter kIoCounters[kIoClassCount] = {
    Counter::kIoInboundControl,  Counter::kIoInboundRecovery,  Counter::kIoInboundData,
    Counter::kIoOutboundControl, Counter::kIoOutboundRecovery, Counter::kIoOutboundData,
};

}  // namespace

std::string_view IoClassName(IoClass c) {
  static constexpr std::string_view kNames[kIoClassCount] = {
      "inbound_control",  "inbound_recovery",  "inbound_data",
      "outbound_control", "outbound_recovery", "outbound_data",
  };
  return kNames[static_cast<size_t>(c)];
}

Scheduler::Scheduler(const Clock& clock, Counters& counters, SchedulerQuanta quanta)
    : clock_(clock), counters_(counters), quanta_(quanta), alarms_(&counters) {}

void Scheduler::RemoveIoSource(IoSource* source) { std::erase(sources_, source); }

void Scheduler::PostIo(IoClass io_class, IoEvent event) {
  QSM_CHECK(event.handler != nullptr, "IoEvent without a handler");
  io_queues_[static_cast<size_t>(io_class)].Push(std::move(event));
  ++io_queued_;
}

size_t Scheduler::PollSources() {
  size_t n = 0;
  for (IoSource* source : sources_) n += source->PollInput();
  return n;
}

size_t Scheduler::DispatchIo(size_t max_events) {
  size_t handled = 0;
  while (handled < max_events && io_queued_ > 0) {
    size_t c = 0;
    while (io_queues_[c].empty()) ++c;  // Invariant: io_queued_ > 0, so some queue is non-empty.
    IoEvent event = io_queues_[c].Pop();
    --io_queued_;
    counters_.Add(kIoCounters[c]);
    event.handler->HandleIo(static_cast<IoClass>(c), event);
    ++handled;
    // An outbound event is a batch of sends: look at the sockets again before the next one, so
    // a token that arrived meanwhile goes first.
    if (c >= static_cast<size_t>(IoClass::kOutboundControl)) break;
  }
  return handled;
}

size_t Scheduler::RunIoPhase() {
  const TimePoint deadline = clock_.Now() + quanta_.io;
  size_t handled = 0;
  for (;;) {
    PollSources();
    if (io_queued_ == 0) break;
    handled += DispatchIo(kDispatchBatch);
    const TimePoint now = clock_.Now();
    if (now >= deadline || (OnlyOutboundQueued() && alarms_.NextDeadline().value_or(TimePoint::max()) <= now)) break;
  }
  return handled;
}

bool Scheduler::OnlyOutboundQueued() const {
  for (size_t c = 0; c < static_cast<size_t>(IoClass::kOutboundControl); ++c) {
    if (!io_queues_[c].empty()) return false;
  }
  return true;
}

bool Scheduler::RunOnce() {
  counters_.Add(Counter::kSchedulerRounds);
  size_t handled = RunIoPhase();
  handled += alarms_.FireDue(clock_, quanta_.timers);
  const size_t requests = requests_.RunAll();
  counters_.Add(Counter::kRequestsRun, requests);
  return handled + requests > 0;
}

std::optional<TimePoint> Scheduler::WakeupTime() {
  if (io_queued_ > 0 || requests_.HasPending()) return clock_.Now();
  return alarms_.NextDeadline();
}

}  // namespace qsm
