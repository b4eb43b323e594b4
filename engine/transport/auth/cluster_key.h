// The cluster key: what authenticates every datagram between a cluster's nodes and its GMS.
//
// A key file holds one or more keys, one per line: a key id (decimal, 1..2^32-1) and 16 random
// bytes in hex. '#' starts a comment. The first key signs what this process sends; every key in
// the file is accepted on receipt, so a key is rotated without a flag day (README, "Rotating the
// cluster key"): add the new key as a second line everywhere, then make it the first line
// everywhere, then remove the old one. The file must not be readable by group or others (0600),
// like an SSH private key.
//
// An Authenticator seals and opens datagrams with a ClusterKeys. Sealing appends a trailer: the
// signing key's id (u32, little-endian), a 16-byte nonce (the Authenticator's 8-byte salt, then a
// u64 count of the datagrams it has sealed, little-endian) and a 12-byte tag: UMAC-96 (RFC 4418,
// Nettle's umac96) keyed with that key, with that nonce, over the packet and the key id. Opening
// checks the tag with the key the id names, in constant time, and gives back the packet without
// the trailer. UMAC is secure only while no nonce repeats under a key: each process draws its salt
// from the operating system, so two of n processes share one with probability about n^2 / 2^65.
// Why UMAC: it is the fastest well-kept MAC on the hardware we measured (engine/README.md, "Trust
// model"), and what it costs is what the cluster key costs a node.
// What this protects and what it does not: engine/README.md, "Trust model".
// Threading: a ClusterKeys is immutable after Load/Parse and may be shared by threads; an
// Authenticator belongs to one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nettle/umac.h>

#include "engine/core/status.h"

namespace qsm {

inline constexpr size_t kKeyBytes = 16;
inline constexpr size_t kNonceBytes = 16;
inline constexpr size_t kTagBytes = 12;
inline constexpr size_t kAuthTrailerBytes = 4 + kNonceBytes + kTagBytes;
inline constexpr size_t kMaxClusterKeys = 8;

struct ClusterKey {
  uint32_t id = 0;  // non-zero
  std::array<std::byte, kKeyBytes> secret{};
};

class ClusterKeys {
 public:
  // Parses a key file's text. Errors (kInvalidArgument) name the line: a bad id or hex, a repeated
  // id, more than kMaxClusterKeys keys, or no key at all.
  static Result<ClusterKeys> Parse(std::string_view text);
  // Reads and parses a key file. Errors: kNotFound, kIo, kInvalidArgument (also when group or
  // others may read it: "chmod 600").
  static Result<ClusterKeys> Load(const std::filesystem::path& path);
  // A new key with `id` from the operating system's random source.
  static ClusterKey Generate(uint32_t id);
  // A key file's text for `keys`, in order (the first signs).
  static std::string Format(std::span<const ClusterKey> keys);
  // Writes a new key file with one key (mode 0600). Refuses to replace an existing file.
  static Status WriteNew(const std::filesystem::path& path, const ClusterKey& key);

  explicit ClusterKeys(std::vector<ClusterKey> keys);  // requires 1..kMaxClusterKeys keys, ids distinct

  uint32_t signing_id() const { return keys_.front().id; }
  const std::vector<ClusterKey>& keys() const { return keys_; }

 private:
  std::vector<ClusterKey> keys_;
};

class Authenticator {
 public:
  // A salt from the operating system's random source.
  static uint64_t RandomSalt();

  // `salt` starts every nonce this Authenticator seals with: no two Authenticators that seal with
  // one key may share it (a simulation derives distinct ones from its seed, to repeat exactly).
  explicit Authenticator(std::shared_ptr<const ClusterKeys> keys, uint64_t salt = RandomSalt());

  const ClusterKeys& keys() const { return *keys_; }

  // Writes `packet`'s trailer, with the signing key and the next nonce. The datagram to send is
  // `packet` followed by `trailer`.
  void Seal(std::span<const std::byte> packet, std::span<std::byte, kAuthTrailerBytes> trailer);
  // The packet's length if `datagram` ends in a trailer whose key id is one of the keys and whose
  // tag matches; nullopt otherwise (too short, unknown key id, bad tag).
  std::optional<size_t> Open(std::span<const std::byte> datagram);

 private:
  std::shared_ptr<const ClusterKeys> keys_;
  std::vector<umac96_ctx> macs_;  // macs_[i] is keyed with keys_->keys()[i]
  uint64_t salt_;
  uint64_t sealed_ = 0;
};

}  // namespace qsm
