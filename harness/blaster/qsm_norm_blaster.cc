// qsm-norm-blaster: the reliable-multicast reference the engine is compared against (issue 15).
// One NORM sender (libnorm, NACK-oriented reliable multicast) sends numbered messages, each one
// NORM data object of one segment, to K receiver processes on loopback, with ACK-based flow
// control as NORM's own normMsgr example does it: every receiver is an acking node, timer-based
// flow control is off, and once half the queue is unacknowledged a watermark asks every receiver
// to acknowledge it; the sender enqueues no more than the queue until that watermark completes.
// The send rate is NORM's fixed transmit rate (--tx-mbps), high enough that the ACKs pace it.
// At the end the sender sends an end marker and waits until every receiver acknowledges it.
// Prints messages/s sent and, per receiver, messages delivered and messages/s (NORM is reliable:
// anything not delivered is reported as undelivered).
//
// Network safety: the multicast interface must be on 127.0.0.0/8 or 198.18.0.0/15 and is always
// set explicitly (by its name, found from the address); TTL is 1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <normApi.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "engine/core/build_info.h"
#include "engine/transport/asio/asio_transport.h"
#include "harness/blaster/blaster.h"

namespace {

using qsm::blaster::ReceiverProcesses;

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC: one clock for every process here
constexpr uint64_t kEndMarker = ~uint64_t{0};  // then, in bytes 8..15, how many messages were sent
constexpr NormNodeId kSenderId = 1;  // receivers are 2..K+1

struct Options : qsm::blaster::CommonFlags {
  Options() : CommonFlags("239.255.0.3", 7610) {}
  size_t size = 1000;
  unsigned queue = 8192;  // messages enqueued and not yet acknowledged, at most
  double tx_mbps = 20000;
};

// NORM's buffer at the sender and per remote sender at each receiver: room for twice the queue.
UINT32 BufferSpace(const Options& o) {
  return static_cast<UINT32>(std::max<size_t>(64u << 20, 2 * size_t{o.queue} * (o.size + 64)));
}

struct Plan {
  Options o;
  std::string interface_name;
};

struct ReceiverResult {
  uint64_t delivered = 0;
  uint64_t out_of_order = 0;  // delivered with a number not above the highest delivered before
  uint64_t aborted = 0;       // objects NORM gave up on (NORM_RX_OBJECT_ABORTED: out of buffer)
  double first_s = 0;         // seconds after the sender's start, of the first and last delivery
  double last_s = 0;
  bool ended = false;  // the end marker arrived (objects may complete after it: NORM repairs out of order)
};

// Returns the exit code on a bad flag (2) or --help (0).
std::variant<Plan, int> ParseFlags(int argc, char** argv) {
  Plan plan;
  Options& o = plan.o;
  CLI::App app{"qsm-norm-blaster: NORM reliable multicast with ACK-based flow control, 1 sender to K "
               "receiver processes on loopback"};
  app.set_version_flag("--version", qsm::VersionText("qsm-norm-blaster"));
  qsm::blaster::AddCommonFlags(app, o);
  app.add_option("-s,--size", o.size, "message bytes (one NORM segment each)")
      ->capture_default_str()
      ->check(CLI::Range(16, 8972));
  app.add_option("--queue", o.queue, "messages enqueued and not yet acknowledged, at most (the ACK window)")
      ->capture_default_str()
      ->check(CLI::Range(2, 32767));
  app.add_option("--tx-mbps", o.tx_mbps, "NORM's fixed transmit rate, Mbit/s")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  in_addr group{}, iface{};
  if (auto code = qsm::blaster::ParseFlags(app, argc, argv, "qsm-norm-blaster", o, group, iface)) return *code;
  auto name = qsm::InterfaceName(ntohl(iface.s_addr));
  if (!name) {
    std::fprintf(stderr, "qsm-norm-blaster: no interface here has the address %s\n", o.interface.c_str());
    return 2;
  }
  plan.interface_name = *name;
  return plan;
}

// A NORM instance and one session on the plan's group, port and interface.
class NormEndpoint {
 public:
  NormEndpoint(const Plan& plan, NormNodeId id) : instance_(NormCreateInstance()) {
    if (instance_ == NORM_INSTANCE_INVALID) Fail("NormCreateInstance");
    session_ = NormCreateSession(instance_, plan.o.group.c_str(), plan.o.port, id);
    if (session_ == NORM_SESSION_INVALID) Fail("NormCreateSession");
    if (!NormSetMulticastInterface(session_, plan.interface_name.c_str())) Fail("NormSetMulticastInterface");
    NormSetTTL(session_, 1);
    NormSetMulticastLoopback(session_, true);  // every process is on this host
    NormSetRxPortReuse(session_, true);
  }
  NormEndpoint(const NormEndpoint&) = delete;
  NormEndpoint& operator=(const NormEndpoint&) = delete;
  ~NormEndpoint() { NormDestroyInstance(instance_); }

  NormSessionHandle session() const { return session_; }

  // The next event, waiting up to `wait` for one; nullopt if none came.
  std::optional<NormEvent> Next(std::chrono::milliseconds wait) {
    pollfd p{NormGetDescriptor(instance_), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return std::nullopt;
    NormEvent event;
    if (!NormGetNextEvent(instance_, &event, false) || event.type == NORM_EVENT_INVALID) return std::nullopt;
    return event;
  }

  [[noreturn]] static void Fail(const char* what) {
    std::fprintf(stderr, "qsm-norm-blaster: %s failed\n", what);
    std::exit(1);
  }

 private:
  NormInstanceHandle instance_;
  NormSessionHandle session_ = NORM_SESSION_INVALID;
};

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Child process: delivers messages until the end marker or the deadline. Writes one byte to
// `ready` once it listens.
ReceiverResult Receive(const Plan& plan, NormNodeId id, int ready, Clock::time_point start,
                       Clock::time_point deadline) {
  NormEndpoint norm(plan, id);
  NormSetDefaultSyncPolicy(norm.session(), NORM_SYNC_ALL);  // from the first message, whenever it came
  NormSetRxCacheLimit(norm.session(), static_cast<unsigned short>(std::min(2u * plan.o.queue, 65535u)));
  if (!NormStartReceiver(norm.session(), BufferSpace(plan.o))) NormEndpoint::Fail("NormStartReceiver");
  NormSetRxSocketBuffer(norm.session(), 32u << 20);
  const char one = 1;
  if (::write(ready, &one, 1) != 1) NormEndpoint::Fail("signalling readiness");
  ReceiverResult r;
  uint64_t highest = 0;
  uint64_t expected = UINT64_MAX;  // from the end marker
  while (Clock::now() < deadline && !(r.ended && r.delivered >= expected)) {
    auto event = norm.Next(std::chrono::milliseconds(100));
    if (event && event->type == NORM_RX_OBJECT_ABORTED) ++r.aborted;
    if (!event || event->type != NORM_RX_OBJECT_COMPLETED || NormObjectGetType(event->object) != NORM_OBJECT_DATA) {
      continue;
    }
    if (NormObjectGetSize(event->object) < 16) continue;
    uint64_t seq;
    std::memcpy(&seq, NormDataAccessData(event->object), 8);
    if (seq == kEndMarker) {
      r.ended = true;
      std::memcpy(&expected, NormDataAccessData(event->object) + 8, 8);
      continue;
    }
    const double at = SecondsSince(start);
    if (r.delivered == 0) r.first_s = at;
    r.last_s = at;
    ++r.delivered;
    if (seq <= highest) ++r.out_of_order;
    highest = std::max(highest, seq);
  }
  // Stay a moment so the sender sees this receiver's ACK of the end marker.
  const auto linger = Clock::now() + std::chrono::milliseconds(300);
  while (Clock::now() < linger) norm.Next(std::chrono::milliseconds(20));
  return r;
}

// Forks the receivers before this process creates any NORM instance (NORM runs threads), and
// returns once each listens.
void StartReceivers(const Plan& plan, Clock::time_point start, Clock::time_point deadline,
                    ReceiverProcesses<ReceiverResult>& receivers) {
  for (int k = 0; k < plan.o.receivers; ++k) {
    int ready[2];
    if (::pipe(ready) != 0) NormEndpoint::Fail("pipe");
    receivers.Fork([&] {
      ::close(ready[0]);
      return Receive(plan, kSenderId + 1 + static_cast<NormNodeId>(k), ready[1], start, deadline);
    });
    ::close(ready[1]);
    char byte = 0;
    if (::read(ready[0], &byte, 1) != 1) {
      std::fprintf(stderr, "qsm-norm-blaster: receiver %d did not start\n", k + 1);
      std::exit(1);
    }
    ::close(ready[0]);
  }
}

// The sender: NORM data objects with ACK-based flow control (see the file comment). Each message
// buffer stays alive until NORM purges its object.
class Sender {
 public:
  explicit Sender(const Plan& plan) : plan_(plan), norm_(plan, kSenderId) {
    const NormSessionHandle s = norm_.session();
    NormSetFlowControl(s, 0);  // no timer-based flow control: the watermarks are the flow control
    NormSetGrttEstimate(s, 0.001);
    NormSetBackoffFactor(s, 0);
    NormSetTxRate(s, plan.o.tx_mbps * 1e6);
    NormSetTxCacheBounds(s, BufferSpace(plan.o),
                         plan.o.queue, plan.o.queue);
    std::mt19937 random(std::random_device{}());
    const auto segment = static_cast<UINT16>(std::max<size_t>(plan.o.size, 64));
    if (!NormStartSender(s, static_cast<NormSessionId>(random()), BufferSpace(plan.o), segment, 64, 0)) {
      NormEndpoint::Fail("NormStartSender");
    }
    NormSetTxSocketBuffer(s, 8u << 20);
    for (int k = 0; k < plan.o.receivers; ++k) NormAddAckingNode(s, kSenderId + 1 + static_cast<NormNodeId>(k));
  }

  // Sends for `duration`, then the end marker, and waits (up to 10 s) until every receiver has
  // acknowledged everything. Returns the seconds of sending.
  double Run(Clock::time_point start, Clock::duration duration) {
    const auto end = start + duration;
    while (Clock::now() < end) {
      if (vacancy_ && unacknowledged_ < plan_.o.queue) {
        if (Enqueue(++seq_)) continue;
        --seq_;
      }
      if (auto event = norm_.Next(std::chrono::milliseconds(10))) Handle(*event);
    }
    const double elapsed = SecondsSince(start);
    const auto give_up = Clock::now() + std::chrono::seconds(10);
    bool marker_queued = false;
    while (!(marker_queued && done_) && Clock::now() < give_up) {
      if (!marker_queued && vacancy_ && unacknowledged_ < plan_.o.queue && Enqueue(kEndMarker)) {
        marker_queued = true;
        final_watermark_ = last_object_;
        if (!watermark_pending_) Watermark(final_watermark_);
        continue;
      }
      if (auto event = norm_.Next(std::chrono::milliseconds(10))) Handle(*event);
    }
    if (!done_) std::fprintf(stderr, "qsm-norm-blaster: the receivers did not acknowledge the end in 10 s\n");
    return elapsed;
  }
  uint64_t sent() const { return seq_; }

 private:
  // Message `seq` (or the end marker, with the count sent so far).
  bool Enqueue(uint64_t seq) {
    auto buffer = std::make_unique<char[]>(plan_.o.size);
    std::memset(buffer.get(), 'n', plan_.o.size);
    std::memcpy(buffer.get(), &seq, 8);
    if (seq == kEndMarker) std::memcpy(buffer.get() + 8, &seq_, 8);
    const NormObjectHandle object =
        NormDataEnqueue(norm_.session(), buffer.get(), static_cast<UINT32>(plan_.o.size));
    if (object == NORM_OBJECT_INVALID) {
      vacancy_ = false;  // NORM_TX_QUEUE_VACANCY says when to try again
      return false;
    }
    buffers_.emplace(object, std::move(buffer));
    last_object_ = object;
    ++unacknowledged_;
    if (!watermark_pending_ && unacknowledged_ >= plan_.o.queue / 2) Watermark(object);
    return true;
  }

  void Watermark(NormObjectHandle object) {
    NormSetWatermark(norm_.session(), object, true);
    watermark_pending_ = true;
    watermark_object_ = object;
    watermark_covers_ = unacknowledged_;
  }

  void Handle(const NormEvent& event) {
    switch (event.type) {
      case NORM_TX_QUEUE_VACANCY:
      case NORM_TX_QUEUE_EMPTY:
        vacancy_ = true;
        break;
      case NORM_TX_WATERMARK_COMPLETED:
        if (NormGetAckingStatus(norm_.session()) != NORM_ACK_SUCCESS) {
          NormResetWatermark(norm_.session());  // ask again: the receivers are all still there
          break;
        }
        watermark_pending_ = false;
        unacknowledged_ -= std::min(unacknowledged_, watermark_covers_);
        if (final_watermark_ != NORM_OBJECT_INVALID) {
          if (watermark_object_ == final_watermark_) {
            done_ = true;
          } else {
            Watermark(final_watermark_);
          }
        } else if (unacknowledged_ >= plan_.o.queue / 2) {
          Watermark(last_object_);
        }
        break;
      case NORM_TX_OBJECT_PURGED:
        buffers_.erase(event.object);
        break;
      default:
        break;
    }
  }

  const Plan& plan_;
  // What NORM sends from, by object, until it purges the object. Declared before norm_, so
  // destroyed after NORM is.
  std::unordered_map<NormObjectHandle, std::unique_ptr<char[]>> buffers_;
  NormEndpoint norm_;
  uint64_t seq_ = 0;
  bool vacancy_ = true;
  unsigned unacknowledged_ = 0;  // enqueued and not covered by a completed watermark
  bool watermark_pending_ = false;
  NormObjectHandle watermark_object_ = NORM_OBJECT_INVALID;
  unsigned watermark_covers_ = 0;  // what the pending watermark acknowledges when it completes
  NormObjectHandle last_object_ = NORM_OBJECT_INVALID;
  NormObjectHandle final_watermark_ = NORM_OBJECT_INVALID;
  bool done_ = false;
};

void Print(const Plan& plan, uint64_t sent, double elapsed, const std::vector<ReceiverResult>& results) {
  const Options& o = plan.o;
  const double sent_rate = static_cast<double>(sent) / elapsed;
  // A receiver's rate is over its own delivery span from the sender's start: reliable delivery
  // may end after the sending does.
  auto rate = [](const ReceiverResult& r) { return r.last_s > 0 ? static_cast<double>(r.delivered) / r.last_s : 0.0; };
  if (o.json) {
    std::printf(R"({"size":%zu,"receivers":%d,"duration_s":%.3f,"sent":%llu,"sent_per_s":%.0f,"received":[)",
                o.size, o.receivers, elapsed, static_cast<unsigned long long>(sent), sent_rate);
    for (size_t k = 0; k < results.size(); ++k) {
      std::printf(R"(%s{"received":%llu,"per_s":%.0f,"undelivered":%llu,"aborted":%llu,"out_of_order":%llu,"ended":%s})",
                  k ? "," : "", static_cast<unsigned long long>(results[k].delivered), rate(results[k]),
                  static_cast<unsigned long long>(sent - std::min(sent, results[k].delivered)),
                  static_cast<unsigned long long>(results[k].aborted),
                  static_cast<unsigned long long>(results[k].out_of_order), results[k].ended ? "true" : "false");
    }
    std::printf("]}\n");
    return;
  }
  std::printf("qsm-norm-blaster: 1 NORM sender -> %d receiver(s), %zu-byte messages, %.1f s, ACK window %u, %s:%u via %s\n",
              o.receivers, o.size, elapsed, o.queue, o.group.c_str(), o.port, plan.interface_name.c_str());
  std::printf("  sender       %10llu sent       %9.0f msgs/s  %7.1f MB/s\n", static_cast<unsigned long long>(sent),
              sent_rate, sent_rate * static_cast<double>(o.size) / 1e6);
  for (size_t k = 0; k < results.size(); ++k) {
    std::printf("  receiver %-3zu %10llu delivered  %9.0f msgs/s  %7.1f MB/s  undelivered %llu\n", k + 1,
                static_cast<unsigned long long>(results[k].delivered), rate(results[k]),
                rate(results[k]) * static_cast<double>(o.size) / 1e6,
                static_cast<unsigned long long>(sent - std::min(sent, results[k].delivered)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = ParseFlags(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const Plan& plan = std::get<Plan>(parsed);
  const auto duration =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(plan.o.duration_s));
  const auto deadline = Clock::now() + duration + std::chrono::seconds(15);
  const auto receivers_start = Clock::now();
  ReceiverProcesses<ReceiverResult> receivers("qsm-norm-blaster");
  StartReceivers(plan, receivers_start, deadline, receivers);
  Sender sender(plan);
  const auto start = Clock::now();
  const double elapsed = sender.Run(start, duration);
  std::vector<ReceiverResult> results = receivers.Collect();
  // Receivers measured from before the sender existed: move their times to the sender's start.
  const double offset = std::chrono::duration<double>(start - receivers_start).count();
  for (ReceiverResult& r : results) {
    r.first_s = std::max(0.0, r.first_s - offset);
    r.last_s = std::max(0.0, r.last_s - offset);
  }
  Print(plan, sender.sent(), elapsed, results);
  bool all = true;
  for (const ReceiverResult& r : results) all = all && r.ended && r.delivered == sender.sent();
  return all ? 0 : 1;
}
