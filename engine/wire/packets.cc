#include "engine/wire/packets.h"

#include <algorithm>
#include <array>
#include <utility>
#include <type_traits>

#include "engine/core/check.h"
#include "engine/wire/bytes.h"
#include "engine/wire/crc32c.h"

namespace qsm::wire {
namespace {

constexpr size_t kChecksumOffset = 12;
constexpr size_t kSenderRecordFixed = 56;
constexpr size_t kTokenFixed = 34;
constexpr size_t kAckSize = 40;
constexpr size_t kRecoveryFixed = 13;
constexpr size_t kMemberSize = 10;
constexpr size_t kRegionViewFixed = 16;
constexpr size_t kGroupViewFixed = 10;
constexpr size_t kViewUpdateFixed = 45;
constexpr size_t kRegisterFixed = 28;

// Whether packets of type `t` carry a `Body`.
template <typename Body>
bool TypeCarries(PacketType t) {
  const PacketTypeInfo* info = InfoOf(static_cast<uint8_t>(t));
  return info != nullptr && info->body == BodyIndex<Body>();
}

// ---- sizes ----
size_t BodySize(const DataPacket& p) { return kDataBodyFixed + p.payload.size(); }
size_t BodySize(const DataBatchPacket& p) { return kDataBatchFixed + p.entries.size(); }
size_t BodySize(const SenderRecord& r) {
  return kSenderRecordFixed + (r.missing_all.size() + r.pred_missing.size()) * kRangeBytes +
         r.partition_contiguous.size() * 8;
}
size_t BodySize(const TokenPacket& p) {
  size_t n = kTokenFixed;
  for (const auto& r : p.records) n += BodySize(r);
  return n;
}
size_t BodySize(const AckPacket&) { return kAckSize; }
size_t BodySize(const RecoveryRequest& p) { return kRecoveryFixed + p.ranges.size() * kRangeBytes; }
size_t BodySize(const TokenAckPacket&) { return 25; }
size_t BodySize(const RegisterPacket& p) { return kRegisterFixed + p.groups.size() * 4; }
size_t BodySize(const HeartbeatPacket&) { return 28; }
size_t BodySize(const DeregisterPacket&) { return 12; }
size_t BodySize(const ViewUpdatePacket& p) {
  size_t n = kViewUpdateFixed;
  for (const auto& r : p.regions) n += kRegionViewFixed + r.members.size() * kMemberSize;
  for (const auto& g : p.groups) n += kGroupViewFixed + g.regions.size() * 8;
  return n;
}

// ---- bounds ----
bool WithinBounds(const DataPacket&) { return true; }
bool WithinBounds(const DataBatchPacket& p) {
  return p.count >= 1 && p.entries.size() >= p.count * kDataBatchEntryFixed;
}
bool WithinBounds(const SenderRecord& r) {
  return r.missing_all.size() <= kMaxRanges && r.pred_missing.size() <= kMaxRanges &&
         r.partition_contiguous.size() <= kMaxPartitions;
}
bool WithinBounds(const TokenPacket& p) {
  return p.records.size() <= kMaxSenderRecords &&
         std::all_of(p.records.begin(), p.records.end(), [](const auto& r) { return WithinBounds(r); });
}
bool WithinBounds(const AckPacket&) { return true; }
bool WithinBounds(const RecoveryRequest& p) { return !p.ranges.empty() && p.ranges.size() <= kMaxRanges; }
bool WithinBounds(const TokenAckPacket& p) { return p.level <= 1; }
bool WithinBounds(const RegisterPacket& p) { return p.groups.size() <= kMaxRegisterGroups; }
bool WithinBounds(const HeartbeatPacket&) { return true; }
bool WithinBounds(const DeregisterPacket&) { return true; }
bool WithinBounds(const ViewUpdatePacket& p) {
  if (p.parts == 0 || p.part >= p.parts) return false;
  if (p.regions.size() > kMaxViewsPerUpdate || p.groups.size() > kMaxViewsPerUpdate) return false;
  for (const auto& r : p.regions) {
    if (r.members.size() > kMaxViewMembers) return false;
  }
  for (const auto& g : p.groups) {
    if (g.regions.size() > kMaxViewMembers) return false;
  }
  return true;
}

// ---- writers ----
void Put(Writer& w, RegionViewId id) {
  w.U32(id.region);
  w.U32(id.view);
}
void Put(Writer& w, const Endpoint& e) {
  w.U32(e.address);
  w.U16(e.port);
}
void Put(Writer& w, const SeqRange& r) {
  w.U64(r.first);
  w.U64(r.last);
}
void Put(Writer& w, const DataPacket& p) {
  Put(w, p.rvid);
  w.U32(p.sender);
  w.U32(p.group);
  w.U64(p.region_seq);
  w.U64(p.group_seq);
  w.I64(p.send_time_ns);
  w.U8(p.catch_up ? kDataFlagCatchUp : 0);
  w.Bytes(p.payload);
}
void Put(Writer& w, const DataBatchPacket& p) {
  Put(w, p.rvid);
  w.U32(p.sender);
  w.U64(p.first_region_seq);
  w.U16(p.count);
  w.Bytes(p.entries);
}
void Put(Writer& w, const SenderRecord& r) {
  w.U32(r.sender);
  w.U64(r.highest_seen);
  w.U64(r.contiguous);
  w.U64(r.cleanup);
  w.U32(r.rate_min);
  w.U32(r.rate_max);
  w.U64(r.rate_sum);
  w.U64(r.pred_contiguous);
  w.U8(static_cast<uint8_t>(r.missing_all.size()));
  w.U8(static_cast<uint8_t>(r.pred_missing.size()));
  w.U16(static_cast<uint16_t>(r.partition_contiguous.size()));
  for (const auto& n : r.missing_all) Put(w, n);
  for (const auto& n : r.pred_missing) Put(w, n);
  for (uint64_t c : r.partition_contiguous) w.U64(c);
}
void Put(Writer& w, const TokenPacket& p) {
  Put(w, p.rvid);
  w.U64(p.round);
  w.U32(p.partition);
  w.U32(p.members_visited);
  w.I64(p.round_start_ns);
  w.U16(static_cast<uint16_t>(p.records.size()));
  for (const auto& r : p.records) Put(w, r);
}
void Put(Writer& w, const AckPacket& p) {
  Put(w, p.rvid);
  w.U32(p.sender);
  w.U64(p.round);
  w.U64(p.stable);
  w.U32(p.rate_min);
  w.U32(p.rate_avg);
  w.U32(p.rate_max);
}
void Put(Writer& w, const RecoveryRequest& p) {
  Put(w, p.rvid);
  w.U32(p.sender);
  w.U8(static_cast<uint8_t>(p.ranges.size()));
  for (const auto& r : p.ranges) Put(w, r);
}
void Put(Writer& w, const TokenAckPacket& p) {
  Put(w, p.rvid);
  w.U64(p.round);
  w.U32(p.partition);
  w.U32(p.members_visited);
  w.U8(p.level);
}
void Put(Writer& w, const RegisterPacket& p) {
  w.U32(p.node);
  w.U64(p.incarnation);
  Put(w, p.unicast);
  w.U64(p.groups_version);
  w.U16(static_cast<uint16_t>(p.groups.size()));
  for (GroupId g : p.groups) w.U32(g);
}
void Put(Writer& w, const HeartbeatPacket& p) {
  w.U32(p.node);
  w.U64(p.incarnation);
  w.U64(p.seq);
  w.U64(p.applied_epoch);
}
void Put(Writer& w, const DeregisterPacket& p) {
  w.U32(p.node);
  w.U64(p.incarnation);
}
void Put(Writer& w, const ViewUpdatePacket& p) {
  w.U64(p.epoch);
  w.U64(p.prev_epoch);
  w.U32(p.node);
  w.U64(p.incarnation);
  w.U64(p.groups_version);
  w.U8(p.snapshot ? 1 : 0);
  w.U16(p.part);
  w.U16(p.parts);
  w.U16(static_cast<uint16_t>(p.regions.size()));
  w.U16(static_cast<uint16_t>(p.groups.size()));
  for (const auto& r : p.regions) {
    Put(w, r.id);
    Put(w, r.multicast);
    w.U16(static_cast<uint16_t>(r.members.size()));
    for (const auto& m : r.members) {
      w.U32(m.node);
      Put(w, m.endpoint);
    }
  }
  for (const auto& g : p.groups) {
    w.U32(g.group);
    w.U32(g.view);
    w.U16(static_cast<uint16_t>(g.regions.size()));
    for (const auto& r : g.regions) Put(w, r);
  }
}

// ---- readers: each returns false on any bound violation ----
RegionViewId GetRvid(Reader& r) {
  RegionViewId id;
  id.region = r.U32();
  id.view = r.U32();
  return id;
}
Endpoint GetEndpoint(Reader& r) {
  Endpoint e;
  e.address = r.U32();
  e.port = r.U16();
  return e;
}
// Reads `count` ranges, each with first <= last.
bool GetRanges(Reader& r, size_t count, std::vector<SeqRange>& out) {
  if (count * kRangeBytes > r.remaining()) return false;
  out.resize(count);
  for (auto& range : out) {
    range.first = r.U64();
    range.last = r.U64();
    if (range.first > range.last) return false;
  }
  return r.ok();
}
bool Get(Reader& r, DataPacket& p) {
  p.rvid = GetRvid(r);
  p.sender = r.U32();
  p.group = r.U32();
  p.region_seq = r.U64();
  p.group_seq = r.U64();
  p.send_time_ns = r.I64();
  const uint8_t flags = r.U8();
  if ((flags & ~kDataFlagCatchUp) != 0) return false;
  p.catch_up = flags == kDataFlagCatchUp;
  p.payload = r.Bytes(r.remaining());
  return r.ok();
}
bool Get(Reader& r, DataBatchPacket& p) {
  p.rvid = GetRvid(r);
  p.sender = r.U32();
  p.first_region_seq = r.U64();
  p.count = r.U16();
  if (!r.ok() || p.count == 0 || p.first_region_seq == 0 || p.first_region_seq > UINT64_MAX - p.count) return false;
  const size_t entries_size = r.remaining();
  Reader entries = r;
  for (uint16_t i = 0; i < p.count; ++i) {
    (void)r.Bytes(kDataBatchEntryFixed - 5);  // group, group_seq, send_time_ns
    const uint8_t flags = r.U8();
    (void)r.Bytes(r.U32());
    if (!r.ok() || (flags & ~kDataFlagCatchUp) != 0) return false;
  }
  p.entries = entries.Bytes(entries_size - r.remaining());
  return r.ok();
}
bool Get(Reader& r, SenderRecord& rec) {
  rec.sender = r.U32();
  rec.highest_seen = r.U64();
  rec.contiguous = r.U64();
  rec.cleanup = r.U64();
  rec.rate_min = r.U32();
  rec.rate_max = r.U32();
  rec.rate_sum = r.U64();
  rec.pred_contiguous = r.U64();
  const size_t missing_all = r.U8();
  const size_t pred_missing = r.U8();
  const size_t partitions = r.U16();
  if (!r.ok() || missing_all > kMaxRanges || pred_missing > kMaxRanges || partitions > kMaxPartitions) {
    return false;
  }
  if (!GetRanges(r, missing_all, rec.missing_all) || !GetRanges(r, pred_missing, rec.pred_missing))
    return false;
  if (partitions * 8 > r.remaining()) return false;
  rec.partition_contiguous.resize(partitions);
  for (auto& c : rec.partition_contiguous) c = r.U64();
  return r.ok();
}
bool Get(Reader& r, TokenPacket& p) {
  p.rvid = GetRvid(r);
  p.round = r.U64();
  p.partition = r.U32();
  p.members_visited = r.U32();
  p.round_start_ns = r.I64();
  const size_t count = r.U16();
  if (!r.ok() || count > kMaxSenderRecords || count * kSenderRecordFixed > r.remaining()) return false;
  p.records.resize(count);
  for (auto& rec : p.records) {
    if (!Get(r, rec)) return false;
  }
  return true;
}
bool Get(Reader& r, AckPacket& p) {
  p.rvid = GetRvid(r);
  p.sender = r.U32();
  p.round = r.U64();
  p.stable = r.U64();
  p.rate_min = r.U32();
  p.rate_avg = r.U32();
  p.rate_max = r.U32();
  return r.ok();
}
bool Get(Reader& r, RecoveryRequest& p) {
  p.rvid = GetRvid(r);
  p.sender = r.U32();
  const size_t count = r.U8();
  if (!r.ok() || count == 0 || count > kMaxRanges) return false;
  return GetRanges(r, count, p.ranges);
}
bool Get(Reader& r, TokenAckPacket& p) {
  p.rvid = GetRvid(r);
  p.round = r.U64();
  p.partition = r.U32();
  p.members_visited = r.U32();
  p.level = r.U8();
  return r.ok() && WithinBounds(p);
}
bool Get(Reader& r, RegisterPacket& p) {
  p.node = r.U32();
  p.incarnation = r.U64();
  p.unicast = GetEndpoint(r);
  p.groups_version = r.U64();
  const size_t count = r.U16();
  if (!r.ok() || count > kMaxRegisterGroups || count * 4 > r.remaining()) return false;
  p.groups.resize(count);
  for (GroupId& g : p.groups) g = r.U32();
  return r.ok();
}
bool Get(Reader& r, HeartbeatPacket& p) {
  p.node = r.U32();
  p.incarnation = r.U64();
  p.seq = r.U64();
  p.applied_epoch = r.U64();
  return r.ok();
}
bool Get(Reader& r, DeregisterPacket& p) {
  p.node = r.U32();
  p.incarnation = r.U64();
  return r.ok();
}
bool Get(Reader& r, ViewUpdatePacket& p) {
  p.epoch = r.U64();
  p.prev_epoch = r.U64();
  p.node = r.U32();
  p.incarnation = r.U64();
  p.groups_version = r.U64();
  const uint8_t flags = r.U8();
  if (flags > 1) return false;
  p.snapshot = flags == 1;
  p.part = r.U16();
  p.parts = r.U16();
  if (!r.ok() || p.parts == 0 || p.part >= p.parts) return false;
  const size_t regions = r.U16();
  const size_t groups = r.U16();
  if (!r.ok() || regions * kRegionViewFixed + groups * kGroupViewFixed > r.remaining()) return false;
  p.regions.resize(regions);
  for (auto& view : p.regions) {
    view.id = GetRvid(r);
    view.multicast = GetEndpoint(r);
    const size_t members = r.U16();
    if (!r.ok() || members * kMemberSize > r.remaining()) return false;
    view.members.resize(members);
    for (auto& m : view.members) {
      m.node = r.U32();
      m.endpoint = GetEndpoint(r);
    }
  }
  p.groups.resize(groups);
  for (auto& view : p.groups) {
    view.group = r.U32();
    view.view = r.U32();
    const size_t count = r.U16();
    if (!r.ok() || count * 8 > r.remaining()) return false;
    view.regions.resize(count);
    for (auto& id : view.regions) id = GetRvid(r);
  }
  return r.ok();
}

template <typename Body>
std::expected<Packet, DecodeError> DecodeBody(const Header& h, Reader& r) {
  Body body;
  if (!Get(r, body) || r.remaining() != 0) return std::unexpected(DecodeError::kBadBody);
  return Packet{h.type, h.source, PacketBody(std::move(body))};
}

// One decoder per PacketBody alternative, indexed by PacketTypeInfo::body.
using BodyDecoder = std::expected<Packet, DecodeError> (*)(const Header&, Reader&);
template <size_t... I>
constexpr auto MakeBodyDecoders(std::index_sequence<I...>) {
  return std::array<BodyDecoder, sizeof...(I)>{&DecodeBody<std::variant_alternative_t<I, PacketBody>>...};
}
constexpr auto kBodyDecoders = MakeBodyDecoders(std::make_index_sequence<std::variant_size_v<PacketBody>>());

void WriteHeader(Writer& w, PacketType type, NodeId source, size_t length) {
  w.U16(kMagic);
  w.U8(kVersion);
  w.U8(static_cast<uint8_t>(type));
  w.U16(static_cast<uint16_t>(length));
  w.U16(0);
  w.U32(source);
  w.U32(0);  // checksum, filled in by SealChecksum
}

uint32_t ComputeChecksum(std::span<const std::byte> packet) {
  uint32_t crc = Crc32c(0, packet.first(kChecksumOffset));
  static constexpr std::byte kZero[4] = {};
  crc = Crc32c(crc, kZero);
  return Crc32c(crc, packet.subspan(kHeaderSize));
}

}  // namespace

void SealChecksum(std::span<std::byte> packet);

namespace {

template <typename Body>
Result<size_t> EncodeBody(PacketType type, NodeId source, const Body& body, std::span<std::byte> out) {
  if (!TypeCarries<Body>(type)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "packet type " + std::string(PacketTypeName(type)) + " does not carry this body");
  }
  if (!WithinBounds(body)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(PacketTypeName(type)) + ": a count exceeds its wire bound");
  }
  const size_t length = kHeaderSize + BodySize(body);
  if (length > kMaxPacketSize) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(PacketTypeName(type)) + ": " +
                                                      std::to_string(length) +
                                                      " bytes exceeds the packet limit");
  }
  if (length > out.size()) {
    return MakeError(ErrorCode::kUnavailable, "encode buffer too small");
  }
  Writer w(out);
  WriteHeader(w, type, source, length);
  Put(w, body);
  QSM_CHECK(w.ok() && w.size() == length, "BodySize and Put disagree");
  SealChecksum(out.first(length));
  return length;
}

}  // namespace

bool operator==(const DataPacket& a, const DataPacket& b) {
  return a.rvid == b.rvid && a.sender == b.sender && a.group == b.group && a.region_seq == b.region_seq &&
         a.group_seq == b.group_seq && a.send_time_ns == b.send_time_ns && a.catch_up == b.catch_up &&
         std::equal(a.payload.begin(), a.payload.end(), b.payload.begin(), b.payload.end());
}

bool operator==(const DataBatchPacket& a, const DataBatchPacket& b) {
  return a.rvid == b.rvid && a.sender == b.sender && a.first_region_seq == b.first_region_seq &&
         a.count == b.count && std::equal(a.entries.begin(), a.entries.end(), b.entries.begin(), b.entries.end());
}

// kPacketTypes indexed by the type byte (every datagram is looked up here, some twice).
constexpr std::array<const PacketTypeInfo*, 256> kInfoByType = [] {
  std::array<const PacketTypeInfo*, 256> table{};
  for (const auto& info : kPacketTypes) table[static_cast<uint8_t>(info.type)] = &info;
  return table;
}();

const PacketTypeInfo* InfoOf(uint8_t t) { return kInfoByType[t]; }

std::string_view PacketTypeName(PacketType t) {
  const PacketTypeInfo* info = InfoOf(static_cast<uint8_t>(t));
  return info != nullptr ? info->name : "unknown";
}

const PacketTypeInfo& InfoOf(PacketType t) {
  const PacketTypeInfo* info = InfoOf(static_cast<uint8_t>(t));
  QSM_CHECK(info != nullptr, "a PacketType value outside kPacketTypes");
  return *info;
}

std::optional<RegionViewId> RegionViewOf(const Packet& packet) {
  const Scope scope = InfoOf(packet.type).scope;
  if (scope != Scope::kRegion && scope != Scope::kSender) return std::nullopt;
  return std::visit(
      [](const auto& body) -> std::optional<RegionViewId> {
        if constexpr (requires { body.rvid; }) {
          return body.rvid;
        } else {
          return std::nullopt;
        }
      },
      packet.body);
}

std::string_view DecodeErrorName(DecodeError e) {
  switch (e) {
    case DecodeError::kTooShort:
      return "too short";
    case DecodeError::kBadMagic:
      return "bad magic";
    case DecodeError::kBadVersion:
      return "bad version";
    case DecodeError::kBadLength:
      return "bad length";
    case DecodeError::kBadChecksum:
      return "bad checksum";
    case DecodeError::kUnknownType:
      return "unknown type";
    case DecodeError::kBadBody:
      return "bad body";
  }
  return "unknown";
}

Counter DropCounter(DecodeError e) {
  switch (e) {
    case DecodeError::kBadMagic:
    case DecodeError::kBadVersion:
      return Counter::kDroppedVersion;
    case DecodeError::kBadChecksum:
      return Counter::kDroppedChecksum;
    default:
      return Counter::kDroppedMalformed;
  }
}

void SealChecksum(std::span<std::byte> packet) {
  QSM_CHECK(packet.size() >= kHeaderSize, "SealChecksum on less than a header");
  const uint32_t crc = ComputeChecksum(packet);
  Writer w(packet.subspan(kChecksumOffset, 4));
  w.U32(crc);
}

size_t EncodedSize(const SenderRecord& record) { return BodySize(record); }
size_t EncodedTokenSize(const TokenPacket& token) { return kHeaderSize + BodySize(token); }

size_t EncodedSize(const Packet& packet) {
  return kHeaderSize + std::visit([](const auto& body) { return BodySize(body); }, packet.body);
}

Result<size_t> Encode(const Packet& packet, std::span<std::byte> out) {
  return std::visit([&](const auto& body) { return EncodeBody(packet.type, packet.source, body, out); },
                    packet.body);
}

Result<size_t> EncodeData(PacketType type, NodeId source, const DataPacket& data, std::span<std::byte> out) {
  return EncodeBody(type, source, data, out);
}

std::expected<Header, DecodeError> PeekHeader(std::span<const std::byte> datagram) {
  if (datagram.size() < kHeaderSize) return std::unexpected(DecodeError::kTooShort);
  Reader r(datagram);
  if (r.U16() != kMagic) return std::unexpected(DecodeError::kBadMagic);
  Header h;
  h.version = r.U8();
  if (h.version != kVersion) return std::unexpected(DecodeError::kBadVersion);
  const uint8_t type = r.U8();
  h.length = r.U16();
  r.U16();  // flags
  h.source = r.U32();
  h.checksum = r.U32();
  if (h.length != datagram.size()) return std::unexpected(DecodeError::kBadLength);
  if (InfoOf(type) == nullptr) return std::unexpected(DecodeError::kUnknownType);
  h.type = static_cast<PacketType>(type);
  return h;
}

std::expected<Packet, DecodeError> Decode(std::span<const std::byte> datagram) {
  auto header = PeekHeader(datagram);
  if (!header) return std::unexpected(header.error());
  if (ComputeChecksum(datagram) != header->checksum) return std::unexpected(DecodeError::kBadChecksum);
  Reader r(datagram.subspan(kHeaderSize));
  return kBodyDecoders[InfoOf(header->type).body](*header, r);
}

DataBatchWriter::DataBatchWriter(std::span<std::byte> out, NodeId source, RegionViewId rvid, NodeId sender,
                                 uint64_t first_region_seq, PacketType type)
    : out_(out.first(std::min(out.size(), kMaxPacketSize))), size_(kHeaderSize + kDataBatchFixed) {
  QSM_CHECK(out_.size() >= size_, "a batch buffer smaller than a batch header");
  QSM_CHECK(InfoOf(type).body == BodyIndex<DataBatchPacket>(), "DataBatchWriter for a type without a batch body");
  Writer w(out_);
  WriteHeader(w, type, source, 0);  // length, later
  Put(w, rvid);
  w.U32(sender);
  w.U64(first_region_seq);
}

bool DataBatchWriter::Fits(size_t payload_bytes) const {
  return count_ < UINT16_MAX && payload_bytes <= out_.size() - size_ &&
         out_.size() - size_ - payload_bytes >= kDataBatchEntryFixed;
}

void DataBatchWriter::Add(const DataPacket& m) {
  QSM_CHECK(Fits(m.payload.size()), "DataBatchWriter::Add beyond the datagram");
  Writer w(out_.subspan(size_));
  w.U32(m.group);
  w.U64(m.group_seq);
  w.I64(m.send_time_ns);
  w.U8(m.catch_up ? kDataFlagCatchUp : 0);
  w.U32(static_cast<uint32_t>(m.payload.size()));
  w.Bytes(m.payload);
  size_ += w.size();
  ++count_;
}

size_t DataBatchWriter::Finish() {
  QSM_CHECK(count_ >= 1, "an empty data batch");
  Writer length(out_.subspan(4, 2));
  length.U16(static_cast<uint16_t>(size_));
  Writer count(out_.subspan(kHeaderSize + kDataBatchFixed - 2, 2));
  count.U16(count_);
  SealChecksum(out_.first(size_));
  return size_;
}

}  // namespace qsm::wire
