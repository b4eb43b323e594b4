#include "engine/transport/auth/cluster_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <vector>

namespace qsm {
namespace {

ClusterKey Key(uint32_t id, uint8_t fill) {
  ClusterKey k{.id = id};
  k.secret.fill(std::byte{fill});
  return k;
}

// An Authenticator of `keys`, each with its own salt.
Authenticator Auth(std::vector<ClusterKey> keys) {
  static uint64_t salt = 0;
  return Authenticator(std::make_shared<const ClusterKeys>(std::move(keys)), ++salt);
}

std::vector<std::byte> Sealed(Authenticator& auth, std::vector<std::byte> packet) {
  std::array<std::byte, kAuthTrailerBytes> trailer{};
  auth.Seal(packet, trailer);
  packet.insert(packet.end(), trailer.begin(), trailer.end());
  return packet;
}

std::vector<std::byte> Packet(size_t n) {
  std::vector<std::byte> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = std::byte(i * 7 + 3);
  return p;
}

TEST(ClusterKeysTest, ParsesKeysInOrderWithCommentsAndBlankLines) {
  auto keys = ClusterKeys::Parse(
      "# cluster key\n\n7 000102030405060708090a0b0c0d0e0f   # the signing key\n  9\tffffffffffffffffffffffffffffffff\n");
  ASSERT_TRUE(keys) << keys.error().ToString();
  ASSERT_EQ(keys->keys().size(), 2U);
  EXPECT_EQ(keys->signing_id(), 7U);
  EXPECT_EQ(keys->keys()[0].secret[15], std::byte{0x0f});
  EXPECT_EQ(keys->keys()[1].id, 9U);
}

TEST(ClusterKeysTest, RejectsMalformedKeyFilesNamingTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "no key"},
      {"# only a comment\n", "no key"},
      {"1\n", "line 1"},
      {"0 000102030405060708090a0b0c0d0e0f\n", "key id"},
      {"4294967296 000102030405060708090a0b0c0d0e0f\n", "key id"},
      {"x1 000102030405060708090a0b0c0d0e0f\n", "key id"},
      {"1 000102030405060708090a0b0c0d0e\n", "32 hex"},
      {"1 000102030405060708090a0b0c0d0e0f00\n", "32 hex"},
      {"1 00010203040506070809zz0b0c0d0e0f\n", "32 hex"},
      {"1 000102030405060708090a0b0c0d0e0f\n\n1 0f0102030405060708090a0b0c0d0e0f\n", "line 3: key id 1 appears twice"},
  };
  for (const auto& [text, what] : cases) {
    auto keys = ClusterKeys::Parse(text);
    ASSERT_FALSE(keys) << text;
    EXPECT_EQ(keys.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(keys.error().message.find(what), std::string::npos) << text << " -> " << keys.error().message;
  }
}

TEST(ClusterKeysTest, FormatThenParseGivesTheSameKeys) {
  const std::vector<ClusterKey> keys{ClusterKeys::Generate(3), ClusterKeys::Generate(4)};
  auto parsed = ClusterKeys::Parse(ClusterKeys::Format(keys));
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->keys().size(), 2U);
  EXPECT_EQ(parsed->keys()[0].secret, keys[0].secret);
  EXPECT_EQ(parsed->keys()[1].secret, keys[1].secret);
  EXPECT_NE(keys[0].secret, keys[1].secret);
}

TEST(ClusterKeysTest, OpensWhatItSealsAndGivesThePacketBack) {
  Authenticator keys = Auth({Key(5, 0x11)});
  for (size_t n : {size_t{0}, size_t{1}, size_t{16}, size_t{1000}, size_t{9216}}) {
    auto d = Sealed(keys, Packet(n));
    ASSERT_EQ(d.size(), n + kAuthTrailerBytes);
    EXPECT_EQ(keys.Open(d), n);
    EXPECT_TRUE(std::equal(d.begin(), d.begin() + static_cast<ptrdiff_t>(n), Packet(n).begin()));
  }
}

TEST(ClusterKeysTest, AnyChangedBitOrLengthFailsToOpen) {
  Authenticator keys = Auth({Key(5, 0x11)});
  const auto d = Sealed(keys, Packet(64));
  for (size_t i = 0; i < d.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto t = d;
      t[i] ^= std::byte(1 << bit);
      EXPECT_FALSE(keys.Open(t)) << "byte " << i << " bit " << bit;
    }
  }
  EXPECT_FALSE(keys.Open(std::span(d).first(d.size() - 1)));
  EXPECT_FALSE(keys.Open(std::span(d).subspan(1)));
  EXPECT_FALSE(keys.Open(std::span(d).first(kAuthTrailerBytes - 1)));
  EXPECT_FALSE(keys.Open(Packet(64)));  // no trailer at all
}

TEST(ClusterKeysTest, AnotherKeyOrAnUnknownKeyIdDoesNotOpen) {
  Authenticator mine = Auth({Key(5, 0x11)});
  Authenticator same_id_other_secret = Auth({Key(5, 0x12)});
  Authenticator other_id_same_secret = Auth({Key(6, 0x11)});
  const auto d = Sealed(mine, Packet(100));
  EXPECT_FALSE(same_id_other_secret.Open(d));
  EXPECT_FALSE(other_id_same_secret.Open(d));
}

// UMAC needs a fresh nonce for every datagram under a key: the count changes it within one
// Authenticator, the salt between them.
TEST(ClusterKeysTest, EverySealUsesANewNonce) {
  const auto keys = std::make_shared<const ClusterKeys>(std::vector{Key(5, 0x11)});
  Authenticator a(keys, 1);
  Authenticator b(keys, 2);
  const auto nonce = [](const std::vector<std::byte>& d) {
    return std::vector<std::byte>(d.end() - kNonceBytes - kTagBytes, d.end() - kTagBytes);
  };
  const auto a1 = Sealed(a, Packet(100));
  const auto a2 = Sealed(a, Packet(100));
  const auto b1 = Sealed(b, Packet(100));
  EXPECT_NE(nonce(a1), nonce(a2));
  EXPECT_NE(nonce(a1), nonce(b1));
  EXPECT_NE(a1, a2);
  for (const auto& d : {a1, a2, b1}) {
    EXPECT_EQ(a.Open(d), 100U);
    EXPECT_EQ(b.Open(d), 100U);
  }
  EXPECT_NE(Authenticator::RandomSalt(), Authenticator::RandomSalt());
}

// Rotation: every node accepts old and new while some still sign with the old one.
TEST(ClusterKeysTest, DuringARotationBothKeysOpenAndTheFirstSigns) {
  Authenticator old_only = Auth({Key(1, 0xaa)});
  Authenticator old_first = Auth({Key(1, 0xaa), Key(2, 0xbb)});
  Authenticator new_first = Auth({Key(2, 0xbb), Key(1, 0xaa)});
  Authenticator new_only = Auth({Key(2, 0xbb)});
  const auto by_old = Sealed(old_first, Packet(50));
  const auto by_new = Sealed(new_first, Packet(50));
  EXPECT_TRUE(old_only.Open(by_old));
  EXPECT_TRUE(new_first.Open(by_old));
  EXPECT_TRUE(old_first.Open(by_new));
  EXPECT_TRUE(new_only.Open(by_new));
  EXPECT_FALSE(old_only.Open(by_new));
  EXPECT_FALSE(new_only.Open(by_old));
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("qsm-key-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(KeyFileTest, WriteNewMakesAPrivateFileThatLoadsAndIsNeverReplaced) {
  const auto path = dir_ / "cluster.key";
  const ClusterKey key = ClusterKeys::Generate(1);
  ASSERT_TRUE(ClusterKeys::WriteNew(path, key));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  auto loaded = ClusterKeys::Load(path);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(loaded->keys()[0].secret, key.secret);
  EXPECT_FALSE(ClusterKeys::WriteNew(path, ClusterKeys::Generate(2)));
  EXPECT_EQ(ClusterKeys::Load(path)->keys()[0].secret, key.secret);
}

TEST_F(KeyFileTest, LoadRefusesAFileOthersMayReadAndNamesAMissingOne) {
  const auto path = dir_ / "open.key";
  std::ofstream(path) << ClusterKeys::Format(std::vector{ClusterKeys::Generate(1)});
  ::chmod(path.c_str(), 0644);
  auto loaded = ClusterKeys::Load(path);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos);
  ::chmod(path.c_str(), 0600);
  EXPECT_TRUE(ClusterKeys::Load(path));
  auto missing = ClusterKeys::Load(dir_ / "nope.key");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("nope.key"), std::string::npos);
}

}  // namespace
}  // namespace qsm
