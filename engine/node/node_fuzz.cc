// libFuzzer target for everything behind the decoder: a qsm::Node (region member, senders, GMS
// client) fed arbitrary datagrams, interleaved with its own sends and with time passing. Peer 3 is
// also the node's GMS, so view updates from it reach the GMS client and change the node's views.
// Whatever arrives, the node must not crash, trip a sanitizer, or break an invariant (QSM_CHECK
// aborts).
//
// Input: records of [u8 op][u8 len_lo][u8 len_hi][len bytes]. op % 4:
//   0  deliver the bytes as a datagram from peer 2 or 3 (chosen by op bit 2), sealed with the
//      cluster key if op bit 3 is set (else the authentication drops them)
//   1  the same, after making magic, version, length and checksum consistent, sealed (so it
//      decodes and reaches the protocol with arbitrary field values)
//   2  advance virtual time by (len_lo + 1) x 1 ms and run the node
//   3  the application sends a message of len_lo bytes to group (len_hi % 3) + 1
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "engine/node/fuzz_driver.h"
#include "engine/node/node.h"
#include "engine/runtime/dispatcher.h"
#include "engine/transport/sim/sim_transport.h"

namespace {

using namespace qsm;

struct World {
  VirtualClock clock;
  SimNetwork network{clock, 1};
  Counters counters, peer_counters;
  SimTransport& transport = network.AddHost(Endpoint::FromOctets(198, 18, 0, 1, 7000), counters,
                                            HostModel{.pool_buffers = 64, .max_datagram_bytes = 9216 + kAuthTrailerBytes});
  std::shared_ptr<const ClusterKeys> keys = fuzz::FuzzKeys();
  AuthenticatedTransport sealed{transport, counters, keys, /*salt=*/1};
  Authenticator peer{keys, /*salt=*/2};  // seals what the fuzzer sends as a key holder
  SimTransport& peer2 =
      network.AddHost(Endpoint::FromOctets(198, 18, 0, 2, 7000), peer_counters, HostModel{.pool_buffers = 1});
  SimTransport& peer3 =
      network.AddHost(Endpoint::FromOctets(198, 18, 0, 3, 7000), peer_counters, HostModel{.pool_buffers = 1});
  Scheduler scheduler{clock, counters};
  Random random{1};
  Node node{NodeConfig{.id = 1, .window = SenderWindow{.max_messages = 64}}, scheduler, sealed, random};
  Dispatcher dispatcher{scheduler, sealed, node};
  BufferPool pool{9216 + kAuthTrailerBytes, 8};

  World() {
    wire::RegionView view{.id = {1, 1}, .multicast = Endpoint::FromOctets(239, 18, 0, 1, 7400)};
    view.members = {
        {1, transport.local_endpoint()}, {2, peer2.local_endpoint()}, {3, peer3.local_endpoint()}};
    (void)node.InstallView(view);
    for (wire::GroupId g = 1; g <= 3; ++g) (void)node.Join(g, g == 3);
    (void)node.StartMembership({.node = 1, .incarnation = 1, .gms = peer3.local_endpoint()});
  }
  void RunFor(Duration d) { fuzz::RunUntil(clock, network, scheduler, clock.Now() + d); }
  void Deliver(const Endpoint& from, std::span<const std::byte> bytes, bool seal) {
    if (seal) {
      fuzz::Deliver(pool, sealed, scheduler, from, fuzz::Sealed(peer, bytes));
    } else {
      fuzz::Deliver(pool, sealed, scheduler, from, bytes);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World world;
  fuzz::ForEachRecord(data, size, [&](uint8_t op, size_t len, std::span<const std::byte> bytes) {
    const Endpoint from = (op & 4) ? world.peer3.local_endpoint() : world.peer2.local_endpoint();
    switch (op % 4) {
      case 0:
        world.Deliver(from, bytes, (op & 8) != 0);
        return true;
      case 1:
        if (auto fixed = fuzz::MakeDecodable(bytes)) world.Deliver(from, *fixed, true);
        return true;
      case 2:
        world.RunFor(Duration(std::chrono::milliseconds((len & 0xff) + 1)));
        return false;
      default: {
        std::vector<std::byte> payload(len & 0xff, std::byte{0x42});
        (void)world.node.Send(static_cast<wire::GroupId>((len >> 8) % 3 + 1), payload);
        return false;
      }
    }
  });
  world.RunFor(300ms);  // let the rounds and retransmissions it started run
  return 0;
}
