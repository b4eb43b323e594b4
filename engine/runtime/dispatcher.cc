#include "engine/runtime/dispatcher.h"

namespace qsm {

Dispatcher::Dispatcher(Scheduler& scheduler, Transport& transport, PacketHandler& protocol)
    : scheduler_(scheduler), transport_(transport), protocol_(protocol) {
  transport_.SetHandler(this);
  scheduler_.AddIoSource(&transport_);
}

Dispatcher::~Dispatcher() {
  scheduler_.RemoveIoSource(&transport_);
  transport_.SetHandler(nullptr);
}

void Dispatcher::OnReceive(const Endpoint& from, PooledBuffer datagram, TimePoint at) {
  auto header = wire::PeekHeader(datagram.bytes());
  if (!header) {
    scheduler_.counters().Add(wire::DropCounter(header.error()));
    return;
  }
  scheduler_.PostIo(InboundClass(wire::InfoOf(header->type).traffic), IoEvent{this, std::move(datagram), from, at});
}

void Dispatcher::OnWritable() { scheduler_.PostIo(IoClass::kOutboundData, IoEvent{this, {}, {}, {}}); }

void Dispatcher::HandleIo(IoClass io_class, IoEvent& event) {
  if (io_class >= IoClass::kOutboundControl) {
    protocol_.OnWritable();
    return;
  }
  auto packet = wire::Decode(event.buffer.bytes());
  if (!packet) {
    scheduler_.counters().Add(wire::DropCounter(packet.error()));
    return;
  }
  protocol_.OnPacket(*packet, event.buffer.bytes(), event.peer, event.time);
}

}  // namespace qsm
