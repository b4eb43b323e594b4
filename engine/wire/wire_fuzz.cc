// libFuzzer target for the decoder. Each input is decoded twice: as it is (exercising header and
// checksum checks), and with its magic, version, length and checksum made consistent (so that mutations
// reach the body decoders instead of dying at the checksum). A datagram that decodes must
// re-encode to the same bytes. Run by `make fuzz` and, for a bounded time, by `make test`.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "engine/wire/packets.h"

namespace {

void CheckRoundTrip(std::span<const std::byte> in) {
  auto packet = qsm::wire::Decode(in);
  if (!packet) return;
  std::vector<std::byte> out(qsm::wire::EncodedSize(*packet));
  auto n = qsm::wire::Encode(*packet, out);
  std::vector<std::byte> expected(in.begin(), in.end());
  expected[6] = expected[7] = std::byte{0};  // flags: ignored on decode, written as 0
  if (!expected.empty()) qsm::wire::SealChecksum(expected);
  if (!n || out != expected) std::abort();  // accepted something that does not round-trip
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = std::as_bytes(std::span(data, size));
  (void)qsm::wire::PeekHeader(in);
  CheckRoundTrip(in);
  if (size >= qsm::wire::kHeaderSize && size <= qsm::wire::kMaxPacketSize) {
    std::vector<std::byte> fixed(in.begin(), in.end());
    fixed[0] = std::byte{qsm::wire::kMagic & 0xff};
    fixed[1] = std::byte{qsm::wire::kMagic >> 8};
    fixed[2] = std::byte{qsm::wire::kVersion};
    fixed[4] = static_cast<std::byte>(size & 0xff);
    fixed[5] = static_cast<std::byte>(size >> 8);
    qsm::wire::SealChecksum(fixed);
    CheckRoundTrip(fixed);
  }
  return 0;
}
