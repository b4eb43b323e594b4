#include "harness/workload/workload.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>

#include "engine/core/build_info.h"

namespace qsm::harness {

namespace {
constexpr Duration kPeakSampleInterval = 100ms;
constexpr Duration kAwaitPoll = 10ms;  // how often a load waiting for its groups' members looks
double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }
}  // namespace

// The load: message i goes to send group i mod G, paced at the plan's rate (message i is due at
// start + i / rate) or as fast as the node takes messages, until start + send_for. Every payload
// starts with its index. A group the node cannot take yet (a full window, regions not known) holds
// back only its own messages: paced, they wait with their intended times (so latency shows the
// wait) while the other groups go on; unpaced, its turns pass to the next group that is ready.
class NodeWorkload::LoadFeed final : public MessageFeed {
 public:
  LoadFeed(const NodePlan& plan, const Clock& clock, NodeResult& result)
      : plan_(plan), clock_(clock), result_(result) {}

  // The load runs from `at` for plan.send_for; it offers nothing before this is called.
  void Begin(TimePoint at) {
    start_ = at;
    end_ = at + plan_.send_for;
    begun_ = true;
  }

  bool Next(OutgoingMessage& out, const GroupReady& ready) override {
    const TimePoint now = clock_.Now();
    if (!begun_ || now < start_) return false;
    const std::optional<uint64_t> index = paced() ? NextPaced(now, ready) : NextUnpaced(now, ready);
    if (!index) return false;
    const uint32_t group = GroupOf(*index);
    out.group = group;
    out.payload.assign(plan_.message_size, std::byte{0x51});
    std::memcpy(out.payload.data(), &*index, std::min<size_t>(sizeof *index, plan_.message_size));
    out.intended = paced() ? Due(*index) : TimePoint{};
    ++sent_;
    ++result_.sent[group];
    return true;
  }
  // Wake for a batch of up to 32 due messages rather than for each, but never hold the first of
  // them more than 200 us. Messages waiting for their group are sent when it is ready (the node
  // wakes by itself then).
  std::optional<TimePoint> NextReady(const GroupReady& /*ready*/) const override {
    if (!begun_) return std::nullopt;
    const TimePoint now = clock_.Now();
    if (now < start_) return start_;
    if (!paced() || !Scheduled(next_)) return std::nullopt;
    return std::min(Due(next_ + 31), Due(next_) + 200us);
  }
  // True while the load has messages left. A paced load is every message intended before the end,
  // even one the node takes late (after a stall): dropping those would hide the stall.
  bool Active(TimePoint now) const {
    if (!begun_ || now < start_) return false;
    if (paced()) return Scheduled(next_) || !waiting_.empty();
    return now < end_ && (plan_.send_count == 0 || sent_ < plan_.send_count);
  }
  bool begun() const { return begun_; }
  uint64_t sent() const { return sent_; }

 private:
  bool paced() const { return plan_.rate > 0; }
  uint32_t GroupOf(uint64_t index) const { return plan_.send_groups[index % plan_.send_groups.size()]; }
  // The intended send time of message i, which latency is measured from.
  TimePoint Due(uint64_t i) const {
    return start_ + Duration(static_cast<int64_t>(static_cast<double>(i) * 1e9 / plan_.rate));
  }
  // Paced: whether message i is part of the load.
  bool Scheduled(uint64_t i) const { return (plan_.send_count == 0 || i < plan_.send_count) && Due(i) < end_; }

  // The oldest message that waits for a group ready now, or the next due one of a ready group;
  // due messages of groups not ready join their group's wait on the way.
  std::optional<uint64_t> NextPaced(TimePoint now, const GroupReady& ready) {
    auto oldest = waiting_.end();
    for (auto w = waiting_.begin(); w != waiting_.end(); ++w) {
      const bool go = ready(GroupOf(w->second.first));
      if (go && (oldest == waiting_.end() || w->second.first < oldest->second.first)) oldest = w;
    }
    // Every waiting index is below next_: a ready group's wait goes first. So a turn's new
    // messages join its wait only while its group is not ready: a wait is consecutive turns.
    while (oldest == waiting_.end() && Scheduled(next_) && Due(next_) <= now) {
      const uint64_t i = next_++;
      if (ready(GroupOf(i))) return i;
      Waiting& w = waiting_.try_emplace(i % plan_.send_groups.size(), Waiting{.first = i, .count = 0}).first->second;
      ++w.count;
    }
    if (oldest == waiting_.end()) return std::nullopt;
    const uint64_t i = oldest->second.first;
    oldest->second.first += plan_.send_groups.size();
    if (--oldest->second.count == 0) waiting_.erase(oldest);
    return i;
  }
  // The next index, from next_ on, whose group is ready (at most one turn of the groups).
  std::optional<uint64_t> NextUnpaced(TimePoint now, const GroupReady& ready) {
    if (!Active(now)) return std::nullopt;
    for (uint64_t i = next_; i < next_ + plan_.send_groups.size(); ++i) {
      if (!ready(GroupOf(i))) continue;
      next_ = i + 1;
      return i;
    }
    return std::nullopt;
  }

  const NodePlan& plan_;
  const Clock& clock_;
  NodeResult& result_;
  bool begun_ = false;
  TimePoint start_{};
  TimePoint end_{};
  uint64_t next_ = 0;  // the next index of the schedule (paced) or of the turns (unpaced)
  uint64_t sent_ = 0;
  // Paced, by turn (index mod G): due messages not yet taken, indices first, first + G, ...
  struct Waiting {
    uint64_t first;
    uint64_t count;
  };
  std::map<size_t, Waiting> waiting_;
};

NodeConfig NodeConfigOf(const NodePlan& plan) {
  return NodeConfig{.id = plan.node_id,
                    .region = RegionConfig{.replication = plan.replication,
                                           .token_rate = plan.token_rate,
                                           .adaptive_rounds = plan.adaptive_rounds},
                    .window = SenderWindow{.max_bytes = plan.window_bytes,
                                           .max_messages = plan.window_messages,
                                           .adaptive = plan.adaptive_window},
                    .send_rate = 0,
                    .max_payload_bytes = std::max<size_t>(plan.message_size, 8),
                    .datagram_bytes = plan.datagram_bytes};
}

wire::RegionView ViewFromPlan(const NodePlan& plan, const std::vector<uint32_t>& members, uint32_t number) {
  wire::RegionView view{.id = {1, number}, .multicast = plan.region_multicast};
  for (const PlanMember& m : plan.members) {
    if (std::find(members.begin(), members.end(), m.id) != members.end()) {
      view.members.push_back({m.id, m.endpoint});
    }
  }
  return view;
}

NodeWorkload::NodeWorkload(const NodePlan& plan, EngineDriver& engine, Scheduler& scheduler, TimePoint start,
                           Hooks hooks)
    : plan_(plan), engine_(engine), scheduler_(scheduler), start_(start), hooks_(std::move(hooks)) {
  result_.node_id = plan.node_id;
  for (const PlanMember& m : plan.members) view_members_.push_back(m.id);
}

NodeWorkload::~NodeWorkload() {
  scheduler_.alarms().Cancel(start_alarm_);
  scheduler_.alarms().Cancel(tick_alarm_);
  scheduler_.alarms().Cancel(peak_alarm_);
  for (AlarmId id : sleep_alarms_) scheduler_.alarms().Cancel(id);
  engine_.SetFeed(nullptr);
  engine_.SetDeliveryHandler(nullptr);
}

Status NodeWorkload::Start() {
  if (!plan_.gms) {
    if (auto s = engine_.InstallView(ViewFromPlan(plan_, view_members_, view_number_)); !s) return s;
  }
  for (uint32_t g : plan_.joined) {
    if (auto s = engine_.Join(g); !s) return s;
  }
  if (plan_.gms) {
    // A new incarnation on every start: the wall clock in ns (a restarted node is a new member).
    const auto incarnation = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch())
                                                       .count());
    if (auto s = engine_.StartMembership({.node = plan_.node_id,
                                        .incarnation = incarnation,
                                        .gms = *plan_.gms,
                                        .heartbeat_interval = plan_.heartbeat});
        !s) {
      return s;
    }
  }
  engine_.SetDeliveryHandler([this](const Delivery& d) { OnDelivery(d); });
  if (!plan_.send_groups.empty()) {
    feed_ = std::make_unique<LoadFeed>(plan_, scheduler_.clock(), result_);
    engine_.SetFeed(feed_.get());
    start_alarm_ = scheduler_.alarms().Schedule(start_, [this](TimePoint now) { AwaitMembers(now); });
  }
  if (!plan_.sleeps.empty() && !hooks_.stop_core) {
    return MakeError(ErrorCode::kInvalidArgument, "the plan has sleep faults but no stop_core hook");
  }
  for (const faults::Window& w : plan_.sleeps) {
    const TimePoint until = start_ + w.end;
    sleep_alarms_.push_back(scheduler_.alarms().Schedule(
        start_ + w.start, [this, until](TimePoint) { hooks_.stop_core(until); }));
  }
  last_tick_stats_ = engine_.Snapshot();
  tick_alarm_ =
      scheduler_.alarms().Schedule(start_ + plan_.tick, [this](TimePoint now) { OnTickAlarm(now); });
  peak_alarm_ =
      scheduler_.alarms().Schedule(start_ + kPeakSampleInterval, [this](TimePoint now) { OnPeakAlarm(now); });
  return {};
}

Status NodeWorkload::ExcludeMembers(const std::vector<uint32_t>& ids) {
  if (plan_.gms) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "this node's views come from the GMS, which excludes members itself");
  }
  std::erase_if(view_members_,
                [&](uint32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); });
  return engine_.InstallView(ViewFromPlan(plan_, view_members_, ++view_number_));
}

std::vector<uint32_t> NodeWorkload::AbsentMembers() const {
  std::vector<uint32_t> absent;
  if (!plan_.gms) return absent;  // a static view has everyone from the start
  for (uint32_t group : plan_.send_groups) {
    auto expected = plan_.group_members.find(group);
    if (expected == plan_.group_members.end()) continue;
    const std::vector<wire::NodeId> members = engine_.MembersOf(group);
    for (uint32_t id : expected->second) {
      if (!std::binary_search(members.begin(), members.end(), id)) absent.push_back(id);
    }
  }
  std::sort(absent.begin(), absent.end());
  absent.erase(std::unique(absent.begin(), absent.end()), absent.end());
  return absent;
}

void NodeWorkload::AwaitMembers(TimePoint now) {
  std::vector<uint32_t> absent = AbsentMembers();
  if (!absent.empty() && now < start_ + plan_.await_members_for) {
    start_alarm_ = scheduler_.alarms().Schedule(now + kAwaitPoll, [this](TimePoint t) { AwaitMembers(t); });
    return;
  }
  load_delay_ = now - start_;
  result_.load_start_s = ToSeconds(load_delay_);
  result_.absent_at_load_start = std::move(absent);
  feed_->Begin(now);
  engine_.Wake();  // the engine asks the feed when it can send
}

uint64_t NodeWorkload::sent() const { return feed_ ? feed_->sent() : 0; }

bool NodeWorkload::sending() const {
  return feed_ != nullptr && (!feed_->begun() || feed_->Active(scheduler_.clock().Now()));
}

void NodeWorkload::OnDelivery(const Delivery& d) {
  const double at_s = ToSeconds(d.delivered_at - start_);
  if (result_.first_delivery_s < 0) result_.first_delivery_s = at_s;
  result_.last_delivery_s = at_s;
  StreamDeliveries& s = result_.delivered[{d.sender, d.group}];
  if (!s.seqs.Insert(d.group_seq)) {
    ++s.duplicates;
    return;
  }
  ++delivered_;
  if (d.group_seq < s.last) ++s.out_of_order;
  s.last = std::max(s.last, d.group_seq);
}

void NodeWorkload::SamplePeaks() {
  const Node::Memory st = engine_.MemoryUse();
  result_.peak_pending_messages = std::max(result_.peak_pending_messages, st.pending_messages);
  result_.peak_pending_bytes = std::max(result_.peak_pending_bytes, st.pending_bytes);
  result_.peak_cache_bytes = std::max(result_.peak_cache_bytes, st.cache_bytes);
}

void NodeWorkload::OnPeakAlarm(TimePoint now) {
  SamplePeaks();
  peak_alarm_ =
      scheduler_.alarms().Schedule(now + kPeakSampleInterval, [this](TimePoint t) { OnPeakAlarm(t); });
}

Tick NodeWorkload::MakeTick(TimePoint now) {
  const NodeStats st = engine_.Snapshot();
  Tick t;
  t.node_id = plan_.node_id;
  t.t_s = ToSeconds(now - start_);
  t.sent = sent();
  t.delivered = delivered_;
  t.pending_messages = st.pending_messages;
  t.pending_bytes = st.pending_bytes;
  t.cache_bytes = st.cache_bytes;
  const bool leader = st.region_rtt_ns.count() > 0;
  const Histogram rtt = leader ? st.region_rtt_ns.Since(last_tick_stats_.region_rtt_ns)
                               : st.partition_rtt_ns.Since(last_tick_stats_.partition_rtt_ns);
  t.token_rtt_p50_ms = Ms(rtt.Quantile(0.5));
  t.token_rtt_p99_ms = Ms(rtt.Quantile(0.99));
  const Histogram latency = st.delivery_latency_ns.Since(last_tick_stats_.delivery_latency_ns);
  t.latency_p50_ms = Ms(latency.Quantile(0.5));
  t.latency_p99_ms = Ms(latency.Quantile(0.99));
  t.sending = sending() || now < start_;
  t.idle = engine_.idle();
  last_tick_stats_ = st;
  return t;
}

void NodeWorkload::OnTickAlarm(TimePoint now) {
  SamplePeaks();
  const Tick t = MakeTick(now);
  if (hooks_.on_tick) hooks_.on_tick(t);
  // The next tick stays on the grid start + k x tick, skipping those missed (a sleeping node).
  const auto ticks_done = (now - start_) / plan_.tick;
  tick_alarm_ = scheduler_.alarms().Schedule(start_ + plan_.tick * (ticks_done + 1),
                                             [this](TimePoint at) { OnTickAlarm(at); });
}

NodeResult NodeWorkload::Finish(TimePoint now, std::string end) {
  SamplePeaks();
  const NodeStats st = engine_.Snapshot();
  NodeResult r = result_;
  r.end = std::move(end);
  const BuildInfo& build = ThisBuild();
  r.build = {{"revision", std::string(build.revision)},
             {"build_type", std::string(build.build_type)},
             {"sanitizers", std::string(build.sanitizers)}};
  r.elapsed_s = ToSeconds(now - start_);
  r.latency_ns = st.delivery_latency_ns;
  r.partition_rtt_ns = st.partition_rtt_ns;
  r.region_rtt_ns = st.region_rtt_ns;
  r.timer_lateness_ns = st.timer_lateness_ns;
  for (size_t c = 0; c < kCounterCount; ++c) {
    r.counters[std::string(CounterName(static_cast<Counter>(c)))] = st.counters[c];
  }
  return r;
}

}  // namespace qsm::harness
