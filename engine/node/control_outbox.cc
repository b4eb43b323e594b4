#include "engine/node/control_outbox.h"

namespace qsm {

ControlOutbox::ControlOutbox(Transport& below, Counters& counters, size_t max_queued)
    : below_(below), counters_(counters), max_queued_(max_queued) {}

bool ControlOutbox::Flush() {
  while (!queue_.empty()) {
    const Waiting& w = queue_.front();
    if (below_.Send(w.to, w.bytes) == SendStatus::kWouldBlock) {
      below_.RequestWritable();
      return false;
    }
    queue_.pop_front();  // sent, or refused for good (counted below)
  }
  return true;
}

SendStatus ControlOutbox::Send(Endpoint to, std::span<const std::byte> datagram) {
  if (!Flush()) {
    Queue(to, datagram);
    return SendStatus::kSent;
  }
  const SendStatus status = below_.Send(to, datagram);
  if (status != SendStatus::kWouldBlock) return status;
  Queue(to, datagram);
  below_.RequestWritable();
  return SendStatus::kSent;
}

size_t ControlOutbox::SendBatch(std::span<const OutgoingDatagram> batch) {
  std::vector<std::byte> joined;
  for (const OutgoingDatagram& d : batch) Send(d.to, d.Joined(joined));
  return batch.size();
}

void ControlOutbox::Queue(Endpoint to, std::span<const std::byte> datagram) {
  if (queue_.size() >= max_queued_) {
    queue_.pop_front();
    counters_.Add(Counter::kControlDropped);
  }
  queue_.push_back(Waiting{to, {datagram.begin(), datagram.end()}});
  counters_.Add(Counter::kControlQueued);
}

}  // namespace qsm
