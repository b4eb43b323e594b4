#include "engine/transport/auth/cluster_key.h"

#include <fcntl.h>
#include <nettle/memops.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/core/check.h"
#include "engine/wire/bytes.h"

namespace qsm {
namespace {

static_assert(UMAC_KEY_SIZE == kKeyBytes);
static_assert(UMAC96_DIGEST_SIZE == kTagBytes);
static_assert(UMAC_MAX_NONCE_SIZE >= kNonceBytes);

// Fills `out` from the operating system's random source (blocks only until it is seeded at boot).
void RandomBytes(std::span<std::byte> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    QSM_CHECK(n > 0, "getrandom failed");
    done += static_cast<size_t>(n);
  }
}

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

const uint8_t* Bytes(const std::byte* p) { return reinterpret_cast<const uint8_t*>(p); }

}  // namespace

ClusterKeys::ClusterKeys(std::vector<ClusterKey> keys) : keys_(std::move(keys)) {
  QSM_CHECK(!keys_.empty() && keys_.size() <= kMaxClusterKeys, "1 to kMaxClusterKeys keys");
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
  ClusterKey key{.id = id};
  RandomBytes(key.secret);
  return key;
}

std::string ClusterKeys::Format(std::span<const ClusterKey> keys) {
  std::string out = "# QSM cluster key: <key id> <16 bytes in hex>. The first key signs; all are accepted.\n";
  static constexpr char kHex[] = "0123456789abcdef";
  for (const auto& k : keys) {
    out += std::to_string(k.id) + " ";
    for (std::byte b : k.secret) {
      out += kHex[std::to_integer<unsigned>(b) >> 4];
      out += kHex[std::to_integer<unsigned>(b) & 0xf];
    }
    out += "\n";
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

uint64_t Authenticator::RandomSalt() {
  uint64_t salt = 0;
  RandomBytes(std::as_writable_bytes(std::span(&salt, 1)));
  return salt;
}

Authenticator::Authenticator(std::shared_ptr<const ClusterKeys> keys, uint64_t salt)
    : keys_(std::move(keys)), salt_(salt) {
  QSM_CHECK(keys_ != nullptr, "an Authenticator needs keys");
  macs_.resize(keys_->keys().size());
  for (size_t i = 0; i < macs_.size(); ++i) umac96_set_key(&macs_[i], Bytes(keys_->keys()[i].secret.data()));
}

void Authenticator::Seal(std::span<const std::byte> packet, std::span<std::byte, kAuthTrailerBytes> trailer) {
  wire::Writer fields(trailer);
  fields.U32(keys_->signing_id());
  fields.U64(salt_);  // the nonce: salt, then count
  fields.U64(sealed_++);
  const std::byte* nonce = trailer.data() + 4;
  umac96_ctx& mac = macs_.front();
  umac96_set_nonce(&mac, kNonceBytes, Bytes(nonce));
  umac96_update(&mac, packet.size(), Bytes(packet.data()));
  umac96_update(&mac, 4, Bytes(trailer.data()));
  umac96_digest(&mac, kTagBytes, reinterpret_cast<uint8_t*>(trailer.data() + 4 + kNonceBytes));
}

std::optional<size_t> Authenticator::Open(std::span<const std::byte> datagram) {
  if (datagram.size() < kAuthTrailerBytes) return std::nullopt;
  const size_t packet = datagram.size() - kAuthTrailerBytes;
  const std::byte* trailer = datagram.data() + packet;
  const uint32_t id = wire::Reader(std::span(trailer, 4)).U32();
  const std::vector<ClusterKey>& keys = keys_->keys();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].id != id) continue;
    umac96_ctx& mac = macs_[i];
    umac96_set_nonce(&mac, kNonceBytes, Bytes(trailer + 4));
    umac96_update(&mac, packet + 4, Bytes(datagram.data()));
    uint8_t tag[kTagBytes];
    umac96_digest(&mac, kTagBytes, tag);
    if (nettle_memeql_sec(tag, trailer + 4 + kNonceBytes, kTagBytes) == 0) return std::nullopt;
    return packet;
  }
  return std::nullopt;
}

}  // namespace qsm
