#include "engine/transport/sim/sim_network.h"

#include <algorithm>

#include "engine/core/check.h"
#include "engine/transport/sim/sim_transport.h"

namespace qsm {

// ---------------------------------------------------------------- SimTransport

SimTransport::SimTransport(SimNetwork& network, size_t index, Endpoint local, Counters& counters,
                           HostModel model)
    : network_(network),
      index_(index),
      local_(local),
      counters_(counters),
      model_(model),
      pool_(model.max_datagram_bytes, model.pool_buffers) {}

SimTransport::~SimTransport() = default;

Status SimTransport::JoinGroup(Endpoint group) {
  if (!group.is_multicast()) {
    return MakeError(ErrorCode::kInvalidArgument, group.ToString() + " is not a multicast address");
  }
  network_.Join(index_, group);
  return {};
}

Status SimTransport::LeaveGroup(Endpoint group) {
  network_.Leave(index_, group);
  return {};
}

SendStatus SimTransport::Send(Endpoint to, std::span<const std::byte> datagram) {
  if (datagram.size() > model_.max_datagram_bytes) {
    counters_.Add(Counter::kSendErrors);
    return SendStatus::kFailed;
  }
  if (model_.egress_bits_per_second > 0 &&
      egress_queued_bytes_ + datagram.size() > model_.send_buffer_bytes) {
    counters_.Add(Counter::kSendWouldBlock);
    return SendStatus::kWouldBlock;
  }
  counters_.Add(Counter::kPacketsSent);
  counters_.Add(Counter::kBytesSent, datagram.size());
  network_.Transmit(index_, to, datagram);
  return SendStatus::kSent;
}

size_t SimTransport::SendBatch(std::span<const OutgoingDatagram> batch) {
  size_t sent = 0;
  for (const auto& d : batch) {
    if (Send(d.to, d.Joined(joined_)) != SendStatus::kSent) break;
    ++sent;
  }
  return sent;
}

size_t SimTransport::PollInput() {
  size_t n = 0;
  while (!inbox_.empty()) {
    PooledBuffer buffer = pool_.Acquire();
    if (!buffer) break;  // like a socket: the rest stays buffered until buffers come back
    Arrived a = inbox_.Pop();
    inbox_bytes_ -= a.bytes->size();
    std::copy(a.bytes->begin(), a.bytes->end(), buffer.space().begin());
    buffer.set_size(a.bytes->size());
    counters_.Add(Counter::kPacketsReceived);
    counters_.Add(Counter::kBytesReceived, a.bytes->size());
    if (handler_ != nullptr) handler_->OnReceive(a.from, std::move(buffer), network_.clock_.Now());
    ++n;
  }
  return n;
}

bool SimTransport::Enqueue(const Endpoint& from, const std::shared_ptr<const std::vector<std::byte>>& bytes) {
  if (inbox_bytes_ + bytes->size() > model_.receive_buffer_bytes) return false;
  inbox_bytes_ += bytes->size();
  inbox_.Push(Arrived{from, bytes});
  return true;
}

void SimTransport::EgressDone(size_t bytes) {
  egress_queued_bytes_ -= bytes;
  if (writable_requested_ && egress_queued_bytes_ <= model_.send_buffer_bytes / 2) {
    writable_requested_ = false;
    if (handler_ != nullptr) handler_->OnWritable();
  }
}

bool SimTransport::InLossWindow(TimePoint t) const {
  return std::any_of(loss_windows_.begin(), loss_windows_.end(),
                     [t](const auto& w) { return t >= w.first && t < w.second; });
}

// ---------------------------------------------------------------- SimNetwork

SimNetwork::SimNetwork(VirtualClock& clock, uint64_t seed, LinkModel default_link)
    : clock_(clock), random_(seed), default_link_(default_link) {}

SimNetwork::~SimNetwork() {
  // Drop in-flight datagrams before the transports (and their pools) go.
  while (!events_.empty()) events_.pop();
}

SimTransport& SimNetwork::AddHost(Endpoint unicast, Counters& counters, HostModel model) {
  QSM_CHECK(!host_index_.contains(unicast), "two sim hosts with one endpoint");
  QSM_CHECK(!unicast.is_multicast(), "a host's endpoint must be unicast");
  const size_t index = hosts_.size();
  hosts_.push_back(std::make_unique<SimTransport>(*this, index, unicast, counters, model));
  host_index_[unicast] = index;
  return *hosts_.back();
}

void SimNetwork::SetLink(Endpoint from, Endpoint to, LinkModel link) {
  links_[{host_index_.at(from), host_index_.at(to)}] = link;
}

void SimNetwork::SetInboundLoss(Endpoint host, double probability) {
  hosts_[host_index_.at(host)]->inbound_loss_ = probability;
}

void SimNetwork::AddInboundLossWindow(Endpoint host, TimePoint start, TimePoint end) {
  hosts_[host_index_.at(host)]->loss_windows_.emplace_back(start, end);
}

void SimNetwork::Partition(const std::set<Endpoint>& side) {
  partition_side_.clear();
  for (const auto& e : side) partition_side_.insert(host_index_.at(e));
}

void SimNetwork::Heal() { partition_side_.clear(); }

void SimNetwork::SetHostDown(Endpoint host, bool down) { hosts_[host_index_.at(host)]->down_ = down; }

void SimNetwork::Join(size_t host, Endpoint group) { groups_[group].insert(host); }

void SimNetwork::Leave(size_t host, Endpoint group) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return;
  it->second.erase(host);
  if (it->second.empty()) groups_.erase(it);
}

const LinkModel& SimNetwork::Link(size_t from, size_t to) const {
  auto it = links_.find({from, to});
  return it == links_.end() ? default_link_ : it->second;
}

bool SimNetwork::Blocked(size_t from, size_t to) const {
  if (hosts_[from]->down_ || hosts_[to]->down_) return true;
  if (partition_side_.empty()) return false;
  return partition_side_.contains(from) != partition_side_.contains(to);
}

void SimNetwork::Push(Event e) {
  e.sequence = next_sequence_++;
  events_.push(std::move(e));
}

bool SimNetwork::Transmit(size_t sender, Endpoint to, std::span<const std::byte> datagram) {
  SimTransport& s = *hosts_[sender];
  const TimePoint now = clock_.Now();
  auto bytes = std::make_shared<const std::vector<std::byte>>(datagram.begin(), datagram.end());
  ++stats_.sent;
  trace_.Add(0x5e);
  trace_.Add(static_cast<uint64_t>(ToNanos(now)));
  trace_.Add(sender);
  trace_.Add(std::hash<Endpoint>{}(to));
  trace_.AddBytes(datagram);

  // Egress: the host's interface serialises datagrams at its bandwidth.
  TimePoint departure = now;
  if (s.model_.egress_bits_per_second > 0) {
    departure = std::max(now, s.egress_free_at_) +
                Duration(datagram.size() * 8 * 1'000'000'000ull / s.model_.egress_bits_per_second);
    s.egress_free_at_ = departure;
    s.egress_queued_bytes_ += datagram.size();
    Push(Event{departure, 0, Event::Kind::kEgressDone, sender, s.local_, bytes});
  }

  if (to.is_multicast()) {
    auto it = groups_.find(to);
    if (it == groups_.end()) return true;
    for (size_t receiver : it->second) {
      if (receiver != sender) ScheduleArrival(sender, receiver, departure, bytes);  // no loop back
    }
    return true;
  }
  auto it = host_index_.find(to);
  if (it == host_index_.end()) {
    ++stats_.no_receiver;
    return false;
  }
  ScheduleArrival(sender, it->second, departure, bytes);
  return true;
}

void SimNetwork::ScheduleArrival(size_t sender, size_t receiver, TimePoint departure,
                                 const std::shared_ptr<const std::vector<std::byte>>& bytes) {
  const LinkModel& link = Link(sender, receiver);
  if (random_.Bernoulli(link.loss)) {
    ++stats_.dropped_loss;
    trace_.Add(0x105);
    return;
  }
  int copies = 1;
  if (random_.Bernoulli(link.duplicate)) {
    ++stats_.duplicated;
    copies = 2;
  }
  for (int c = 0; c < copies; ++c) {
    Duration delay = link.latency;
    if (link.jitter > Duration::zero()) {
      delay += Duration(random_.Uniform(static_cast<uint64_t>(link.jitter.count())));
    }
    if (random_.Bernoulli(link.tail_probability)) {
      delay +=
          Duration(static_cast<int64_t>(random_.Exponential(static_cast<double>(link.tail_mean.count()))));
    }
    if (random_.Bernoulli(link.reorder)) {
      ++stats_.reordered;
      delay += link.reorder_delay;
    }
    Push(Event{departure + delay, 0, Event::Kind::kArrive, receiver, hosts_[sender]->local_, bytes});
  }
}

std::optional<TimePoint> SimNetwork::NextEventTime() const {
  if (events_.empty()) return std::nullopt;
  return events_.top().time;
}

void SimNetwork::RunDue() {
  const TimePoint now = clock_.Now();
  while (!events_.empty() && events_.top().time <= now) {
    Event e = events_.top();
    events_.pop();
    if (e.kind == Event::Kind::kEgressDone) {
      hosts_[e.host]->EgressDone(e.bytes->size());
    } else {
      Arrive(e);
    }
  }
}

void SimNetwork::Arrive(Event& e) {
  SimTransport& receiver = *hosts_[e.host];
  const size_t sender = host_index_.at(e.from);
  uint64_t verdict;
  if (Blocked(sender, e.host)) {
    ++stats_.dropped_partition;
    verdict = 1;
  } else if (receiver.InLossWindow(e.time) ||
             (receiver.inbound_loss_ > 0 && random_.Bernoulli(receiver.inbound_loss_))) {
    ++stats_.dropped_window;
    receiver.counters_.Add(Counter::kDroppedFault);
    verdict = 2;
  } else if (!receiver.Enqueue(e.from, e.bytes)) {
    ++stats_.dropped_overflow;
    verdict = 3;
  } else {
    ++stats_.delivered;
    verdict = 0;
  }
  trace_.Add(static_cast<uint64_t>(ToNanos(e.time)));
  trace_.Add(e.host);
  trace_.Add(sender);
  trace_.Add(verdict);
}

}  // namespace qsm
