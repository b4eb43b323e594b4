#include "engine/region/message_store.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {

StoredMessage* MessageStore::Find(uint64_t seq) {
  if (slots_.empty() || seq < base_ || seq - base_ >= slots_.size()) return nullptr;
  StoredMessage& m = slots_[static_cast<size_t>(seq - base_)];
  return m.present ? &m : nullptr;
}

size_t MessageStore::Put(const wire::DataPacket& m) {
  const uint64_t seq = m.region_seq;
  if (slots_.empty()) {
    base_ = seq;
    slots_.emplace_back();
  } else if (seq < base_) {
    slots_.insert(slots_.begin(), static_cast<size_t>(base_ - seq), StoredMessage{});
    base_ = seq;
  } else if (seq - base_ >= slots_.size()) {
    slots_.resize(static_cast<size_t>(seq - base_ + 1));
  }
  StoredMessage& slot = slots_[static_cast<size_t>(seq - base_)];
  QSM_CHECK(!slot.present, "MessageStore::Put over a stored message");
  slot.group = m.group;
  slot.group_seq = m.group_seq;
  slot.send_time_ns = m.send_time_ns;
  slot.catch_up = m.catch_up;
  slot.delivered_early = false;
  slot.present = true;
  if (!spare_.empty()) {
    slot.payload = std::move(spare_.back());
    spare_.pop_back();
  }
  slot.payload.assign(m.payload.begin(), m.payload.end());
  ++count_;
  return slot.payload.size();
}

size_t MessageStore::Erase(uint64_t seq) {
  StoredMessage* m = Find(seq);
  if (m == nullptr) return 0;
  const size_t bytes = m->payload.size();
  m->present = false;
  if (spare_.size() < kMaxSpare) {
    m->payload.clear();
    spare_.push_back(std::move(m->payload));
  }
  m->payload = {};
  --count_;
  Trim();
  return bytes;
}

size_t MessageStore::EraseThrough(uint64_t seq) {
  size_t bytes = 0;
  while (!slots_.empty() && base_ <= seq) {
    if (slots_.front().present) {
      bytes += Erase(base_);  // trims, which advances base_
    } else {
      slots_.pop_front();
      ++base_;
    }
  }
  return bytes;
}

void MessageStore::Trim() {
  while (!slots_.empty() && !slots_.front().present) {
    slots_.pop_front();
    ++base_;
  }
  while (!slots_.empty() && !slots_.back().present) slots_.pop_back();
}

}  // namespace qsm
