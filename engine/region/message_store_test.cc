#include "engine/region/message_store.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "engine/core/random.h"

namespace qsm {
namespace {

wire::DataPacket Message(uint64_t seq, const std::vector<std::byte>& payload) {
  return wire::DataPacket{.region_seq = seq, .group_seq = seq * 10, .payload = payload};
}

TEST(MessageStoreTest, BehavesLikeAMapUnderRandomOperations) {
  Random r(5);
  MessageStore store;
  std::map<uint64_t, size_t> model;  // seq -> payload size
  for (int i = 0; i < 20000; ++i) {
    const uint64_t seq = 1 + r.Uniform(300);
    switch (r.Uniform(4)) {
      case 0:
      case 1:
        if (!model.contains(seq)) {
          std::vector<std::byte> payload(r.Uniform(50), std::byte{static_cast<uint8_t>(seq)});
          EXPECT_EQ(store.Put(Message(seq, payload)), payload.size());
          model[seq] = payload.size();
        }
        break;
      case 2: {
        auto it = model.find(seq);
        EXPECT_EQ(store.Erase(seq), it == model.end() ? 0 : it->second);
        if (it != model.end()) model.erase(it);
        break;
      }
      default: {
        size_t freed = 0;
        const uint64_t through = r.Uniform(100);
        for (auto it = model.begin(); it != model.end() && it->first <= through;) {
          freed += it->second;
          it = model.erase(it);
        }
        EXPECT_EQ(store.EraseThrough(through), freed);
      }
    }
    ASSERT_EQ(store.count(), model.size());
    const uint64_t probe = 1 + r.Uniform(300);
    StoredMessage* m = store.Find(probe);
    ASSERT_EQ(m != nullptr, model.contains(probe)) << probe;
    if (m != nullptr) {
      EXPECT_EQ(m->group_seq, probe * 10);
      EXPECT_EQ(m->payload.size(), model[probe]);
    }
  }
  std::vector<uint64_t> visited;
  store.ForEach(0, 1000, [&](uint64_t seq, StoredMessage&) {
    visited.push_back(seq);
    return true;
  });
  std::vector<uint64_t> expected;
  expected.reserve(model.size());
  for (const auto& [seq, size] : model) expected.push_back(seq);
  EXPECT_EQ(visited, expected);
}

}  // namespace
}  // namespace qsm
