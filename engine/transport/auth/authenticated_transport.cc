#include "engine/transport/auth/authenticated_transport.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {

AuthenticatedTransport::AuthenticatedTransport(Transport& inner, Counters& counters,
                                               std::shared_ptr<const ClusterKeys> keys, uint64_t salt)
    : inner_(inner), counters_(counters), auth_(std::move(keys), salt) {
  inner_.SetHandler(this);
}

AuthenticatedTransport::~AuthenticatedTransport() { inner_.SetHandler(nullptr); }

SendStatus AuthenticatedTransport::Send(Endpoint to, std::span<const std::byte> datagram) {
  sealed_.resize(datagram.size() + kAuthTrailerBytes);
  std::copy(datagram.begin(), datagram.end(), sealed_.begin());
  const auto packet = std::span(sealed_).first(datagram.size());
  auth_.Seal(packet, std::span(sealed_).last<kAuthTrailerBytes>());
  return inner_.Send(to, sealed_);
}

size_t AuthenticatedTransport::SendBatch(std::span<const OutgoingDatagram> batch) {
  sealed_batch_.resize(batch.size());
  if (trailers_.size() < batch.size()) trailers_.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    QSM_CHECK(batch[i].trailer.empty(), "the protocol sends no trailer; nothing seals twice");
    auth_.Seal(batch[i].bytes, trailers_[i]);
    sealed_batch_[i] = {batch[i].to, batch[i].bytes, trailers_[i]};
  }
  return inner_.SendBatch(sealed_batch_);
}

void AuthenticatedTransport::OnReceive(const Endpoint& from, PooledBuffer datagram, TimePoint at) {
  const std::optional<size_t> packet = auth_.Open(datagram.bytes());
  if (!packet) {
    counters_.Add(Counter::kDroppedAuth);
    return;
  }
  datagram.set_size(*packet);
  if (handler_ != nullptr) handler_->OnReceive(from, std::move(datagram), at);
}

void AuthenticatedTransport::OnWritable() {
  if (handler_ != nullptr) handler_->OnWritable();
}

}  // namespace qsm
