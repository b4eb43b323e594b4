// The cluster key: what authenticates every datagram between a cluster's nodes and its GMS.
//
// A key file holds one or more keys, one per line: a key id (decimal, 1..2^32-1) and 16 random
// bytes in hex. '#' starts a comment. The first key signs what this process sends; every key in
// the file is accepted on receipt, so a key is rotated without a flag day (README, "Rotating the
// cluster key"): add the new key as a second line everywhere, then make it the first line
// everywhere, then remove the old one. The file must not be readable by group or others (0600),
// like an SSH private key.
//
// Sealing appends a trailer to the datagram: the signing key's id (u32, little-endian) and a
// 16-byte tag, SipHash-2-4 with 128-bit output (libsodium's crypto_shorthash_siphashx24) keyed
// with that key, over everything before the tag (the packet and the key id). Opening checks the
// tag with the key the id names, in constant time, and gives back the packet without the trailer.
// What this protects and what it does not: engine/README.md, "Trust model".
// Threading: a ClusterKeys is immutable after Load/Parse; Seal and Open may run on any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"

namespace qsm {

inline constexpr size_t kKeyBytes = 16;
inline constexpr size_t kTagBytes = 16;
inline constexpr size_t kAuthTrailerBytes = 4 + kTagBytes;
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

  // `datagram` is a packet followed by kAuthTrailerBytes of room: writes the trailer there, with
  // the signing key.
  void Seal(std::span<std::byte> datagram) const;
  // The packet's length if `datagram` ends in a trailer whose key id is one of these keys and whose
  // tag matches; nullopt otherwise (too short, unknown key id, bad tag).
  std::optional<size_t> Open(std::span<const std::byte> datagram) const;

 private:
  std::vector<ClusterKey> keys_;
};

}  // namespace qsm
