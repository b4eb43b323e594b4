// What the libFuzzer targets behind the decoder share (node_fuzz, gms_fuzz): a protocol on a
// simulated host, driven by the fuzzer's input. The input is a list of records
// [u8 op][u8 len_lo][u8 len_hi][len bytes]; a target decides per op whether a record carries
// bytes. Datagrams reach the protocol through an AuthenticatedTransport and the real Dispatcher,
// as if read from its socket: authentication is on, and the targets seal what should pass it.
// Threading: one thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/core/buffer_pool.h"
#include "engine/runtime/dispatcher.h"
#include "engine/transport/auth/authenticated_transport.h"
#include "engine/transport/sim/sim_network.h"
#include "engine/wire/packets.h"

namespace qsm::fuzz {

// Calls f(op, len, bytes) for each record; bytes are what remains of the record's len (fewer at
// the end of the input). f returns whether the record carries its bytes (else they are the next
// record's).
template <typename F>
void ForEachRecord(const uint8_t* data, size_t size, F&& f) {
  size_t pos = 0;
  while (pos + 3 <= size) {
    const uint8_t op = data[pos];
    const size_t len = data[pos + 1] | (size_t{data[pos + 2]} << 8);
    pos += 3;
    const size_t take = std::min(len, size - pos);
    if (f(op, len, std::as_bytes(std::span(data + pos, take)))) pos += take;
  }
}

// `bytes` with magic, version, length and checksum made consistent, so that it reaches the
// protocol with arbitrary field values; nullopt if it is shorter than a header.
inline std::optional<std::vector<std::byte>> MakeDecodable(std::span<const std::byte> bytes) {
  if (bytes.size() < wire::kHeaderSize) return std::nullopt;
  std::vector<std::byte> fixed(bytes.begin(), bytes.end());
  fixed[0] = std::byte{wire::kMagic & 0xff};
  fixed[1] = std::byte{wire::kMagic >> 8};
  fixed[2] = std::byte{wire::kVersion};
  fixed[4] = static_cast<std::byte>(bytes.size() & 0xff);
  fixed[5] = static_cast<std::byte>(bytes.size() >> 8);
  wire::SealChecksum(fixed);
  return fixed;
}

// Runs the host's core thread and the network until virtual time `end`.
inline void RunUntil(VirtualClock& clock, SimNetwork& network, Scheduler& scheduler, TimePoint end) {
  for (;;) {
    network.RunDue();
    while (scheduler.RunOnce()) {
    }
    network.RunDue();
    auto next = network.NextEventTime();
    auto wake = scheduler.WakeupTime();
    if (wake && (!next || *wake < *next)) next = wake;
    if (!next || *next > end) break;
    clock.AdvanceTo(std::max(*next, clock.Now()));
  }
  clock.AdvanceTo(end);
}

// `bytes` with a cluster-key trailer sealed by `keys` (so it passes an AuthenticatedTransport).
inline std::vector<std::byte> Sealed(Authenticator& keys, std::span<const std::byte> bytes) {
  std::vector<std::byte> sealed(bytes.begin(), bytes.end());
  sealed.resize(bytes.size() + kAuthTrailerBytes);
  keys.Seal(bytes, std::span(sealed).last<kAuthTrailerBytes>());
  return sealed;
}

// The targets' cluster key: authentication is on in every fuzzed path.
inline std::shared_ptr<const ClusterKeys> FuzzKeys() {
  ClusterKey key{.id = 1};
  key.secret.fill(std::byte{0x5a});
  return std::make_shared<const ClusterKeys>(std::vector{key});
}

// Hands `bytes` to `receiver` (the host's transport handler: an AuthenticatedTransport, or the
// Dispatcher) as a datagram from `from`, read now, and runs what it causes.
inline void Deliver(BufferPool& pool, TransportHandler& receiver, Scheduler& scheduler, const Endpoint& from,
                    std::span<const std::byte> bytes) {
  PooledBuffer buffer = pool.Acquire();
  if (!buffer || bytes.size() > buffer.space().size()) return;
  std::memcpy(buffer.space().data(), bytes.data(), bytes.size());
  buffer.set_size(bytes.size());
  receiver.OnReceive(from, std::move(buffer), scheduler.clock().Now());
  while (scheduler.RunOnce()) {
  }
}

}  // namespace qsm::fuzz
