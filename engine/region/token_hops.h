// TokenHops: the token hops one region member has sent and its ring successor has not yet
// acknowledged (kTokenAck). Each hop is re-sent with exponential backoff (after `first_timeout`,
// then twice that, ...) until it is acknowledged, until `give_up` has passed since it was first
// sent (the region leader then regenerates the round), or until it is obsolete (`wanted` says no:
// its view is no longer current, or a later round has been seen). A hop still unacknowledged
// `skip_after` after it was first sent (exactly then, not at the next re-send) is offered once to
// `unanswered`, which may pass the token on another way (skip the member that does not answer):
// then it is no longer re-sent.
// Why: with random loss p on every link, a ring of N hops would complete a round with probability
// (1 - p)^N without per-hop acknowledgement (engine/README.md, "Token rounds").
// Threading: core thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "engine/core/alarm_queue.h"
#include "engine/core/time.h"
#include "engine/core/counters.h"
#include "engine/transport/transport.h"
#include "engine/wire/packets.h"

namespace qsm {

class TokenHops {
 public:
  struct Config {
    Duration first_timeout = 10ms;
    Duration give_up = 2s;
    Duration skip_after{};  // zero: never offered to `unanswered`
  };
  // Whether a hop identified by its acknowledgement is still worth re-sending.
  using Wanted = std::function<bool(const wire::TokenAckPacket& key)>;
  // A hop to `to` went unanswered: true if the token was passed on another way (may call Send).
  using Unanswered = std::function<bool(const wire::TokenAckPacket& key, const Endpoint& to)>;

  // All references must outlive this.
  TokenHops(Config config, AlarmQueue& alarms, const Clock& clock, Transport& transport, Counters& counters,
            Wanted wanted, Unanswered unanswered = nullptr);
  ~TokenHops();
  TokenHops(const TokenHops&) = delete;
  TokenHops& operator=(const TokenHops&) = delete;

  // The acknowledgement that answers `token` (a kPartitionToken or kRegionToken packet).
  static wire::TokenAckPacket AckOf(const wire::Packet& token);

  // Encodes `token`, sends it to `to`, and keeps re-sending it until acknowledged or given up.
  // `skip_after` replaces the configured one for this hop.
  void Send(const Endpoint& to, const wire::Packet& token, std::optional<Duration> skip_after = std::nullopt);
  // Stops re-sending every hop `ack` answers.
  void OnAck(const wire::TokenAckPacket& ack);
  // Forgets every hop (a new view).
  void Clear();
  size_t outstanding() const;

 private:
  struct Hop {
    wire::TokenAckPacket key;
    Endpoint to;
    std::vector<std::byte> bytes;
    Duration backoff{};
    TimePoint resend_at{};
    TimePoint give_up{};
    TimePoint skip_at{};  // when to offer it to unanswered_ (TimePoint::max(): not again)
    AlarmId alarm;
    bool used = false;
  };
  // Schedules the hop's alarm for its next re-send or its skip, whichever comes first.
  void Arm(size_t slot);
  void OnTimeout(size_t slot, TimePoint now);

  Config config_;
  AlarmQueue& alarms_;
  const Clock& clock_;
  Transport& transport_;
  Counters& counters_;
  Wanted wanted_;
  Unanswered unanswered_;
  std::vector<Hop> hops_;  // slots are reused; alarms refer to them by index
};

}  // namespace qsm
