// libFuzzer target for the GMS: the membership service fed arbitrary datagrams from several peers,
// with time passing (commits, failure detection, repairs), then restarted from its own saved state.
// Whatever arrives, it must not crash or trip a sanitizer, every commit must leave a consistent
// model (checked below), and a restart must load what it saved.
//
// Input: records of [u8 op][u8 len_lo][u8 len_hi][len bytes]. op % 3:
//   0  the bytes as a datagram from peer (op >> 2) % 4, made to decode (magic, version, length,
//      checksum fixed) and sealed with the cluster key, so the GMS sees arbitrary field values
//   1  the same, as they are, sealed only if op bit 4 is set (else the authentication drops them)
//   2  advance virtual time by (len_lo + 1) x 20 ms
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <vector>

#include "engine/core/check.h"
#include "engine/membership/gms.h"
#include "engine/runtime/dispatcher.h"
#include "engine/node/fuzz_driver.h"
#include "engine/transport/sim/sim_transport.h"

namespace {

using namespace qsm;

// Every region's members are live nodes, each node is in at most one region per set, and the
// groups' region lists match the regions' signatures.
void CheckModel(const membership::Membership& m) {
  using NodeInSet = std::pair<wire::NodeId, membership::SetId>;
  std::map<NodeInSet, int> placed;
  for (const auto& [id, r] : m.regions()) {
    for (wire::NodeId n : r.members) {
      QSM_CHECK(m.node(n) != nullptr, "a region holds an unknown node");
      QSM_CHECK(++placed[NodeInSet(n, r.set)] == 1, "a node is in two regions of one set");
    }
    if (r.members.empty()) continue;
    for (wire::GroupId g : r.signature) {
      const auto* group = m.group(g);
      QSM_CHECK(group != nullptr, "a signature names a group the model does not have");
      bool listed = false;
      for (const auto& rvid : group->regions) listed |= rvid.region == id;
      QSM_CHECK(listed, "a group's view misses a region of its signature");
    }
  }
}

struct World {
  VirtualClock clock;
  SimNetwork network{clock, 1};
  Counters counters, peer_counters;
  SimTransport& transport = network.AddHost(Endpoint::FromOctets(198, 18, 0, 1, 7300), counters,
                                            HostModel{.pool_buffers = 64, .max_datagram_bytes = 65536});
  std::shared_ptr<const ClusterKeys> keys = fuzz::FuzzKeys();
  AuthenticatedTransport sealed{transport, counters, keys, /*salt=*/1};
  Authenticator peer{keys, /*salt=*/2};  // seals what the fuzzer sends as a key holder
  std::vector<SimTransport*> peers;
  Scheduler scheduler{clock, counters};
  membership::MemoryStore store;
  std::unique_ptr<membership::Gms> gms;
  std::unique_ptr<Dispatcher> dispatcher;
  BufferPool pool{65536, 4};

  World() {
    for (uint8_t i = 0; i < 4; ++i) {
      peers.push_back(&network.AddHost(Endpoint::FromOctets(198, 18, 0, static_cast<uint8_t>(10 + i), 7000),
                                       peer_counters, HostModel{.pool_buffers = 1}));
    }
    Start();
  }
  void Start() {
    dispatcher.reset();
    gms = std::make_unique<membership::Gms>(
        membership::GmsConfig{.failure_timeout = 1s, .multicast_count = 4}, scheduler, sealed, store);
    QSM_CHECK(gms->Start().has_value(), "the GMS does not load the state it saved");
    gms->SetCommitObserver([this](uint64_t, const auto&) { CheckModel(gms->membership()); });
    dispatcher = std::make_unique<Dispatcher>(scheduler, sealed, *gms);
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
    const Endpoint from = world.peers[(op >> 2) % 4]->local_endpoint();
    switch (op % 3) {
      case 0:
        if (auto fixed = fuzz::MakeDecodable(bytes)) world.Deliver(from, *fixed, true);
        return true;
      case 1:
        world.Deliver(from, bytes, (op & 16) != 0);
        return true;
      default:
        world.RunFor(Duration(std::chrono::milliseconds(((len & 0xff) + 1) * 20)));
        return false;
    }
  });
  world.RunFor(2s);  // commits, failures
  world.Start();     // a restart from the saved state
  CheckModel(world.gms->membership());
  world.RunFor(500ms);
  return 0;
}
