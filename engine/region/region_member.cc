#include "engine/region/region_member.h"

#include <algorithm>
#include <limits>

#include <boost/container_hash/hash.hpp>

#include "engine/core/check.h"
#include "engine/region/seq_ranges.h"

namespace qsm {
namespace {

constexpr uint64_t kNoPrefix = std::numeric_limits<uint64_t>::max();
// Bounds the forwards one member's pull requests can cause in one round, whatever it sends.
constexpr uint64_t kMaxPulledPerRound = 4096;
// How far past the rounds its leader can have started since this member last saw one a token's
// round may be: covers the leader having installed the view this long before this member, and a
// token's time in flight. Rounds further ahead are impossible (a forgery, or a bug) and dropped: a
// round number taken as the newest would make every later token look stale.
constexpr Duration kRoundAheadSlack = 10s;

}  // namespace

RegionMember::RegionMember(Env env, RegionConfig config, wire::NodeId self, RegionListener& listener)
    : env_(env),
      config_(config),
      self_(self),
      listener_(listener),
      hops_({config.token_hop_timeout, config.token_hop_give_up, config.ring_skip_after}, env.scheduler.alarms(),
            env.scheduler.clock(), env.control != nullptr ? *env.control : env.transport, env.counters,
            [this](const wire::TokenAckPacket& key) { return IsCurrent(key.rvid) && key.round >= round_; },
            [this](const wire::TokenAckPacket& key, const Endpoint& to) { return SkipUnanswered(key, to); }) {}

RegionMember::~RegionMember() {
  env_.scheduler.alarms().Cancel(next_round_alarm_);
  env_.scheduler.alarms().Cancel(timeout_alarm_);
}

void RegionMember::InstallView(const wire::RegionView& view) {
  if (IsCurrent(view.id)) return;
  env_.scheduler.alarms().Cancel(next_round_alarm_);
  env_.scheduler.alarms().Cancel(timeout_alarm_);
  hops_.Clear();
  senders_.clear();
  recovery_.clear();
  queued_forwards_.clear();
  round_ = visited_round_ = completed_partition_round_ = completed_region_round_ = 0;
  round_seen_at_ = env_.scheduler.clock().Now();
  pull_budgets_.clear();
  held_region_token_.reset();
  last_passed_.reset();
  suspected_.clear();
  leader_senders_.clear();
  round_running_ = false;
  last_rtt_ = smoothed_rtt_ = Duration::zero();
  stats_.cache_bytes = 0;
  stats_.cached_messages = 0;
  layout_ = RegionLayout::For(view, config_.replication, self_);
  if (layout_) pull_budgets_.assign(layout_->size(), PullBudget{});
}

std::optional<std::pair<uint64_t, uint64_t>> RegionMember::WindowOf(wire::NodeId sender) const {
  auto it = senders_.find(sender);
  if (it == senders_.end()) return std::nullopt;
  return std::make_pair(it->second.window.contiguous(), it->second.window.highest());
}

Duration RegionMember::TokenPeriod() const {
  return Duration(static_cast<int64_t>(1e9 / std::max(config_.token_rate, 0.001)));
}

Duration RegionMember::RoundPeriod(TimePoint now) {
  uint64_t seen = 0;
  for (const auto& [sender, ls] : leader_senders_) seen += ls.highest;
  const uint64_t arrived = seen - std::min(seen, seen_at_round_end_);
  const Duration since = now - last_round_end_;
  seen_at_round_end_ = seen;
  last_round_end_ = now;
  const Duration idle = TokenPeriod();
  if (!config_.adaptive_rounds || arrived == 0 || since <= Duration::zero()) return idle;
  // The period in which pending_target messages arrive at the current rate.
  const double per_message_ns = static_cast<double>(since.count()) / static_cast<double>(arrived);
  const auto period = Duration(static_cast<int64_t>(per_message_ns * static_cast<double>(config_.pending_target)));
  return std::clamp(period, std::min(config_.min_round_period, idle), idle);
}

RegionMember::SenderState* RegionMember::State(wire::NodeId sender) {
  auto it = senders_.find(sender);
  if (it != senders_.end()) return &it->second;
  // A token carries at most kMaxSenderRecords senders; beyond that (forged or broken senders)
  // nothing is tracked, so input from the network cannot grow this map without bound.
  if (senders_.size() >= wire::kMaxSenderRecords) return nullptr;
  return &senders_[sender];
}

std::optional<Endpoint> RegionMember::SenderEndpoint(wire::NodeId sender) const {
  if (auto index = layout_->IndexOf(sender)) return layout_->member(*index).endpoint;
  auto it = sender_endpoints_.find(sender);
  if (it == sender_endpoints_.end()) return std::nullopt;
  return it->second;
}

void RegionMember::OnPacket(const wire::Packet& packet, const Endpoint& from, TimePoint at) {
  switch (packet.type) {
    case wire::PacketType::kData:
    case wire::PacketType::kRetransmit:
    case wire::PacketType::kForward:
      OnData(packet.type, packet.source, std::get<wire::DataPacket>(packet.body), from, at);
      return;
    case wire::PacketType::kDataBatch:
    case wire::PacketType::kForwardBatch: {
      const auto each = packet.type == wire::PacketType::kDataBatch ? wire::PacketType::kData : wire::PacketType::kForward;
      std::get<wire::DataBatchPacket>(packet.body).ForEach([&](const wire::DataPacket& data) {
        OnData(each, packet.source, data, from, at);
      });
      return;
    }
    case wire::PacketType::kPartitionToken:
    case wire::PacketType::kRegionToken:
      OnToken(packet, from, at);
      return;
    case wire::PacketType::kTokenAck:
      OnTokenAck(std::get<wire::TokenAckPacket>(packet.body), from);
      return;
    case wire::PacketType::kPullRequest:
      OnPullRequest(std::get<wire::RecoveryRequest>(packet.body), from);
      return;
    default:
      env_.counters.Add(Counter::kWrongView);  // not a region packet: the router never sends one here
      return;
  }
}

// ---------------------------------------------------------------- data, delivery, caching

void RegionMember::OnOwnMessage(const wire::DataPacket& message, TimePoint at) {
  if (!IsCurrent(message.rvid)) return;
  SenderState* s = State(self_);
  if (s == nullptr || s->window.Insert(message.region_seq) != ReceiveWindow::InsertResult::kNew) return;
  s->active = true;
  ++s->received_since_visit;
  // Invariant: a sender transmits its messages in sequence order, so its own are always next.
  QSM_CHECK(message.region_seq == s->delivered + 1, "own messages recorded out of order");
  ++s->delivered;
  listener_.OnRegionMessage(self_, message, at);
  NoteActivity(self_, at);
}

void RegionMember::NoteActivity(wire::NodeId sender, TimePoint at) {
  if (!layout_->is_region_leader()) return;
  leader_senders_.try_emplace(sender);
  if (!round_running_ && !env_.scheduler.alarms().IsPending(next_round_alarm_)) ScheduleRound(at);
}

void RegionMember::OnData(wire::PacketType type, wire::NodeId source, const wire::DataPacket& data,
                          const Endpoint& from, TimePoint at) {
  if (!IsCurrent(data.rvid)) {
    env_.counters.Add(Counter::kWrongView);
    return;
  }
  if (data.sender == self_) {  // our own messages come from our sender, never from the network
    env_.counters.Add(Counter::kDuplicatesDropped);
    return;
  }
  // Data and retransmissions (tail probes too) come from the sender itself; forwards do not.
  if (source == data.sender && type != wire::PacketType::kForward) {
    auto [endpoint, added] = sender_endpoints_.try_emplace(data.sender, from);
    if (!added && endpoint->second != from) endpoint->second = from;
  }
  SenderState* state = State(data.sender);
  if (state == nullptr) {
    env_.counters.Add(Counter::kDroppedMalformed);
    return;
  }
  SenderState& s = *state;
  switch (s.window.Insert(data.region_seq)) {
    case ReceiveWindow::InsertResult::kOutOfRange:
      env_.counters.Add(Counter::kDroppedMalformed);
      return;
    case ReceiveWindow::InsertResult::kDuplicate:
      env_.counters.Add(Counter::kDuplicatesDropped);
      // A retransmission (a tail probe) says the sender still waits for an ACK: a leader whose
      // token went quiet must start rounds again, though it has the message.
      if (type == wire::PacketType::kRetransmit) NoteActivity(data.sender, at);
      return;
    case ReceiveWindow::InsertResult::kNew:
      break;
  }
  s.active = true;
  ++s.received_since_visit;
  if (type != wire::PacketType::kForward) s.heard_from_sender = true;
  if (data.region_seq == s.delivered + 1 && !layout_->i_cache(data.region_seq)) {
    // In order and not ours to cache: deliver straight from the packet, store nothing.
    ++s.delivered;
    listener_.OnRegionMessage(data.sender, data, at);
    DeliverReady(data.sender, s, at);
  } else {
    Store(s, data);
    if (data.region_seq > s.delivered + 1 && listener_.DeliversOnArrival(data.group)) {
      listener_.OnRegionMessage(data.sender, data, at);
      s.store.Find(data.region_seq)->delivered_early = true;
    }
    DeliverReady(data.sender, s, at);
  }
  NoteActivity(data.sender, at);
}

void RegionMember::Store(SenderState& s, const wire::DataPacket& m) {
  stats_.cache_bytes += s.store.Put(m);
  ++stats_.cached_messages;
}

void RegionMember::EraseStored(SenderState& s, uint64_t seq) {
  stats_.cache_bytes -= s.store.Erase(seq);
  --stats_.cached_messages;
}

void RegionMember::DeliverReady(wire::NodeId sender, SenderState& s, TimePoint at) {
  while (s.delivered < s.window.contiguous()) {
    const uint64_t seq = ++s.delivered;
    StoredMessage* m = s.store.Find(seq);
    QSM_CHECK(m != nullptr, "a message inside the contiguous prefix was not stored");
    wire::DataPacket view{.rvid = layout_->view().id,
                          .sender = sender,
                          .group = m->group,
                          .region_seq = seq,
                          .group_seq = m->group_seq,
                          .send_time_ns = m->send_time_ns,
                          .catch_up = m->catch_up,
                          .payload = m->payload};
    if (!m->delivered_early) listener_.OnRegionMessage(sender, view, at);
    if (!layout_->i_cache(seq) || seq <= s.cleanup) EraseStored(s, seq);
  }
}

void RegionMember::Cleanup(SenderState& s, uint64_t upto) {
  if (upto <= s.cleanup) return;
  s.cleanup = upto;
  // Invariant: cleanup <= delivered (it is a region-wide prefix this node was part of).
  const size_t before = s.store.count();
  stats_.cache_bytes -= s.store.EraseThrough(std::min(upto, s.delivered));
  stats_.cached_messages -= before - s.store.count();
}

// ---------------------------------------------------------------- rounds

void RegionMember::ScheduleRound(TimePoint at) {
  env_.scheduler.alarms().Cancel(next_round_alarm_);
  next_round_alarm_ = env_.scheduler.alarms().Schedule(at, [this](TimePoint now) { StartRound(now); });
}

void RegionMember::StartRound(TimePoint now) {
  env_.scheduler.alarms().Cancel(next_round_alarm_);
  env_.scheduler.alarms().Cancel(timeout_alarm_);
  if (!layout_ || !layout_->is_region_leader()) return;
  if (leader_senders_.empty()) {
    round_running_ = false;  // quiet: no active sender; the next message restarts the token
    return;
  }
  if (round_running_) env_.counters.Add(Counter::kTokensRegenerated);
  round_running_ = true;
  round_start_ = now;
  ++round_;
  round_seen_at_ = now;
  const size_t parts = layout_->partitions();
  wire::TokenPacket token{
      .rvid = layout_->view().id, .round = round_, .partition = 0, .round_start_ns = ToNanos(now)};
  // Least recently carried first: when the token cannot carry every sender, the ones left out
  // this round go first in the next.
  std::vector<std::pair<uint64_t, wire::NodeId>> order;
  order.reserve(leader_senders_.size());
  for (const auto& [sender, ls] : leader_senders_) order.emplace_back(ls.last_round, sender);
  std::sort(order.begin(), order.end());
  for (const auto& [last_round, sender] : order) {
    if (token.records.size() >= wire::kMaxSenderRecords) break;
    LeaderSender& ls = leader_senders_[sender];
    ls.partition_contiguous.resize(parts, 0);
    token.records.push_back(wire::SenderRecord{.sender = sender,
                                               .highest_seen = ls.highest,
                                               .contiguous = kNoPrefix,
                                               .cleanup = ls.stable,
                                               .partition_contiguous = ls.partition_contiguous});
  }
  // A smoothed RTT: one slow round (a member asleep) no longer makes the next lost round wait 20x it.
  const Duration timeout =
      std::max({config_.min_token_timeout, 3 * TokenPeriod(), std::min<Duration>(10 * smoothed_rtt_, 5s)});
  timeout_alarm_ = env_.scheduler.alarms().Schedule(now + timeout, [this](TimePoint t) { StartRound(t); });
  BeginPartitionRound(std::move(token), now);
}

void RegionMember::BeginPartitionRound(wire::TokenPacket region_token, TimePoint now) {
  if (completed_partition_round_ >= region_token.round ||
      (held_region_token_ && held_region_token_->round >= region_token.round)) {
    env_.counters.Add(Counter::kStaleTokens);
    return;
  }
  // Standing in for the partition's leader: it and every member before this one in the ring were
  // skipped by the region ring, so this round's partition ring passes over them fast.
  const size_t p = layout_->my_partition();
  for (size_t pos = 0; pos < layout_->position_of(layout_->self_index()); ++pos) {
    suspected_.insert(layout_->member_at(p, pos));
  }
  wire::TokenPacket token{.rvid = region_token.rvid,
                          .round = region_token.round,
                          .partition = static_cast<uint32_t>(p),
                          .round_start_ns = region_token.round_start_ns};
  for (const auto& r : region_token.records) {
    token.records.push_back(wire::SenderRecord{.sender = r.sender,
                                               .highest_seen = r.highest_seen,
                                               .contiguous = kNoPrefix,
                                               .cleanup = r.cleanup,
                                               .rate_min = std::numeric_limits<uint32_t>::max(),
                                               .partition_contiguous = r.partition_contiguous});
  }
  held_region_token_ = std::move(region_token);
  partition_round_start_ = now;
  VisitPartitionToken(token, /*first=*/true, now);
}

void RegionMember::VisitPartitionToken(wire::TokenPacket& token, bool first, TimePoint now) {
  visited_round_ = token.round;
  const size_t me = layout_->self_index();
  const size_t p = layout_->my_partition();
  const size_t psize = layout_->partition_size(p);
  const size_t predecessor = layout_->member_at(p, (layout_->position_of(me) + psize - 1) % psize);
  std::set<wire::NodeId> present;

  auto fold = [&](wire::SenderRecord& rec, SenderState* s, bool record_is_new) {
    const uint64_t my_prefix = s ? s->window.contiguous() : 0;
    rec.highest_seen = std::max(rec.highest_seen, s ? s->window.highest() : 0);
    scratch_ranges_.clear();
    if (s != nullptr) {
      s->window.MissingRanges(RepairUpTo(*s, rec.highest_seen), wire::kMaxRanges, scratch_ranges_);
      s->seen_by_region_at_visit = rec.highest_seen;
    } else if (rec.highest_seen > 0) {
      scratch_ranges_.push_back({1, rec.highest_seen});
    }
    if (record_is_new && !first) {
      rec.contiguous = 0;  // earlier members of this partition did not fold into it
      rec.missing_all.clear();
    } else {
      rec.contiguous = std::min(rec.contiguous, my_prefix);
      rec.missing_all = first ? scratch_ranges_ : Intersect(rec.missing_all, scratch_ranges_);
    }
    uint32_t rate = 0;
    if (s != nullptr) {
      const double seconds = ToSeconds(now - s->last_visit);
      if (s->last_visit != TimePoint{} && seconds > 0) {
        rate = static_cast<uint32_t>(std::min(4e9, static_cast<double>(s->received_since_visit) / seconds));
      }
      s->received_since_visit = 0;
      s->heard_from_sender = false;
      s->last_visit = now;
      s->active = false;
    }
    rec.rate_min = std::min(rec.rate_min, rate);
    rec.rate_max = std::max(rec.rate_max, rate);
    rec.rate_sum += rate;
    rec.pred_contiguous = my_prefix;
    rec.pred_missing = scratch_ranges_;
  };

  for (auto& rec : token.records) {
    present.insert(rec.sender);
    auto it = senders_.find(rec.sender);
    SenderState* s = it == senders_.end() ? nullptr : &it->second;
    if (!first) CompareWithPredecessor(rec, predecessor);
    PullAcrossPartitions(rec);
    fold(rec, s, /*record_is_new=*/false);
  }
  for (auto& [sender, s] : senders_) {
    if (!s.active || present.contains(sender) || token.records.size() >= wire::kMaxSenderRecords) continue;
    wire::SenderRecord rec{.sender = sender,
                           .contiguous = kNoPrefix,
                           .rate_min = std::numeric_limits<uint32_t>::max(),
                           .partition_contiguous = std::vector<uint64_t>(layout_->partitions(), 0)};
    fold(rec, &s, /*record_is_new=*/true);
    token.records.push_back(std::move(rec));
  }
  ++token.members_visited;
  const size_t successor = layout_->successor_in_partition(me);
  PassPartitionToken(successor, token);
  // Freeing what the cleanup point releases can take a while (a round's worth of messages): it
  // happens after the token has left, so it never delays the round.
  for (const auto& rec : token.records) {
    if (auto it = senders_.find(rec.sender); it != senders_.end()) Cleanup(it->second, rec.cleanup);
  }
}

uint64_t RegionMember::RepairUpTo(const SenderState& s, uint64_t token_highest) {
  const uint64_t beyond_own = s.heard_from_sender ? 0 : s.seen_by_region_at_visit;
  return std::min(token_highest, std::max(s.window.highest(), beyond_own));
}

void RegionMember::CompareWithPredecessor(const wire::SenderRecord& rec, size_t predecessor) {
  if (predecessor == layout_->self_index()) return;
  const Endpoint pred = layout_->member(predecessor).endpoint;
  auto it = senders_.find(rec.sender);
  SenderState* s = it == senders_.end() ? nullptr : &it->second;

  // Push: what the predecessor lacks and this node holds.
  if (s != nullptr) {
    size_t budget = config_.max_recovery_per_token;
    for (const auto& r : rec.pred_missing) {
      ForEachHeld(rec.sender, *s, r.first, r.last, [&](uint64_t seq) {
        if (budget == 0) return false;
        QueueForward(pred, rec.sender, seq, Counter::kRecoveryPush);
        --budget;
        return true;
      });
    }
  }

  // Pull from the predecessor what this node lacks and the predecessor has (same partition: it
  // caches the same messages).
  scratch_ranges_.clear();
  if (s != nullptr) {
    s->window.MissingRanges(std::min(RepairUpTo(*s, rec.highest_seen), rec.pred_contiguous), wire::kMaxRanges,
                            scratch_ranges_);
  } else if (std::min(rec.highest_seen, rec.pred_contiguous) > 0) {
    scratch_ranges_.push_back({1, std::min(rec.highest_seen, rec.pred_contiguous)});
  }
  auto wanted = CachedBy(scratch_ranges_, layout_->my_partition(), layout_->partitions());
  if (!wanted.empty()) PullFrom(pred, rec.sender, wanted);
}

void RegionMember::PullAcrossPartitions(const wire::SenderRecord& rec) {
  const size_t parts = layout_->partitions();
  if (parts == 1) return;
  auto it = senders_.find(rec.sender);
  scratch_ranges_.clear();
  if (it != senders_.end()) {
    it->second.window.MissingRanges(RepairUpTo(it->second, rec.highest_seen), wire::kMaxRanges, scratch_ranges_);
  } else if (rec.highest_seen > 0) {
    scratch_ranges_.push_back({1, rec.highest_seen});
  }
  const size_t mine = layout_->my_partition();
  for (size_t q = 0; q < parts && !scratch_ranges_.empty(); ++q) {
    if (q == mine || q >= rec.partition_contiguous.size()) continue;
    // Every member of q holds what q caches up to `has`: that part is pulled from any member of q.
    // Above it some member of q lags; most others have it: that part is asked of another random
    // member, so one lagging member cannot block everyone's repair from its partition.
    const uint64_t has = rec.partition_contiguous[q];
    std::vector<wire::SeqRange> vouched, beyond;
    for (const auto& r : scratch_ranges_) {
      if (r.first <= has) vouched.push_back({r.first, std::min(r.last, has)});
      if (r.last > has) beyond.push_back({std::max(r.first, has + 1), r.last});
    }
    for (auto* part : {&vouched, &beyond}) {
      const auto wanted = CachedBy(*part, q, parts);
      if (wanted.empty()) continue;
      const size_t target = layout_->member_at(q, env_.random.Uniform(layout_->partition_size(q)));
      PullFrom(layout_->member(target).endpoint, rec.sender, wanted);
    }
  }
}

void RegionMember::CompletePartitionRound(const wire::TokenPacket& token, TimePoint now) {
  if (!held_region_token_ || held_region_token_->round != token.round) {
    env_.counters.Add(Counter::kStaleTokens);
    return;
  }
  completed_partition_round_ = token.round;
  stats_.partition_rtt_ns.Record(static_cast<uint64_t>((now - partition_round_start_).count()));
  wire::TokenPacket region = std::move(*held_region_token_);
  held_region_token_.reset();
  const size_t p = layout_->my_partition();
  const size_t parts = layout_->partitions();
  // A record the partition token did not carry all the way round (it was full) claims nothing for
  // this round; the partition's prefix from an earlier round still holds (prefixes only grow).
  for (auto& rrec : region.records) {
    const bool carried = std::any_of(token.records.begin(), token.records.end(),
                                     [&](const wire::SenderRecord& r) { return r.sender == rrec.sender; });
    if (!carried) rrec.contiguous = 0;
  }
  for (const auto& prec : token.records) {
    if (!prec.missing_all.empty()) {
      auto lost = CachedBy(prec.missing_all, p, parts);
      auto endpoint = SenderEndpoint(prec.sender);
      if (!lost.empty() && endpoint) {
        SendControl(*endpoint,
                    wire::Packet{wire::PacketType::kNak, self_,
                                 wire::RecoveryRequest{layout_->view().id, prec.sender, std::move(lost)}});
        env_.counters.Add(Counter::kRecoveryNak);
      }
    }
    auto rrec = std::find_if(region.records.begin(), region.records.end(),
                             [&](const wire::SenderRecord& r) { return r.sender == prec.sender; });
    if (rrec == region.records.end()) {
      if (region.records.size() >= wire::kMaxSenderRecords) continue;
      // Appeared during this round: earlier partitions know nothing of it.
      region.records.push_back(wire::SenderRecord{.sender = prec.sender,
                                                  .contiguous = 0,
                                                  .cleanup = prec.cleanup,
                                                  .rate_min = std::numeric_limits<uint32_t>::max(),
                                                  .partition_contiguous = std::vector<uint64_t>(parts, 0)});
      rrec = std::prev(region.records.end());
    }
    rrec->highest_seen = std::max(rrec->highest_seen, prec.highest_seen);
    rrec->contiguous = std::min(rrec->contiguous, prec.contiguous);
    rrec->partition_contiguous.resize(parts, 0);
    rrec->partition_contiguous[p] = prec.contiguous;
    rrec->rate_min = std::min(rrec->rate_min, prec.rate_min);
    rrec->rate_max = std::max(rrec->rate_max, prec.rate_max);
    rrec->rate_sum += prec.rate_sum;
  }
  region.members_visited += token.members_visited;
  region.partition = static_cast<uint32_t>(p + 1);
  PassRegionToken(p + 1 < parts ? layout_->member_at(p + 1, 0) : 0, std::move(region));
}

void RegionMember::CompleteRegionRound(const wire::TokenPacket& token, TimePoint now) {
  if (completed_region_round_ >= token.round || token.round != round_) {
    env_.counters.Add(Counter::kStaleTokens);
    return;
  }
  completed_region_round_ = token.round;
  round_running_ = false;
  bool lagging = false;  // a member lacks what the region had seen by the previous round
  env_.scheduler.alarms().Cancel(timeout_alarm_);
  last_rtt_ = now - round_start_;
  smoothed_rtt_ = smoothed_rtt_ == Duration::zero() ? last_rtt_ : (7 * smoothed_rtt_ + last_rtt_) / 8;
  stats_.region_rtt_ns.Record(static_cast<uint64_t>(last_rtt_.count()));
  env_.counters.Add(Counter::kTokenRounds);
  for (const auto& rec : token.records) {
    LeaderSender& ls = leader_senders_[rec.sender];
    const uint64_t stable = rec.contiguous == kNoPrefix ? 0 : rec.contiguous;
    const bool progressed = stable > ls.stable;
    lagging |= rec.contiguous != kNoPrefix && ls.last_round != 0 && stable < ls.highest;
    ls.stable = std::max(ls.stable, stable);
    ls.highest = std::max(ls.highest, rec.highest_seen);
    ls.partition_contiguous = rec.partition_contiguous;
    ls.idle_rounds = (!progressed && rec.highest_seen <= ls.stable) ? ls.idle_rounds + 1 : 0;
    ls.last_round = token.round;
    const uint32_t avg =
        token.members_visited > 0 ? static_cast<uint32_t>(rec.rate_sum / token.members_visited) : 0;
    const wire::AckPacket ack{layout_->view().id, rec.sender, token.round, ls.stable, rec.rate_min, avg, rec.rate_max};
    if (rec.sender == self_) {
      listener_.OnOwnAck(ack);
    } else if (auto endpoint = SenderEndpoint(rec.sender)) {
      SendControl(*endpoint, wire::Packet{wire::PacketType::kAck, self_, ack});
    }
  }
  std::erase_if(leader_senders_,
                [&](const auto& entry) { return entry.second.idle_rounds >= config_.idle_rounds_to_drop; });
  if (!leader_senders_.empty()) {
    // A token that could not carry every sender pages: the pages of one period come that much faster.
    const size_t carried = std::max<size_t>(token.records.size(), 1);
    const auto pages = static_cast<int64_t>((leader_senders_.size() + carried - 1) / carried);
    Duration period = RoundPeriod(now) / std::max<int64_t>(pages, 1);
    if (lagging) {
      const double speedup = std::max(1.0, config_.repair_speedup);
      period = Duration(static_cast<int64_t>(static_cast<double>(period.count()) / speedup));
    }
    // Paging and the repair speedup divide the period too: adaptive rounds stay at most one per
    // min_round_period whatever divides it.
    if (config_.adaptive_rounds) period = std::max(period, config_.min_round_period);
    ScheduleRound(now + std::max(period - last_rtt_, period / 2));
  }
}

wire::TokenAckPacket RegionMember::PassToken(const Endpoint& to, wire::PacketType type, wire::TokenPacket token,
                                             std::optional<Duration> skip_after) {
  if (const size_t deferred = FitToken(token, config_.max_token_bytes); deferred > 0) {
    env_.counters.Add(Counter::kTokenRecordsDeferred, deferred);
  }
  const wire::Packet packet{type, self_, std::move(token)};
  hops_.Send(to, packet, skip_after);
  return TokenHops::AckOf(packet);
}

bool RegionMember::SkipUnanswered(const wire::TokenAckPacket& key, const Endpoint& to) {
  if (!last_passed_ || last_passed_->key != key || layout_->member(last_passed_->to).endpoint != to) return false;
  return last_passed_->type == wire::PacketType::kPartitionToken ? SkipInPartitionRing() : SkipInRegionRing();
}

bool RegionMember::SkipInPartitionRing() {
  const size_t skipped = last_passed_->to;
  // This hop returns the token to the member leading the round: the round cannot end without it.
  if (last_passed_->token.members_visited >= layout_->partition_size(layout_->my_partition())) return false;
  wire::TokenPacket token = std::move(last_passed_->token);
  last_passed_.reset();
  env_.counters.Add(Counter::kRingMembersSkipped);
  suspected_.insert(skipped);
  // As if the skipped member had visited and held nothing: no record claims a prefix this round,
  // and the next member neither pushes to it nor pulls from it.
  for (auto& rec : token.records) {
    rec.contiguous = 0;
    rec.pred_contiguous = 0;
    rec.pred_missing.clear();
  }
  ++token.members_visited;
  const size_t next = layout_->successor_in_partition(skipped);
  if (next == layout_->self_index()) {  // this node leads the round: the token is back
    CompletePartitionRound(token, env_.scheduler.clock().Now());
    return true;
  }
  PassPartitionToken(next, std::move(token));
  return true;
}

bool RegionMember::SkipInRegionRing() {
  const size_t skipped = last_passed_->to;
  const size_t q = last_passed_->token.partition;
  const size_t parts = layout_->partitions();
  if (q >= parts) return false;  // the hop back to the region leader: nobody can stand in for it
  wire::TokenPacket token = std::move(last_passed_->token);
  last_passed_.reset();
  env_.counters.Add(Counter::kRingMembersSkipped);
  suspected_.insert(skipped);
  const size_t next = layout_->successor_in_partition(skipped);
  if (layout_->position_of(next) != 0) {  // the next member of q stands in for its leader
    PassRegionToken(next, std::move(token));
    return true;
  }
  // No member of q answered: q is left out of this round. It claims nothing (its prefix in the
  // partition table stays the one from an earlier round: prefixes only grow).
  for (auto& rec : token.records) rec.contiguous = 0;
  token.partition = static_cast<uint32_t>(q + 1);
  PassRegionToken(q + 1 < parts ? layout_->member_at(q + 1, 0) : 0, std::move(token));
  return true;
}

void RegionMember::PassPartitionToken(size_t to, wire::TokenPacket token) {
  PassRemembered(to, wire::PacketType::kPartitionToken, std::move(token));
}

void RegionMember::PassRegionToken(size_t to, wire::TokenPacket token) {
  PassRemembered(to, wire::PacketType::kRegionToken, std::move(token));
}

void RegionMember::PassRemembered(size_t to, wire::PacketType type, wire::TokenPacket token) {
  const std::optional<Duration> skip_after =
      suspected_.contains(to) ? std::optional(config_.suspect_skip_after) : std::nullopt;
  const wire::TokenAckPacket key = PassToken(layout_->member(to).endpoint, type, token, skip_after);
  last_passed_ = PassedToken{key, type, to, std::move(token)};
}

// ---------------------------------------------------------------- inbound control

void RegionMember::OnToken(const wire::Packet& packet, const Endpoint& from, TimePoint at) {
  const auto& token = std::get<wire::TokenPacket>(packet.body);
  if (!IsCurrent(token.rvid)) {
    env_.counters.Add(Counter::kStaleTokens);
    return;
  }
  if (!MayPassTokenHere(packet.type, token, from)) {
    env_.counters.Add(Counter::kDroppedSource);
    return;
  }
  if (token.round > MaxPlausibleRound(at)) {
    env_.counters.Add(Counter::kDroppedTokenRound);
    return;
  }
  // Acknowledge every copy: an earlier acknowledgement may be lost.
  SendControl(from, wire::Packet{wire::PacketType::kTokenAck, self_, TokenHops::AckOf(packet)});
  if (token.round < round_) {
    env_.counters.Add(Counter::kStaleTokens);
    return;
  }
  if (token.round > round_) {
    round_ = token.round;
    round_seen_at_ = at;
  }
  const size_t p = layout_->my_partition();
  if (packet.type == wire::PacketType::kPartitionToken) {
    if (token.partition != p) {
      env_.counters.Add(Counter::kStaleTokens);
      return;
    }
    const size_t psize = layout_->partition_size(p);
    if (token.members_visited >= psize) {
      // Back round the ring, at the member that leads this round (the partition leader, or the
      // member standing in for it).
      if (!held_region_token_ || held_region_token_->round != token.round) {
        env_.counters.Add(Counter::kStaleTokens);
        return;
      }
      const size_t predecessor = layout_->member_at(p, (layout_->position_of(layout_->self_index()) + psize - 1) % psize);
      for (const auto& rec : token.records) CompareWithPredecessor(rec, predecessor);
      CompletePartitionRound(token, at);
      return;
    }
    if (visited_round_ >= token.round) {
      if (!YieldsTo(token)) {
        env_.counters.Add(Counter::kStaleTokens);
        return;
      }
      held_region_token_.reset();
    }
    wire::TokenPacket copy = token;
    VisitPartitionToken(copy, /*first=*/false, at);
    return;
  }
  // Region token: for the leader of partition `token.partition` (or a member standing in for it),
  // or back at the region leader.
  if (layout_->is_region_leader() && token.partition >= layout_->partitions()) {
    CompleteRegionRound(token, at);
  } else if (token.partition == p) {
    BeginPartitionRound(token, at);
  } else {
    env_.counters.Add(Counter::kStaleTokens);
  }
}

bool RegionMember::MayPassTokenHere(wire::PacketType type, const wire::TokenPacket& token,
                                    const Endpoint& from) const {
  const std::optional<size_t> sender = layout_->IndexOfEndpoint(from);
  if (!sender) return false;
  const size_t partition = layout_->partition_of(*sender);
  if (type == wire::PacketType::kPartitionToken) return partition == layout_->my_partition();
  // A region token moves forward over the partitions (skipping any that do not answer), then
  // back to the region leader from whichever partition led last.
  return token.partition >= layout_->partitions() || partition < token.partition;
}

uint64_t RegionMember::MaxPlausibleRound(TimePoint at) const {
  const Duration period = std::max(config_.min_round_period, Duration(1us));
  return round_ + 1 + static_cast<uint64_t>((std::max(at - round_seen_at_, Duration::zero()) + kRoundAheadSlack) / period);
}

bool RegionMember::YieldsTo(const wire::TokenPacket& token) const {
  if (!held_region_token_ || held_region_token_->round != token.round) return false;
  const size_t psize = layout_->partition_size(layout_->my_partition());
  const size_t mine = layout_->position_of(layout_->self_index());
  const size_t leader = (mine + psize - token.members_visited % psize) % psize;  // the token's first member
  return leader > mine;
}

void RegionMember::OnPullRequest(const wire::RecoveryRequest& request, const Endpoint& from) {
  if (!IsCurrent(request.rvid)) {
    env_.counters.Add(Counter::kWrongView);
    return;
  }
  const std::optional<size_t> requester = layout_->IndexOfEndpoint(from);
  if (!requester) {  // forwards go only to members
    env_.counters.Add(Counter::kDroppedSource);
    return;
  }
  auto it = senders_.find(request.sender);
  if (it == senders_.end()) return;
  PullBudget& budget = pull_budgets_[*requester];
  if (budget.round != round_) budget = PullBudget{.round = round_, .left = kMaxPulledPerRound};
  bool refused = false;
  for (const auto& r : request.ranges) {
    ForEachHeld(request.sender, it->second, r.first, r.last, [&](uint64_t seq) {
      if (budget.left == 0) {
        refused = true;
        return false;
      }
      --budget.left;  // also for a forward already queued: the budget bounds the work, too
      QueueForward(from, request.sender, seq, Counter::kRecoveryPull);
      return true;
    });
  }
  if (refused) env_.counters.Add(Counter::kRecoveryRefused);
}

// ---------------------------------------------------------------- output

void RegionMember::SendControl(const Endpoint& to, const wire::Packet& packet) {
  std::vector<std::byte> bytes(wire::EncodedSize(packet));
  auto n = wire::Encode(packet, bytes);
  QSM_CHECK(n.has_value(), "a control packet the engine built does not encode");
  (env_.control != nullptr ? *env_.control : env_.transport).Send(to, std::span(bytes).first(*n));
}

void RegionMember::OnTokenAck(const wire::TokenAckPacket& ack, const Endpoint& from) {
  if (!IsCurrent(ack.rvid)) return;  // late, for a view left behind
  if (!layout_->IndexOfEndpoint(from)) {  // a forged one would stop the hop's resends
    env_.counters.Add(Counter::kDroppedSource);
    return;
  }
  hops_.OnAck(ack);
  std::erase_if(suspected_, [&](size_t i) { return layout_->member(i).endpoint == from; });
}

size_t RegionMember::ForwardKeyHash::operator()(const ForwardKey& k) const noexcept {
  size_t h = std::hash<Endpoint>{}(k.to);
  boost::hash_combine(h, k.sender);
  boost::hash_combine(h, k.seq);
  return h;
}

void RegionMember::QueueForward(const Endpoint& to, wire::NodeId sender, uint64_t seq, Counter kind) {
  if (recovery_.size() >= config_.max_recovery_queue) {
    env_.counters.Add(Counter::kRecoveryRefused);
    return;
  }
  const ForwardKey key{to, sender, seq};
  if (!queued_forwards_.insert(key).second) return;
  recovery_.push_back(Forward{key, kind});
}

void RegionMember::PullFrom(const Endpoint& to, wire::NodeId sender,
                            const std::vector<wire::SeqRange>& ranges) {
  SendControl(to, wire::Packet{wire::PacketType::kPullRequest, self_,
                               wire::RecoveryRequest{layout_->view().id, sender, ranges}});
  env_.counters.Add(Counter::kPullRequests);
}

std::optional<wire::DataPacket> RegionMember::HeldForForward(const Forward& f) {
  wire::DataPacket data;
  if (f.sender == self_) {
    if (!listener_.OwnMessage(f.seq, data)) return std::nullopt;
  } else {
    auto s = senders_.find(f.sender);
    const StoredMessage* stored = s == senders_.end() ? nullptr : s->second.store.Find(f.seq);
    if (stored == nullptr) return std::nullopt;
    data = wire::DataPacket{.sender = f.sender,
                            .group = stored->group,
                            .region_seq = f.seq,
                            .group_seq = stored->group_seq,
                            .send_time_ns = stored->send_time_ns,
                            .catch_up = stored->catch_up,
                            .payload = stored->payload};
  }
  data.rvid = layout_->view().id;
  return data;
}

void RegionMember::ForwardSent(const Forward& f) {
  queued_forwards_.erase(static_cast<const ForwardKey&>(f));
  env_.counters.Add(f.kind);
}

RegionMember::RecoveryResult RegionMember::SendNextRecovery(std::vector<std::byte>& scratch, size_t datagram_bytes) {
  while (!recovery_.empty()) {
    const Forward f = recovery_.front();
    const std::optional<wire::DataPacket> data = HeldForForward(f);
    if (!data) {
      recovery_.pop_front();
      queued_forwards_.erase(static_cast<const ForwardKey&>(f));
      env_.counters.Add(Counter::kRecoverySkipped);
      continue;
    }
    auto continues = [&](size_t i) {
      return i < recovery_.size() && recovery_[i].to == f.to && recovery_[i].sender == f.sender &&
             recovery_[i].seq == f.seq + i;
    };
    // Packed with what continues it if at least the next one fits with it; else alone.
    const size_t limit = std::min(datagram_bytes, wire::kMaxDataBatchBytes);
    std::optional<wire::DataPacket> next = limit > 0 && continues(1) ? HeldForForward(recovery_[1]) : std::nullopt;
    size_t count = 1;
    size_t n = 0;
    if (next && wire::DataBatchWriter::SizeFor(2, data->payload.size() + next->payload.size()) <= limit) {
      scratch.resize(limit);
      wire::DataBatchWriter batch(scratch, self_, data->rvid, f.sender, f.seq, wire::PacketType::kForwardBatch);
      batch.Add(*data);
      while (next && batch.Fits(next->payload.size())) {
        batch.Add(*next);
        ++count;
        next = continues(count) ? HeldForForward(recovery_[count]) : std::nullopt;
      }
      n = batch.Finish();
    } else {
      scratch.resize(wire::kHeaderSize + wire::kDataBodyFixed + data->payload.size());
      auto encoded = wire::EncodeData(wire::PacketType::kForward, self_, *data, scratch);
      QSM_CHECK(encoded.has_value(), "a forward does not encode");
      n = *encoded;
    }
    if (env_.transport.Send(f.to, std::span(scratch).first(n)) == SendStatus::kWouldBlock) {
      return RecoveryResult::kWouldBlock;
    }
    for (size_t i = 0; i < count; ++i) {
      ForwardSent(recovery_.front());
      recovery_.pop_front();
    }
    return RecoveryResult::kSent;
  }
  return RecoveryResult::kNothingQueued;
}

}  // namespace qsm
