#include "faults/inbound_loss.h"

namespace qsm::faults {

InboundLoss::InboundLoss(Transport& inner, Counters& counters, std::vector<TimeWindow> bursts,
                         double loss_rate, uint64_t seed)
    : inner_(inner), counters_(counters), bursts_(std::move(bursts)), loss_rate_(loss_rate), random_(seed) {
  inner_.SetHandler(this);
}

InboundLoss::~InboundLoss() { inner_.SetHandler(nullptr); }

bool InboundLoss::InBurst(TimePoint at) {
  while (next_burst_ < bursts_.size() && bursts_[next_burst_].end <= at) ++next_burst_;
  return next_burst_ < bursts_.size() && bursts_[next_burst_].start <= at;
}

void InboundLoss::OnReceive(const Endpoint& from, PooledBuffer datagram, TimePoint at) {
  if (InBurst(at) || (loss_rate_ > 0 && random_.Bernoulli(loss_rate_))) {
    counters_.Add(Counter::kDroppedFault);
    return;
  }
  if (handler_ != nullptr) handler_->OnReceive(from, std::move(datagram), at);
}

void InboundLoss::OnWritable() {
  if (handler_ != nullptr) handler_->OnWritable();
}

}  // namespace qsm::faults
