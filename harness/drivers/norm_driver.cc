#include "harness/drivers/norm_driver.h"

#include <normApi.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

#include "engine/core/check.h"
#include "engine/wire/bytes.h"

namespace qsm::harness {

namespace {
constexpr size_t kMaxEventsPerPost = 4096;

uintptr_t Key(NormObjectHandle object) { return reinterpret_cast<uintptr_t>(object); }

// The NORM session's receive and (for a sender) transmit buffer: room for twice the window.
UINT32 BufferSpace(const NormDriverConfig& c) {
  return static_cast<UINT32>(
      std::max<size_t>(64u << 20, 2 * size_t{c.window} * (c.message_size + NormDriver::kHeaderBytes + 64)));
}
}  // namespace

struct NormDriver::Impl {
  NormInstanceHandle instance = NORM_INSTANCE_INVALID;
  NormSessionHandle session = NORM_SESSION_INVALID;
  bool sender_started = false;
  NormObjectHandle last_object = NORM_OBJECT_INVALID;  // the last one enqueued
};

struct NormDriver::Event {
  NormEvent event;
};

NormDriver::NormDriver(NormDriverConfig config, Scheduler& scheduler)
    : StaticViewDriver(scheduler), config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  ready_ = [this](wire::GroupId) {
    return impl_->sender_started && vacancy_ && !held_ && unacknowledged_ < config_.window;
  };
}

Result<std::unique_ptr<NormDriver>> NormDriver::Create(NormDriverConfig config, Scheduler& scheduler) {
  if (config.window < 2 || config.window > 32767) {
    return MakeError(ErrorCode::kInvalidArgument, "the NORM window must be 2..32767 messages");
  }
  if (config.interface_name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "NORM needs the multicast interface's name");
  }
  std::unique_ptr<NormDriver> driver(new NormDriver(std::move(config), scheduler));
  driver->impl_->instance = NormCreateInstance();
  if (driver->impl_->instance == NORM_INSTANCE_INVALID) {
    return MakeError(ErrorCode::kIo, "libnorm could not create an instance");
  }
  driver->reader_ = std::thread([d = driver.get()] { d->ReadEvents(); });
  return driver;
}

NormDriver::~NormDriver() {
  stop_ = true;
  if (reader_.joinable()) reader_.join();
  for (AlarmId id : loss_alarms_) scheduler_.alarms().Cancel(id);
  if (impl_->instance != NORM_INSTANCE_INVALID) NormDestroyInstance(impl_->instance);
}

Status NormDriver::StartSession(const wire::RegionView& view) {
  const NormSessionHandle s = NormCreateSession(impl_->instance, view.multicast.AddressString().c_str(),
                                                view.multicast.port, config_.id);
  if (s == NORM_SESSION_INVALID) return MakeError(ErrorCode::kIo, "libnorm could not create the session");
  impl_->session = s;
  if (!NormSetMulticastInterface(s, config_.interface_name.c_str())) {
    return MakeError(ErrorCode::kIo, "NORM refused the multicast interface " + config_.interface_name);
  }
  NormSetTTL(s, 1);
  NormSetMulticastLoopback(s, true);  // members may share a host
  NormSetRxPortReuse(s, true);
  NormSetDefaultSyncPolicy(s, NORM_SYNC_ALL);  // from a sender's first message, whenever it came
  NormSetRxCacheLimit(s, static_cast<unsigned short>(std::min(2u * config_.window, 65535u)));
  if (!NormStartReceiver(s, BufferSpace(config_))) return MakeError(ErrorCode::kIo, "NormStartReceiver failed");
  NormSetRxSocketBuffer(s, 32u << 20);
  if (config_.sends) {
    NormSetFlowControl(s, 0);  // the watermarks are the flow control
    NormSetGrttEstimate(s, 0.001);
    NormSetBackoffFactor(s, 0);
    NormSetTxRate(s, config_.tx_mbps * 1e6);
    NormSetTxCacheBounds(s, BufferSpace(config_), config_.window, config_.window);
    const auto segment = static_cast<UINT16>(std::max<size_t>(config_.message_size + kHeaderBytes, 64));
    const auto instance_id = static_cast<NormSessionId>(config_.seed * 0x9E3779B1u + config_.id);
    if (!NormStartSender(s, instance_id, BufferSpace(config_), segment, 64, 0)) {
      return MakeError(ErrorCode::kIo, "NormStartSender failed");
    }
    NormSetTxSocketBuffer(s, 8u << 20);
    impl_->sender_started = true;
  }
  if (config_.loss_rate > 0) SetRxLoss(config_.loss_rate);
  for (const faults::TimeWindow& w : config_.loss_bursts) {
    loss_alarms_.push_back(scheduler_.alarms().Schedule(w.start, [this](TimePoint) { SetRxLoss(1); }));
    loss_alarms_.push_back(
        scheduler_.alarms().Schedule(w.end, [this](TimePoint) { SetRxLoss(config_.loss_rate); }));
  }
  return {};
}

void NormDriver::SetRxLoss(double fraction) {
  if (impl_->session != NORM_SESSION_INVALID) NormSetRxLoss(impl_->session, fraction * 100);
}

Status NormDriver::InstallView(const wire::RegionView& view) {
  if (!view.multicast.is_multicast()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the norm engine needs the region's multicast address, not " + view.multicast.ToString());
  }
  if (view_ && view_->multicast != view.multicast) {
    return MakeError(ErrorCode::kInvalidArgument, "the norm engine cannot move its session to another address");
  }
  if (!view_) {
    if (auto s = StartSession(view); !s) return s;
  }
  if (impl_->sender_started) {
    for (const auto& m : view.members) {
      if (m.node != config_.id) NormAddAckingNode(impl_->session, m.node);
    }
    if (view_) {
      for (const auto& old : view_->members) {
        const bool stays = std::any_of(view.members.begin(), view.members.end(),
                                       [&](const auto& m) { return m.node == old.node; });
        if (!stays) NormRemoveAckingNode(impl_->session, old.node);
      }
    }
  }
  view_ = view;
  Pump();
  return {};
}

void NormDriver::Suspend() { NormSuspendInstance(impl_->instance); }
void NormDriver::Resume() { NormResumeInstance(impl_->instance); }

void NormDriver::ReadEvents() {
  const NormDescriptor fd = NormGetDescriptor(impl_->instance);
  while (!stop_.load()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    std::vector<Event> events;
    NormEvent e;
    while (events.size() < kMaxEventsPerPost && NormGetNextEvent(impl_->instance, &e, false)) {
      if (e.type == NORM_EVENT_INVALID) break;
      // The object must outlive this call, until the core thread has handled it: a received
      // object's data is read there, and a purged object's handle must not be reused by NORM
      // for a new object before the core thread has freed the buffer it keys.
      if (e.type == NORM_RX_OBJECT_COMPLETED || e.type == NORM_TX_OBJECT_PURGED) NormObjectRetain(e.object);
      events.push_back(Event{e});
    }
    if (!events.empty()) {
      scheduler_.requests().Post([this, events = std::move(events)] { HandleEvents(events); });
    }
  }
}

void NormDriver::HandleEvents(const std::vector<Event>& events) {
  const TimePoint now = scheduler_.clock().Now();
  for (const Event& record : events) {
    const NormEvent& e = record.event;
    switch (e.type) {
      case NORM_TX_QUEUE_VACANCY:
      case NORM_TX_QUEUE_EMPTY:
        vacancy_ = true;
        break;
      case NORM_TX_WATERMARK_COMPLETED:
        if (NormGetAckingStatus(impl_->session, NORM_NODE_ANY) != NORM_ACK_SUCCESS) {
          NormResetWatermark(impl_->session);  // ask again: excluded members are no longer asked
          break;
        }
        watermark_pending_ = false;
        unacknowledged_ -= std::min(unacknowledged_, watermark_covers_);
        break;
      case NORM_TX_OBJECT_PURGED:
        if (auto it = buffers_.find(Key(e.object)); it != buffers_.end()) {
          buffered_bytes_ -= config_.message_size + kHeaderBytes;
          buffers_.erase(it);
        }
        NormObjectRelease(e.object);
        break;
      case NORM_RX_OBJECT_ABORTED:
        ++aborted_;
        break;
      case NORM_RX_OBJECT_COMPLETED: {
        const UINT32 size = NormObjectGetSize(e.object);
        if (NormObjectGetType(e.object) == NORM_OBJECT_DATA && size >= kHeaderBytes) {
          const auto* data = reinterpret_cast<const std::byte*>(NormDataAccessData(e.object));
          wire::Reader r(std::span(data, size));
          const uint32_t group = r.U32();
          (void)r.U32();
          const uint64_t group_seq = r.U64();
          const int64_t send_time_ns = r.I64();
          const auto sender = static_cast<wire::NodeId>(NormNodeGetId(NormObjectGetSender(e.object)));
          Deliver(Delivery{group, sender, group_seq, std::span(data + kHeaderBytes, size - kHeaderBytes),
                           send_time_ns, now});
        }
        NormObjectRelease(e.object);
        break;
      }
      default:
        break;
    }
  }
  Pump();
}

bool NormDriver::Enqueue(const OutgoingMessage& m) {
  const size_t size = kHeaderBytes + std::min(m.payload.size(), config_.message_size);
  auto buffer = std::make_unique<std::byte[]>(config_.message_size + kHeaderBytes);
  const TimePoint intended = m.intended == TimePoint{} ? scheduler_.clock().Now() : m.intended;
  const uint64_t group_seq = group_seqs_[m.group] + 1;
  wire::Writer w(std::span(buffer.get(), size));
  w.U32(m.group);
  w.U32(0);
  w.U64(group_seq);
  w.I64(ToNanos(intended));
  std::memcpy(buffer.get() + kHeaderBytes, m.payload.data(), size - kHeaderBytes);
  const NormObjectHandle object =
      NormDataEnqueue(impl_->session, reinterpret_cast<const char*>(buffer.get()), static_cast<UINT32>(size));
  if (object == NORM_OBJECT_INVALID) {
    vacancy_ = false;  // NORM_TX_QUEUE_VACANCY says when to try again
    return false;
  }
  group_seqs_[m.group] = group_seq;
  scheduler_.counters().Add(Counter::kMessagesSent);
  // A member gets its own messages, as from QSM.
  Deliver(Delivery{m.group, config_.id, group_seq, std::span(buffer.get() + kHeaderBytes, size - kHeaderBytes),
                   ToNanos(intended), scheduler_.clock().Now()});
  const bool fresh = buffers_.emplace(Key(object), std::move(buffer)).second;
  QSM_CHECK(fresh, "NORM reused the handle of an object whose purge the driver has not handled");
  buffered_bytes_ += config_.message_size + kHeaderBytes;
  impl_->last_object = object;
  ++unacknowledged_;
  return true;
}

void NormDriver::RequestAcks() {
  if (watermark_pending_ || unacknowledged_ == 0 || impl_->last_object == NORM_OBJECT_INVALID) return;
  NormSetWatermark(impl_->session, impl_->last_object, true);
  watermark_pending_ = true;
  watermark_covers_ = unacknowledged_;
}

void NormDriver::Pump() {
  if (!impl_->sender_started) return;
  // A message the feed gave is sent: one NORM refused (its queue was full) goes first.
  if (held_) {
    if (!vacancy_ || !Enqueue(*held_)) {
      RequestAcks();
      return;
    }
    held_.reset();
  }
  OutgoingMessage m;
  while (feed_ != nullptr && ready_(0) && feed_->Next(m, ready_)) {
    if (!Enqueue(m)) {
      held_ = std::move(m);  // ready_ is false until NORM_TX_QUEUE_VACANCY
      break;
    }
    if (unacknowledged_ >= config_.window / 2) RequestAcks();
  }
  RequestAcks();  // whatever went out and is not yet covered
  if (feed_ != nullptr) {
    if (auto next = feed_->NextReady(ready_)) ArmPumpAlarm(*next);
  }
}

Node::Memory NormDriver::MemoryUse() const {
  return {.pending_messages = unacknowledged_,
          .pending_bytes = unacknowledged_ * (config_.message_size + kHeaderBytes),
          .cache_bytes = buffered_bytes_,
          .cached_messages = buffers_.size()};
}

}  // namespace qsm::harness
