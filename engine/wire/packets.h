// Every QSM packet: its fields, its byte layout, and explicit encode/decode.
//
// All integers are little-endian. Every packet starts with this 16-byte header:
//
//   offset size field
//   0      2    magic 0x5153 ("SQ" on the wire)
//   2      1    version (kVersion)
//   3      1    type (PacketType)
//   4      2    length: header + body, in bytes; must equal the datagram's size
//   6      2    flags: reserved, sent as 0 and ignored
//   8      4    source: NodeId of the node that transmitted this datagram
//   12     4    checksum: CRC-32C of the whole packet with this field taken as 0
//
// Bodies are laid out in the comment above each struct. Counts are bounded (kMax*) and checked
// against the bytes that remain before anything is allocated, so a malformed count cannot make
// the decoder allocate much. Decode never reads outside its input and reports every malformed
// datagram as a DecodeError; it never aborts on input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "engine/core/counters.h"
#include "engine/core/endpoint.h"
#include "engine/core/status.h"
#include "engine/core/traffic.h"
#include "engine/wire/bytes.h"

namespace qsm::wire {

inline constexpr uint16_t kMagic = 0x5153;
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kMaxPacketSize = 65507;  // largest UDP payload over IPv4

inline constexpr size_t kMaxRanges = 255;       // per range list (u8 count): NAK, pull, token record (orig: 20)
inline constexpr size_t kMaxSenderRecords = 1024;  // per token
inline constexpr size_t kMaxPartitions = 4096;     // per region token record
inline constexpr size_t kMaxViewMembers = 65535;
inline constexpr size_t kMaxViewsPerUpdate = 65535;
inline constexpr size_t kMaxRegisterGroups = 16000;  // groups one node may join (fits one datagram)

using NodeId = uint32_t;
using GroupId = uint32_t;

enum class PacketType : uint8_t {
  kData = 1,            // a sender's multicast to a region
  kRetransmit = 2,      // the sender's repair of a message a whole partition/region lost
  kForward = 3,         // a peer's push or pull answer carrying a cached message
  kPartitionToken = 4,  // circulates among a partition's members
  kRegionToken = 5,     // circulates among a region's partition leaders
  kAck = 6,             // region leader -> sender: stable prefix
  kNak = 7,             // partition leader -> sender: ranges no caching member has
  kPullRequest = 8,     // member -> member: send me these cached messages
  kTokenAck = 9,        // next member -> previous: the token hop arrived (else it is re-sent)
  kDataBatch = 10,      // a sender's multicast of several consecutive messages in one datagram
  kForwardBatch = 11,   // a peer's forwards of several consecutive messages of one sender, to one member
  kRegister = 16,       // node -> GMS: here I am, and these are all my groups
  kHeartbeat = 17,      // node -> GMS: alive, and the last view update applied
  kDeregister = 18,     // node -> GMS: leaving the cluster
  kViewUpdate = 19,     // GMS -> node: region views and group views that changed for it
};

// Scopes sequence numbers and traffic: (region id, view number).
struct RegionViewId {
  uint32_t region = 0;
  uint32_t view = 0;
  friend auto operator<=>(const RegionViewId&, const RegionViewId&) = default;
};

// Inclusive range of region sequence numbers, first <= last.
struct SeqRange {
  uint64_t first = 0;
  uint64_t last = 0;
  friend bool operator==(const SeqRange&, const SeqRange&) = default;
};

// kData, kRetransmit, kForward. Body:
//   0 u32 region  4 u32 view  8 u32 sender  12 u32 group
//   16 u64 region_seq  24 u64 group_seq  32 i64 send_time_ns  40 u8 flags  41.. payload (to the end)
// flags: bit 0 catch_up; any other bit set makes the datagram malformed.
struct DataPacket {
  RegionViewId rvid;
  NodeId sender = 0;  // the original sender (the header's source may be a forwarder)
  GroupId group = 0;
  uint64_t region_seq = 0;             // per (sender, region view), from 1
  uint64_t group_seq = 0;              // per (sender, group), from 1
  int64_t send_time_ns = 0;            // the intended send time, for latency without coordinated omission
  // A copy, for members that moved here from another region of the group, of a message their old
  // region had pending when they left it: a member that joined the group in this very view does
  // not deliver it (engine/README.md, "View changes").
  bool catch_up = false;
  std::span<const std::byte> payload;  // decode: points into the datagram
  friend bool operator==(const DataPacket& a, const DataPacket& b);
};
inline constexpr size_t kDataBodyFixed = 41;
inline constexpr uint8_t kDataFlagCatchUp = 1;

// kDataBatch: messages region_seq first_region_seq .. first_region_seq + count - 1 of one sender to
// one region view, packed into one datagram by the sender (small messages are not bounded by
// datagrams per second). kForwardBatch: the same body, sent by a peer that forwards those
// messages to one member (a push or the answer to a pull: a burst one member lost is repaired in
// datagrams of many messages, not one per message). Body:
//   0 u32 region  4 u32 view  8 u32 sender  12 u64 first_region_seq  20 u16 count
//   22.. count x (u32 group  u64 group_seq  i64 send_time_ns  u8 flags  u32 length  length bytes)
// The fields mean what they mean in DataPacket. Decode checks every entry (count >= 1, lengths
// within the datagram, nothing left over, no seq beyond 2^64 - 1).
struct DataBatchPacket {
  RegionViewId rvid;
  NodeId sender = 0;
  uint64_t first_region_seq = 0;
  uint16_t count = 0;
  std::span<const std::byte> entries;  // the count entries as on the wire
  // Calls f(const DataPacket&) for each message, in region-seq order; payloads point into `entries`.
  template <typename F>
  void ForEach(F&& f) const;
  friend bool operator==(const DataBatchPacket& a, const DataBatchPacket& b);
};
inline constexpr size_t kDataBatchFixed = 22;
// The largest batch a sender builds: receivers drop datagrams beyond their largest receive
// (AsioTransportConfig::max_datagram_bytes, 9216 by default).
inline constexpr size_t kMaxDataBatchBytes = 9216;
inline constexpr size_t kDataBatchEntryFixed = 25;

// Per active sender, in a token. Body:
//   0 u32 sender  4 u64 highest_seen  12 u64 contiguous  20 u64 cleanup  28 u32 rate_min
//   32 u32 rate_max  36 u64 rate_sum  44 u64 pred_contiguous  52 u8 missing_all_count
//   53 u8 pred_missing_count  54 u16 partition_count
//   56 missing_all_count x (u64 first, u64 last)  then pred_missing_count x (u64 first, u64 last)
//   then partition_count x u64
struct SenderRecord {
  NodeId sender = 0;
  uint64_t highest_seen = 0;  // max over every member visited this round
  uint64_t contiguous = 0;    // partition token: min over the partition's visited members of their
                              // contiguous prefix; region token: min over finished partitions
  uint64_t cleanup = 0;       // stable point from the last round: cached data up to it is dropped
  uint32_t rate_min = 0;      // receive rate, messages/s: min, max, sum over visited members
  uint32_t rate_max = 0;
  uint64_t rate_sum = 0;
  uint64_t pred_contiguous = 0;                // the member that passed this token: its own prefix...
  std::vector<SeqRange> missing_all;           // ranges every visited member of the partition lacks
  std::vector<SeqRange> pred_missing;          // ...and the ranges it lacks above that prefix
  std::vector<uint64_t> partition_contiguous;  // per partition: min contiguous prefix (<= kMaxPartitions)
  friend bool operator==(const SenderRecord&, const SenderRecord&) = default;
};

// kPartitionToken, kRegionToken. Body:
//   0 u32 region  4 u32 view  8 u64 round  16 u32 partition  20 u32 members_visited
//   24 i64 round_start_ns  32 u16 record_count  34.. records
struct TokenPacket {
  RegionViewId rvid;
  uint64_t round = 0;
  uint32_t partition = 0;
  uint32_t members_visited = 0;
  int64_t round_start_ns = 0;         // on the region leader's clock
  std::vector<SenderRecord> records;  // <= kMaxSenderRecords
  friend bool operator==(const TokenPacket&, const TokenPacket&) = default;
};

// kAck. Body: 0 u32 region 4 u32 view 8 u32 sender 12 u64 round 20 u64 stable
//             28 u32 rate_min 32 u32 rate_avg 36 u32 rate_max
struct AckPacket {
  RegionViewId rvid;
  NodeId sender = 0;  // whose messages are acknowledged
  uint64_t round = 0;
  uint64_t stable = 0;  // every member of the region view has region_seq 1..stable
  uint32_t rate_min = 0;
  uint32_t rate_avg = 0;
  uint32_t rate_max = 0;
  friend bool operator==(const AckPacket&, const AckPacket&) = default;
};

// kNak and kPullRequest. Body: 0 u32 region 4 u32 view 8 u32 sender 12 u8 count
//                              13 count x (u64 first, u64 last)
struct RecoveryRequest {
  RegionViewId rvid;
  NodeId sender = 0;             // whose messages are wanted
  std::vector<SeqRange> ranges;  // 1..kMaxRanges
  friend bool operator==(const RecoveryRequest&, const RecoveryRequest&) = default;
};

// kTokenAck. Body: 0 u32 region 4 u32 view 8 u64 round 16 u32 partition 20 u32 members_visited
//                 24 u8 level (0: partition token, 1: region token)
struct TokenAckPacket {
  RegionViewId rvid;
  uint64_t round = 0;
  uint32_t partition = 0;
  uint32_t members_visited = 0;
  uint8_t level = 0;
  friend bool operator==(const TokenAckPacket&, const TokenAckPacket&) = default;
};

// kRegister. Sent at start, whenever the node's groups change, and again with every heartbeat
// until a view update acknowledges `groups_version` (so a lost one is repaired). Body:
//   0 u32 node  4 u64 incarnation  12 u32 address  16 u16 port  18 u64 groups_version
//   26 u16 group_count  28 group_count x u32 group
struct RegisterPacket {
  NodeId node = 0;
  uint64_t incarnation = 0;  // changes on every restart of the node
  Endpoint unicast;
  uint64_t groups_version = 0;  // grows with every change of `groups`
  std::vector<GroupId> groups;  // every group the node is in now (<= kMaxRegisterGroups)
  friend bool operator==(const RegisterPacket&, const RegisterPacket&) = default;
};

// kHeartbeat. Body: 0 u32 node 4 u64 incarnation 12 u64 seq 20 u64 applied_epoch
struct HeartbeatPacket {
  NodeId node = 0;
  uint64_t incarnation = 0;
  uint64_t seq = 0;
  uint64_t applied_epoch = 0;  // the last view update this node applied with nothing missing before it
  friend bool operator==(const HeartbeatPacket&, const HeartbeatPacket&) = default;
};

// kDeregister: the node leaves the cluster now (no failure timeout). Body: 0 u32 node 4 u64 incarnation
struct DeregisterPacket {
  NodeId node = 0;
  uint64_t incarnation = 0;
  friend bool operator==(const DeregisterPacket&, const DeregisterPacket&) = default;
};

struct Member {
  NodeId node = 0;
  Endpoint endpoint;
  friend bool operator==(const Member&, const Member&) = default;
};
// In a view update: u32 region u32 view u32 mcast_address u16 mcast_port u16 member_count
//                   member_count x (u32 node, u32 address, u16 port)
struct RegionView {
  RegionViewId id;
  Endpoint multicast;
  std::vector<Member> members;  // in view order; empty: the region is gone
  friend bool operator==(const RegionView&, const RegionView&) = default;
};
// In a view update: u32 group u32 view u16 region_count  region_count x (u32 region, u32 view)
struct GroupView {
  GroupId group = 0;
  uint32_t view = 0;
  std::vector<RegionViewId> regions;
  friend bool operator==(const GroupView&, const GroupView&) = default;
};
// kViewUpdate: one part of what changed for one node in one GMS commit (epoch). Views are
// monotonic (a region's or group's view number only grows), so each part can be applied on its
// own; `prev_epoch` lets the node see that it missed an update, and a snapshot (flag bit 0) lists
// every view the node needs, so whatever it does not list is gone for it. Body:
//   0 u64 epoch  8 u64 prev_epoch  16 u32 node  20 u64 incarnation  28 u64 groups_version
//   36 u8 flags  37 u16 part  39 u16 parts  41 u16 region_count  43 u16 group_count,
//   then the region views, then the group views.
struct ViewUpdatePacket {
  uint64_t epoch = 0;           // the GMS commit this update belongs to
  uint64_t prev_epoch = 0;      // the epoch of the previous update sent to this node (0: none)
  NodeId node = 0;              // the addressee...
  uint64_t incarnation = 0;     // ...and its incarnation
  uint64_t groups_version = 0;  // the addressee's group set the GMS has applied
  bool snapshot = false;
  uint16_t part = 0;  // 0 <= part < parts
  uint16_t parts = 1;
  std::vector<RegionView> regions;
  std::vector<GroupView> groups;
  friend bool operator==(const ViewUpdatePacket&, const ViewUpdatePacket&) = default;
};

using PacketBody = std::variant<DataPacket, DataBatchPacket, TokenPacket, AckPacket, RecoveryRequest,
                                TokenAckPacket, RegisterPacket, HeartbeatPacket, DeregisterPacket, ViewUpdatePacket>;

struct Packet {
  PacketType type = PacketType::kData;
  NodeId source = 0;
  PacketBody body;
  friend bool operator==(const Packet&, const Packet&) = default;
};

// Who handles a packet type at a node.
enum class Scope : uint8_t {
  kRegion,      // the member of the region view the body names (data, tokens, pulls)
  kSender,      // the sender whose region view the body names (ACK, NAK)
  kToGms,       // the membership service (register, heartbeat, deregister)
  kFromGms,     // a node's GMS client (view updates)
};

// One row per packet type: everything that maps a type to something else reads this table.
struct PacketTypeInfo {
  PacketType type;
  std::string_view name;
  size_t body;  // index of the body's alternative in PacketBody
  Scope scope;
  Traffic traffic;  // its priority; the scheduler maps it to an I/O class
};

// The index of `Body` among PacketBody's alternatives.
template <typename Body, size_t I = 0>
constexpr size_t BodyIndex() {
  if constexpr (std::is_same_v<Body, std::variant_alternative_t<I, PacketBody>>) {
    return I;
  } else {
    return BodyIndex<Body, I + 1>();
  }
}

inline constexpr PacketTypeInfo kPacketTypes[] = {
    {PacketType::kData, "data", BodyIndex<DataPacket>(), Scope::kRegion, Traffic::kData},
    {PacketType::kRetransmit, "retransmit", BodyIndex<DataPacket>(), Scope::kRegion, Traffic::kRecovery},
    {PacketType::kForward, "forward", BodyIndex<DataPacket>(), Scope::kRegion, Traffic::kRecovery},
    {PacketType::kDataBatch, "data_batch", BodyIndex<DataBatchPacket>(), Scope::kRegion, Traffic::kData},
    {PacketType::kForwardBatch, "forward_batch", BodyIndex<DataBatchPacket>(), Scope::kRegion, Traffic::kRecovery},
    {PacketType::kPartitionToken, "partition_token", BodyIndex<TokenPacket>(), Scope::kRegion, Traffic::kControl},
    {PacketType::kRegionToken, "region_token", BodyIndex<TokenPacket>(), Scope::kRegion, Traffic::kControl},
    {PacketType::kAck, "ack", BodyIndex<AckPacket>(), Scope::kSender, Traffic::kControl},
    {PacketType::kNak, "nak", BodyIndex<RecoveryRequest>(), Scope::kSender, Traffic::kControl},
    {PacketType::kPullRequest, "pull_request", BodyIndex<RecoveryRequest>(), Scope::kRegion, Traffic::kControl},
    {PacketType::kTokenAck, "token_ack", BodyIndex<TokenAckPacket>(), Scope::kRegion, Traffic::kControl},
    {PacketType::kRegister, "register", BodyIndex<RegisterPacket>(), Scope::kToGms, Traffic::kControl},
    {PacketType::kHeartbeat, "heartbeat", BodyIndex<HeartbeatPacket>(), Scope::kToGms, Traffic::kControl},
    {PacketType::kDeregister, "deregister", BodyIndex<DeregisterPacket>(), Scope::kToGms, Traffic::kControl},
    {PacketType::kViewUpdate, "view_update", BodyIndex<ViewUpdatePacket>(), Scope::kFromGms, Traffic::kControl},
};

// The row of type `t` (a raw header byte), or null for a type this version does not know.
const PacketTypeInfo* InfoOf(uint8_t t);
// The row of a known type.
const PacketTypeInfo& InfoOf(PacketType t);
// The type's name ("unknown" for a value outside the table).
std::string_view PacketTypeName(PacketType t);
// The region view a packet names: for kRegion and kSender types, the body's rvid.
std::optional<RegionViewId> RegionViewOf(const Packet& packet);

struct Header {
  uint8_t version = 0;
  PacketType type = PacketType::kData;
  uint16_t length = 0;
  NodeId source = 0;
  uint32_t checksum = 0;
};

enum class DecodeError : uint8_t {
  kTooShort,  // shorter than a header
  kBadMagic,
  kBadVersion,
  kBadLength,  // header length differs from the datagram's size
  kBadChecksum,
  kUnknownType,
  kBadBody,  // a field or count out of bounds, body too short, or bytes left over
};
std::string_view DecodeErrorName(DecodeError e);
// The drop counter that accounts for a datagram rejected with `e`.
Counter DropCounter(DecodeError e);

// Size of the encoding of `packet`.
size_t EncodedSize(const Packet& packet);
// Bytes one record adds to a token, and the size of a whole token packet (header included).
size_t EncodedSize(const SenderRecord& record);
size_t EncodedTokenSize(const TokenPacket& token);
inline constexpr size_t kRangeBytes = 16;  // one SeqRange on the wire
// Encodes into `out`. Errors: kInvalidArgument if the body does not match `type`, a count exceeds
// its bound or the packet exceeds kMaxPacketSize; kUnavailable if `out` is too small.
Result<size_t> Encode(const Packet& packet, std::span<std::byte> out);
// The hot-path encoder for kData/kRetransmit/kForward; same contract as Encode.
Result<size_t> EncodeData(PacketType type, NodeId source, const DataPacket& data, std::span<std::byte> out);

// Packs consecutive messages of one sender to one region view into one kDataBatch (or
// kForwardBatch) datagram, in place, without building a DataBatchPacket first.
class DataBatchWriter {
 public:
  // Writes into `out` (at most kMaxPacketSize bytes of it are used); the batch's first message
  // will have region seq `first_region_seq`. `type` is kDataBatch or kForwardBatch.
  DataBatchWriter(std::span<std::byte> out, NodeId source, RegionViewId rvid, NodeId sender,
                  uint64_t first_region_seq, PacketType type = PacketType::kDataBatch);
  // Whether one more message with `payload_bytes` of payload fits (count is at most 65,535).
  bool Fits(size_t payload_bytes) const;
  // Appends the next message (its rvid, sender and region_seq are implied). Requires Fits.
  void Add(const DataPacket& message);
  uint16_t count() const { return count_; }
  size_t size() const { return size_; }  // bytes so far, header included
  // Completes the datagram (count, length, checksum) and returns its size. Requires count() >= 1.
  size_t Finish();
  // The datagram size of a batch of messages with these payload sizes in total.
  static size_t SizeFor(size_t messages, size_t payload_bytes) {
    return kHeaderSize + kDataBatchFixed + messages * kDataBatchEntryFixed + payload_bytes;
  }

 private:
  std::span<std::byte> out_;
  size_t size_;
  uint16_t count_ = 0;
};

// Recomputes the checksum of an encoded packet in place (after a deliberate edit, in tests and the
// fuzzer). Requires packet.size() >= kHeaderSize.
void SealChecksum(std::span<std::byte> packet);

// Validates magic, version and length, not the checksum: enough to classify a datagram.
std::expected<Header, DecodeError> PeekHeader(std::span<const std::byte> datagram);
// Fully validates and decodes one datagram. Spans in the result point into `datagram`.
std::expected<Packet, DecodeError> Decode(std::span<const std::byte> datagram);

template <typename F>
void DataBatchPacket::ForEach(F&& f) const {
  Reader r(entries);
  for (uint16_t i = 0; i < count; ++i) {
    DataPacket m{.rvid = rvid, .sender = sender, .region_seq = first_region_seq + i};
    m.group = r.U32();
    m.group_seq = r.U64();
    m.send_time_ns = r.I64();
    m.catch_up = (r.U8() & kDataFlagCatchUp) != 0;
    m.payload = r.Bytes(r.U32());
    f(static_cast<const DataPacket&>(m));
  }
}

}  // namespace qsm::wire
