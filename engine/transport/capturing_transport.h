// CapturingTransport: a Transport for unit tests of protocol classes (in the style of Aeron's
// loss-detector tests: move time, feed a packet, expect what goes out). It records every datagram
// the protocol sends and delivers nothing: tests hand packets to the protocol directly.
// Threading: single-threaded tests only.
#pragma once

#include <algorithm>
#include <limits>
#include <vector>

#include "engine/transport/transport.h"
#include "engine/wire/packets.h"

namespace qsm {

class CapturingTransport final : public Transport {
 public:
  struct Sent {
    Endpoint to;
    std::vector<std::byte> bytes;
    // The decoded packet; its spans point into `bytes`.
    wire::Packet packet() const { return *wire::Decode(bytes); }
    wire::PacketType type() const { return packet().type; }
  };

  explicit CapturingTransport(Endpoint self) : self_(self) {}

  // Everything sent since the last call, in order.
  std::vector<Sent> TakeSent() { return std::exchange(sent_, {}); }
  // Of what was sent since the last TakeSent (which this does not clear), those of `type`.
  std::vector<Sent> SentOf(wire::PacketType type) const {
    std::vector<Sent> out;
    std::copy_if(sent_.begin(), sent_.end(), std::back_inserter(out), [&](const Sent& s) { return s.type() == type; });
    return out;
  }
  // After this many more sends, every send answers kWouldBlock.
  void BlockAfter(size_t sends) { room_ = sends; }
  bool writable_requested() const { return writable_requested_; }
  const std::vector<Endpoint>& groups() const { return groups_; }

  Endpoint local_endpoint() const override { return self_; }
  void SetHandler(TransportHandler*) override {}
  // Every JoinGroup from now on fails (as with too many memberships).
  void FailJoins() { fail_joins_ = true; }
  Status JoinGroup(Endpoint group) override {
    if (fail_joins_) return MakeError(ErrorCode::kIo, "cannot join " + group.ToString());
    groups_.push_back(group);
    return {};
  }
  Status LeaveGroup(Endpoint group) override {
    std::erase(groups_, group);
    return {};
  }
  SendStatus Send(Endpoint to, std::span<const std::byte> datagram) override {
    if (room_ == 0) return SendStatus::kWouldBlock;
    --room_;
    sent_.push_back(Sent{to, std::vector<std::byte>(datagram.begin(), datagram.end())});
    return SendStatus::kSent;
  }
  size_t SendBatch(std::span<const OutgoingDatagram> batch) override {
    size_t n = 0;
    std::vector<std::byte> joined;
    while (n < batch.size() && Send(batch[n].to, batch[n].Joined(joined)) == SendStatus::kSent) ++n;
    return n;
  }
  void RequestWritable() override { writable_requested_ = true; }
  void WaitForInput(std::optional<TimePoint>) override {}
  Waker& waker() override { return no_waker_; }
  size_t PollInput() override { return 0; }

 private:
  class NoWaker final : public Waker {
   public:
    void Wake() override {}
  };
  Endpoint self_;
  std::vector<Sent> sent_;
  std::vector<Endpoint> groups_;
  size_t room_ = std::numeric_limits<size_t>::max();
  bool writable_requested_ = false;
  NoWaker no_waker_;
  bool fail_joins_ = false;
};

}  // namespace qsm
