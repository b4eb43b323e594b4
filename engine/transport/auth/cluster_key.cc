#include "engine/transport/auth/cluster_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/core/check.h"

namespace qsm {
namespace {

static_assert(crypto_shorthash_siphashx24_KEYBYTES == kKeyBytes);
static_assert(crypto_shorthash_siphashx24_BYTES == kTagBytes);

void InitSodium() { QSM_CHECK(sodium_init() >= 0, "libsodium failed to initialise"); }

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::optional<std::array<std::byte, kKeyBytes>> ParseHex(std::string_view hex) {
  if (hex.size() != 2 * kKeyBytes) return std::nullopt;
  std::array<std::byte, kKeyBytes> out{};
  for (size_t i = 0; i < kKeyBytes; ++i) {
    uint8_t v = 0;
    auto [end, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, v, 16);
    if (ec != std::errc{} || end != hex.data() + 2 * i + 2) return std::nullopt;
    out[i] = std::byte{v};
  }
  return out;
}

uint32_t LoadU32(const std::byte* p) {
  return std::to_integer<uint32_t>(p[0]) | std::to_integer<uint32_t>(p[1]) << 8 |
         std::to_integer<uint32_t>(p[2]) << 16 | std::to_integer<uint32_t>(p[3]) << 24;
}

}  // namespace

ClusterKeys::ClusterKeys(std::vector<ClusterKey> keys) : keys_(std::move(keys)) {
  QSM_CHECK(!keys_.empty() && keys_.size() <= kMaxClusterKeys, "1 to kMaxClusterKeys keys");
  InitSodium();
}

Result<ClusterKeys> ClusterKeys::Parse(std::string_view text) {
  std::vector<ClusterKey> keys;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    auto bad = [&](std::string_view what) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "key file line " + std::to_string(line_number) + ": " + std::string(what));
    };
    const size_t space = line.find_first_of(" \t");
    if (space == std::string_view::npos) return bad("expected '<key id> <32 hex digits>'");
    const std::string_view id_text = line.substr(0, space);
    uint32_t id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc{} || end != id_text.data() + id_text.size() || id == 0) {
      return bad("the key id must be a number from 1 to 4294967295");
    }
    auto secret = ParseHex(Trim(line.substr(space)));
    if (!secret) return bad("the key must be 32 hex digits (16 bytes)");
    for (const auto& k : keys) {
      if (k.id == id) return bad("key id " + std::to_string(id) + " appears twice");
    }
    if (keys.size() == kMaxClusterKeys) return bad("more than " + std::to_string(kMaxClusterKeys) + " keys");
    keys.push_back({id, *secret});
  }
  if (keys.empty()) return MakeError(ErrorCode::kInvalidArgument, "key file has no key");
  return ClusterKeys(std::move(keys));
}

Result<ClusterKeys> ClusterKeys::Load(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return MakeError(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                     "key file " + path.string() + ": " + std::strerror(errno));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "key file " + path.string() + " may be read by group or others: chmod 600 it");
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return MakeError(ErrorCode::kIo, "key file " + path.string() + ": cannot read it");
  auto keys = Parse(text.str());
  if (!keys) return MakeError(keys.error().code, path.string() + ": " + keys.error().message);
  return keys;
}

ClusterKey ClusterKeys::Generate(uint32_t id) {
  QSM_CHECK(id != 0, "key ids are non-zero");
  InitSodium();
  ClusterKey key{.id = id};
  randombytes_buf(key.secret.data(), key.secret.size());
  return key;
}

std::string ClusterKeys::Format(std::span<const ClusterKey> keys) {
  std::string out = "# QSM cluster key: <key id> <16 bytes in hex>. The first key signs; all are accepted.\n";
  for (const auto& k : keys) {
    char hex[2 * kKeyBytes + 1];
    sodium_bin2hex(hex, sizeof hex, reinterpret_cast<const unsigned char*>(k.secret.data()), k.secret.size());
    out += std::to_string(k.id) + " " + hex + "\n";
  }
  return out;
}

Status ClusterKeys::WriteNew(const std::filesystem::path& path, const ClusterKey& key) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kIo, "key file " + path.string() + ": " + std::strerror(errno));
  const std::string text = Format(std::span(&key, 1));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) return MakeError(ErrorCode::kIo, "key file " + path.string() + ": write failed");
  return {};
}

void ClusterKeys::Seal(std::span<std::byte> datagram) const {
  QSM_CHECK(datagram.size() >= kAuthTrailerBytes, "no room for the trailer");
  const ClusterKey& key = keys_.front();
  std::byte* id = datagram.data() + datagram.size() - kAuthTrailerBytes;
  for (size_t i = 0; i < 4; ++i) id[i] = std::byte(key.id >> (8 * i));
  crypto_shorthash_siphashx24(reinterpret_cast<unsigned char*>(id + 4),
                              reinterpret_cast<const unsigned char*>(datagram.data()), datagram.size() - kTagBytes,
                              reinterpret_cast<const unsigned char*>(key.secret.data()));
}

std::optional<size_t> ClusterKeys::Open(std::span<const std::byte> datagram) const {
  if (datagram.size() < kAuthTrailerBytes) return std::nullopt;
  const size_t packet = datagram.size() - kAuthTrailerBytes;
  const uint32_t id = LoadU32(datagram.data() + packet);
  for (const auto& key : keys_) {
    if (key.id != id) continue;
    unsigned char tag[kTagBytes];
    crypto_shorthash_siphashx24(tag, reinterpret_cast<const unsigned char*>(datagram.data()), packet + 4,
                                reinterpret_cast<const unsigned char*>(key.secret.data()));
    if (crypto_verify_16(tag, reinterpret_cast<const unsigned char*>(datagram.data() + packet + 4)) != 0) break;
    return packet;
  }
  return std::nullopt;
}

}  // namespace qsm
