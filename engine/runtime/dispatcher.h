// The front end of a node's core thread. It takes datagrams from the transport, queues each in
// the scheduler under the priority class of its packet type (looking only at the header), and when
// its turn comes decodes it fully and hands it to the protocol. Malformed input is counted by
// reason and dropped here, so protocol code only ever sees well-formed packets.
// Threading: core thread only.
#pragma once

#include "engine/core/scheduler.h"
#include "engine/transport/transport.h"
#include "engine/wire/packet_handler.h"
#include "engine/wire/packets.h"

namespace qsm {

class Dispatcher final : public TransportHandler, public IoHandler {
 public:
  // Registers the transport as the scheduler's input source and itself as the transport's handler.
  // All three references must outlive the dispatcher.
  Dispatcher(Scheduler& scheduler, Transport& transport, PacketHandler& protocol);
  ~Dispatcher() override;

  void OnReceive(const Endpoint& from, PooledBuffer datagram, TimePoint at) override;
  void OnWritable() override;
  void HandleIo(IoClass io_class, IoEvent& event) override;

 private:
  Scheduler& scheduler_;
  Transport& transport_;
  PacketHandler& protocol_;
};

}  // namespace qsm
