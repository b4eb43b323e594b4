#include "engine/transport/asio/asio_transport.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/core/check.h"

namespace qsm {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;

asio::ip::address_v4 ToAsio(uint32_t address) { return asio::ip::address_v4(address); }
udp::endpoint ToAsio(const Endpoint& e) { return udp::endpoint(ToAsio(e.address), e.port); }

bool SafeUnicast(uint32_t address) {
  const Endpoint e{address, 0};
  return e.is_loopback() || e.is_benchmark_net();
}

Error IoError(const std::string& what, const boost::system::error_code& ec) {
  return Error{ErrorCode::kIo, what + ": " + ec.message()};
}

// Posts a no-op to the io_context, which makes a blocked run_one_until() return.
class AsioWaker final : public Waker {
 public:
  explicit AsioWaker(asio::io_context& io) : io_(io) {}
  void Wake() override {
    asio::post(io_, [] {});
  }

 private:
  asio::io_context& io_;
};

class AsioTransportImpl final : public AsioTransport {
 public:
  // Receive buffers only unicast (control and recovery) input may take.
  static constexpr size_t kControlReserve = 256;
  // Multicast datagrams read per poll: the scheduler polls again after 64 events, so the unicast
  // socket (tokens) is never more than this many data reads away.
  static constexpr size_t kMaxDataPerPoll = 256;

  AsioTransportImpl(const Clock& clock, Counters& counters, const AsioTransportConfig& config)
      : clock_(clock),
        counters_(counters),
        config_(config),
        pool_(config.max_datagram_bytes, config.pool_buffers),
        unicast_(io_),
        waker_(io_) {
    const size_t batch = std::max<size_t>(1, config.batch);
    headers_.resize(batch);
    iovecs_.resize(batch);
    addresses_.resize(batch);
    buffers_.resize(batch);
    send_headers_.resize(batch);
    send_iovecs_.resize(2 * batch);  // a datagram and its trailer
    send_addresses_.resize(batch);
  }

  ~AsioTransportImpl() override {
    boost::system::error_code ec;
    for (auto& g : groups_) g.socket->close(ec);
    unicast_.close(ec);
    buffers_.clear();
  }

  Status Open() {
    boost::system::error_code ec;
    unicast_.open(udp::v4(), ec);
    if (ec) return std::unexpected(IoError("open UDP socket", ec));
    if (auto s = Configure(unicast_); !s) return s;
    unicast_.set_option(asio::ip::multicast::outbound_interface(ToAsio(config_.multicast_interface)), ec);
    if (ec)
      return std::unexpected(
          IoError("set IP_MULTICAST_IF " + Endpoint{config_.multicast_interface, 0}.AddressString(), ec));
    unicast_.set_option(asio::ip::multicast::hops(config_.multicast_ttl), ec);
    if (!ec) unicast_.set_option(asio::ip::multicast::enable_loopback(true), ec);
    if (!ec && ::setsockopt(unicast_.native_handle(), SOL_SOCKET, SO_SNDBUFFORCE, &config_.send_buffer_bytes,
                            sizeof config_.send_buffer_bytes) != 0) {
      unicast_.set_option(asio::socket_base::send_buffer_size(config_.send_buffer_bytes), ec);
    }
    if (ec) return std::unexpected(IoError("configure multicast sending", ec));
    unicast_.bind(ToAsio(config_.bind), ec);
    if (ec) return std::unexpected(IoError("bind " + config_.bind.ToString(), ec));
    local_ = Endpoint{config_.bind.address, unicast_.local_endpoint().port()};
    return {};
  }

  Endpoint local_endpoint() const override { return local_; }
  void SetHandler(TransportHandler* handler) override { handler_ = handler; }

  Status JoinGroup(Endpoint group) override {
    if (!group.is_multicast()) {
      return MakeError(ErrorCode::kInvalidArgument, group.ToString() + " is not a multicast address");
    }
    for (const auto& g : groups_) {
      if (g.group == group) return {};
    }
    auto socket = std::make_unique<udp::socket>(io_);
    boost::system::error_code ec;
    socket->open(udp::v4(), ec);
    if (ec) return std::unexpected(IoError("open multicast socket", ec));
    if (auto s = Configure(*socket); !s) return s;
    socket->set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return std::unexpected(IoError("set SO_REUSEADDR", ec));
    // Only this socket's own group, not every group some socket on the host joined.
    const int off = 0;
    ::setsockopt(socket->native_handle(), IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off);
    socket->set_option(asio::ip::multicast::outbound_interface(ToAsio(config_.multicast_interface)), ec);
    socket->bind(ToAsio(group), ec);
    if (ec) return std::unexpected(IoError("bind " + group.ToString(), ec));
    socket->set_option(
        asio::ip::multicast::join_group(ToAsio(group.address), ToAsio(config_.multicast_interface)), ec);
    if (ec) return std::unexpected(IoError("join " + group.AddressString(), ec));
    groups_.push_back(GroupSocket{group, std::move(socket), false});
    return {};
  }

  Status LeaveGroup(Endpoint group) override {
    for (auto it = groups_.begin(); it != groups_.end(); ++it) {
      if (it->group == group) {
        boost::system::error_code ec;
        it->socket->close(ec);  // cancels its pending wait; closing leaves the group
        groups_.erase(it);
        return {};
      }
    }
    return {};
  }

  SendStatus Send(Endpoint to, std::span<const std::byte> datagram) override {
    if (!Allowed(to)) {
      counters_.Add(Counter::kSendErrors);
      return SendStatus::kFailed;
    }
    boost::system::error_code ec;
    unicast_.send_to(asio::buffer(datagram.data(), datagram.size()), ToAsio(to), 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again ||
        ec == asio::error::no_buffer_space) {
      counters_.Add(Counter::kSendWouldBlock);
      return SendStatus::kWouldBlock;
    }
    if (ec) {
      counters_.Add(Counter::kSendErrors);
      return SendStatus::kFailed;
    }
    counters_.Add(Counter::kPacketsSent);
    counters_.Add(Counter::kBytesSent, datagram.size());
    return SendStatus::kSent;
  }

  size_t SendBatch(std::span<const OutgoingDatagram> batch) override {
    size_t done = 0;
    while (done < batch.size()) {
      const size_t k = std::min(batch.size() - done, send_headers_.size());
      size_t prepared = 0;
      for (; prepared < k; ++prepared) {
        const auto& d = batch[done + prepared];
        if (!Allowed(d.to)) break;
        sockaddr_in& sa = send_addresses_[prepared];
        sa = sockaddr_in{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(d.to.port);
        sa.sin_addr.s_addr = htonl(d.to.address);
        iovec* parts = &send_iovecs_[2 * prepared];
        parts[0] = iovec{const_cast<std::byte*>(d.bytes.data()), d.bytes.size()};
        parts[1] = iovec{const_cast<std::byte*>(d.trailer.data()), d.trailer.size()};
        send_headers_[prepared] = mmsghdr{};
        send_headers_[prepared].msg_hdr.msg_name = &sa;
        send_headers_[prepared].msg_hdr.msg_namelen = sizeof sa;
        send_headers_[prepared].msg_hdr.msg_iov = parts;
        send_headers_[prepared].msg_hdr.msg_iovlen = d.trailer.empty() ? 1 : 2;
      }
      if (prepared == 0) {  // the next datagram is not allowed
        counters_.Add(Counter::kSendErrors);
        return done;
      }
      const int n = ::sendmmsg(unicast_.native_handle(), send_headers_.data(), static_cast<unsigned>(prepared),
                               MSG_DONTWAIT);
      if (n < 0) {
        counters_.Add(errno == EAGAIN || errno == ENOBUFS ? Counter::kSendWouldBlock : Counter::kSendErrors);
        return done;
      }
      for (int i = 0; i < n; ++i) {
        counters_.Add(Counter::kPacketsSent);
        counters_.Add(Counter::kBytesSent, batch[done + static_cast<size_t>(i)].size());
      }
      done += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < prepared) return done;
    }
    return done;
  }

  void RequestWritable() override {
    if (write_wait_armed_) return;
    write_wait_armed_ = true;
    unicast_.async_wait(udp::socket::wait_write, [this](const boost::system::error_code& ec) {
      write_wait_armed_ = false;
      if (!ec && handler_ != nullptr) handler_->OnWritable();
    });
  }

  size_t PollInput() override {
    if (write_wait_armed_) io_.poll();  // deliver a pending writability notification
    if (io_.stopped()) io_.restart();
    // Unicast (tokens, ACKs, NAKs, pulls, forwards) may use every buffer; multicast data stops
    // short of the last kControlReserve, so a data backlog can never keep a token in the kernel.
    size_t n = Drain(unicast_, 0, SIZE_MAX, false);
    for (auto& g : groups_) n += Drain(*g.socket, kControlReserve, kMaxDataPerPoll, true);
    return n;
  }

  void WaitForInput(std::optional<TimePoint> deadline) override {
    ArmReadWait(unicast_, unicast_read_armed_);
    for (auto& g : groups_) ArmReadWait(*g.socket, g.read_armed);
    if (io_.stopped()) io_.restart();
    if (deadline) {
      const Duration left = *deadline - clock_.Now();
      if (left > Duration::zero()) io_.run_one_for(left);
    } else {
      io_.run_one();
    }
    io_.poll();  // any other handler that became ready
  }

  Waker& waker() override { return waker_; }

 private:
  struct GroupSocket {
    Endpoint group;
    std::unique_ptr<udp::socket> socket;
    bool read_armed;
  };

  bool Allowed(const Endpoint& to) const {
    return config_.allow_external_networks || to.is_multicast() || SafeUnicast(to.address);
  }

  Status Configure(udp::socket& socket) {
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    if (ec) return std::unexpected(IoError("set non-blocking", ec));
    // As root, SO_RCVBUFFORCE goes beyond net.core.rmem_max; otherwise SO_RCVBUF is capped there.
    const int bytes = config_.receive_buffer_bytes;
    if (::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
      socket.set_option(asio::socket_base::receive_buffer_size(bytes), ec);
      if (ec) return std::unexpected(IoError("set SO_RCVBUF", ec));
    }
    return {};
  }

  void ArmReadWait(udp::socket& socket, bool& armed) {
    if (armed) return;
    armed = true;
    socket.async_wait(udp::socket::wait_read, [&armed](const boost::system::error_code&) { armed = false; });
  }

  // Makes receive slot k ready for recvmmsg: a buffer (set up when it is new) and the address
  // length reset (value-result: the kernel sets it). False if the pool has no buffer for it.
  bool ArmSlot(size_t k) {
    if (!buffers_[k]) {
      buffers_[k] = pool_.Acquire();
      if (!buffers_[k]) return false;
      auto space = buffers_[k].space();
      iovecs_[k] = iovec{space.data(), space.size()};
      headers_[k] = mmsghdr{};
      headers_[k].msg_hdr.msg_name = &addresses_[k];
      headers_[k].msg_hdr.msg_iov = &iovecs_[k];
      headers_[k].msg_hdr.msg_iovlen = 1;
    }
    headers_[k].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    return true;
  }

  // Reads what the socket holds now, up to `max` datagrams or until only `reserve` pool buffers are
  // left. Receive buffers stay attached to their slots between calls; only the slots the last
  // recvmmsg filled are set up again, so a poll that finds nothing costs no set-up.
  // `multicast`: drop what this node sent itself (IP_MULTICAST_LOOP delivers it back to us too,
  // since other nodes on this host need it).
  size_t Drain(udp::socket& socket, size_t reserve, size_t max, bool multicast) {
    size_t total = 0;
    for (;;) {
      if (pool_.available() < reserve || total >= max) return total;
      for (size_t k = 0; k < filled_; ++k) {
        if (!ArmSlot(k)) {
          armed_ = k;
          break;
        }
      }
      filled_ = 0;
      while (armed_ < headers_.size() && ArmSlot(armed_)) ++armed_;
      const size_t k = armed_;
      if (k == 0) {
        counters_.Add(Counter::kPoolExhausted);  // the socket keeps its input until buffers return
        return total;
      }
      const int n = ::recvmmsg(socket.native_handle(), headers_.data(), static_cast<unsigned>(k),
                               MSG_DONTWAIT, nullptr);
      if (n <= 0) return total;
      filled_ = static_cast<size_t>(n);
      const TimePoint now = clock_.Now();
      for (int i = 0; i < n; ++i) {
        const auto idx = static_cast<size_t>(i);
        const mmsghdr& h = headers_[idx];
        if (h.msg_hdr.msg_flags & MSG_TRUNC) {
          counters_.Add(Counter::kDroppedTruncated);
          continue;  // the buffer stays in its slot
        }
        PooledBuffer buffer = std::move(buffers_[idx]);
        buffer.set_size(h.msg_len);
        counters_.Add(Counter::kPacketsReceived);
        counters_.Add(Counter::kBytesReceived, h.msg_len);
        const sockaddr_in& sa = addresses_[idx];
        const Endpoint from{ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port)};
        if (multicast && from == local_) continue;  // our own multicast, looped back
        if (handler_ != nullptr) handler_->OnReceive(from, std::move(buffer), now);
      }
      total += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < k) return total;  // drained
    }
  }

  const Clock& clock_;
  Counters& counters_;
  AsioTransportConfig config_;
  BufferPool pool_;
  asio::io_context io_{1};
  udp::socket unicast_;
  bool unicast_read_armed_ = false;
  bool write_wait_armed_ = false;
  std::vector<GroupSocket> groups_;
  Endpoint local_;
  TransportHandler* handler_ = nullptr;
  AsioWaker waker_;
  // recvmmsg/sendmmsg scratch, sized to config.batch once.
  // Receiving (Drain): slot k holds buffers_[k], set up once per buffer. Slots [0, armed_) are
  // ready for recvmmsg except [0, filled_), which the last recvmmsg filled (their buffers may
  // have gone up, their address lengths were overwritten).
  std::vector<mmsghdr> headers_;
  std::vector<iovec> iovecs_;
  std::vector<sockaddr_in> addresses_;
  size_t armed_ = 0;
  size_t filled_ = 0;
  // Sending (SendBatch), apart: a send must not disturb the receive slots' set-up.
  std::vector<mmsghdr> send_headers_;
  std::vector<iovec> send_iovecs_;
  std::vector<sockaddr_in> send_addresses_;
  std::vector<PooledBuffer> buffers_;
};

}  // namespace

AsioTransport::~AsioTransport() = default;

Result<std::unique_ptr<AsioTransport>> AsioTransport::Create(const Clock& clock, Counters& counters,
                                                             const AsioTransportConfig& config) {
  if (config.multicast_interface == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no multicast interface: set it explicitly (e.g. 127.0.0.1) so multicast cannot leave "
                     "the host by the default route");
  }
  if (!config.allow_external_networks) {
    if (!SafeUnicast(config.bind.address)) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "bind address " + config.bind.AddressString() +
              " is outside 127.0.0.0/8 and 198.18.0.0/15 (pass allow_external_networks for a real cluster)");
    }
    if (!SafeUnicast(config.multicast_interface)) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "multicast interface " + Endpoint{config.multicast_interface, 0}.AddressString() +
              " is outside 127.0.0.0/8 and 198.18.0.0/15 (pass allow_external_networks for a real cluster)");
    }
  }
  if (config.max_datagram_bytes < 64 || config.pool_buffers < 2 * AsioTransportImpl::kControlReserve) {
    return MakeError(ErrorCode::kInvalidArgument, "max_datagram_bytes must be >= 64 and pool_buffers >= " +
                                                      std::to_string(2 * AsioTransportImpl::kControlReserve));
  }
  auto transport = std::make_unique<AsioTransportImpl>(clock, counters, config);
  if (auto opened = transport->Open(); !opened) return std::unexpected(opened.error());
  return std::unique_ptr<AsioTransport>(std::move(transport));
}

std::optional<std::string> InterfaceName(uint32_t interface_address) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> name;
  for (const ifaddrs* i = list; i != nullptr && !name; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    sockaddr_in in{};
    std::memcpy(&in, i->ifa_addr, sizeof in);
    if (ntohl(in.sin_addr.s_addr) == interface_address) name = i->ifa_name;
  }
  freeifaddrs(list);
  return name;
}

std::optional<size_t> UnfragmentedUdpPayload(uint32_t interface_address) {
  const std::optional<std::string> name = InterfaceName(interface_address);
  if (!name) return std::nullopt;
  ifreq request{};
  std::strncpy(request.ifr_name, name->c_str(), IFNAMSIZ - 1);
  std::optional<size_t> payload;
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0 && ::ioctl(fd, SIOCGIFMTU, &request) == 0 && request.ifr_mtu > 28) {
    payload = static_cast<size_t>(request.ifr_mtu - 28);  // IPv4 and UDP headers
  }
  if (fd >= 0) ::close(fd);
  return payload;
}

}  // namespace qsm
