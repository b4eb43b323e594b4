#include "engine/transport/auth/authenticated_transport.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {

AuthenticatedTransport::AuthenticatedTransport(Transport& inner, Counters& counters,
                                               std::shared_ptr<const ClusterKeys> keys)
    : inner_(inner), counters_(counters), keys_(std::move(keys)) {
  QSM_CHECK(keys_ != nullptr, "AuthenticatedTransport needs keys");
  inner_.SetHandler(this);
}

AuthenticatedTransport::~AuthenticatedTransport() { inner_.SetHandler(nullptr); }

std::span<const std::byte> AuthenticatedTransport::SealInto(size_t i, std::span<const std::byte> packet) {
  if (sealed_.size() <= i) sealed_.resize(i + 1);
  std::vector<std::byte>& out = sealed_[i];
  out.resize(packet.size() + kAuthTrailerBytes);
  std::copy(packet.begin(), packet.end(), out.begin());
  keys_->Seal(out);
  return out;
}

SendStatus AuthenticatedTransport::Send(Endpoint to, std::span<const std::byte> datagram) {
  return inner_.Send(to, SealInto(0, datagram));
}

size_t AuthenticatedTransport::SendBatch(std::span<const OutgoingDatagram> batch) {
  sealed_batch_.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) sealed_batch_[i] = {batch[i].to, SealInto(i, batch[i].bytes)};
  return inner_.SendBatch(sealed_batch_);
}

void AuthenticatedTransport::OnReceive(const Endpoint& from, PooledBuffer datagram, TimePoint at) {
  const std::optional<size_t> packet = keys_->Open(datagram.bytes());
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
