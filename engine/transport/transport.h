// The Transport interface: how a node's core thread sends and receives datagrams. Two
// implementations: asio/ (real UDP unicast and IP multicast) and sim/ (an in-process network in
// virtual time). Protocol code sees only this interface (STYLE rule 1).
//
// Receiving: the scheduler calls PollInput() (Transport is an IoSource); the transport reads every
// datagram available now into pooled buffers and hands each to its TransportHandler.
// Threading: core thread only, except waker().Wake(), which any thread may call.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "engine/core/buffer_pool.h"
#include "engine/core/endpoint.h"
#include "engine/core/request_queue.h"
#include "engine/core/scheduler.h"
#include "engine/core/status.h"
#include "engine/core/time.h"

namespace qsm {

class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  // A datagram from `from` (the sender's unicast endpoint), read at `at`. Called from PollInput().
  virtual void OnReceive(const Endpoint& from, PooledBuffer datagram, TimePoint at) = 0;
  // The transport can take more data after a send returned kWouldBlock and RequestWritable().
  virtual void OnWritable() = 0;
};

enum class SendStatus {
  kSent,
  kWouldBlock,  // the send buffer is full; call RequestWritable() to hear when it drains
  kFailed,      // refused (counted in kSendErrors); the datagram is gone
};

// One datagram: `bytes`, then `trailer`. The trailer lets a decorator append to a datagram
// without copying it (AuthenticatedTransport's MAC); the protocol leaves it empty.
struct OutgoingDatagram {
  Endpoint to;
  std::span<const std::byte> bytes;
  std::span<const std::byte> trailer = {};

  size_t size() const { return bytes.size() + trailer.size(); }
  // The whole datagram in one span, for a transport that cannot gather: `bytes` itself when there
  // is no trailer, otherwise both copied into `scratch`.
  std::span<const std::byte> Joined(std::vector<std::byte>& scratch) const {
    if (trailer.empty()) return bytes;
    scratch.assign(bytes.begin(), bytes.end());
    scratch.insert(scratch.end(), trailer.begin(), trailer.end());
    return scratch;
  }
};

class Transport : public IoSource {
 public:
  // Where peers reach this node; also the source address of everything it sends.
  virtual Endpoint local_endpoint() const = 0;
  // `handler` must outlive the transport, or be replaced before it dies.
  virtual void SetHandler(TransportHandler* handler) = 0;

  // Subscribes to a multicast group (address and port). Joining twice is a no-op. A node never
  // receives its own multicasts back (the protocol records its own messages when it sends them).
  virtual Status JoinGroup(Endpoint group) = 0;
  virtual Status LeaveGroup(Endpoint group) = 0;

  // Sends one datagram, unicast or multicast. Never blocks.
  virtual SendStatus Send(Endpoint to, std::span<const std::byte> datagram) = 0;
  // Sends datagrams in order, in as few system calls as the implementation can; stops at the
  // first that is not sent. Returns how many were sent.
  virtual size_t SendBatch(std::span<const OutgoingDatagram> batch) = 0;
  // Asks for one OnWritable() call once the transport can take data again.
  virtual void RequestWritable() = 0;

  // Real transports: blocks until input may be ready, waker().Wake() is called, or `deadline`
  // (nullopt: no deadline). Simulated transports return at once: the simulator moves time.
  virtual void WaitForInput(std::optional<TimePoint> deadline) = 0;
  virtual Waker& waker() = 0;
};

}  // namespace qsm
