// SPDX-License-Identifier: Apache-2.0
// The userspace delayer that stands in for netem's delay on kernels without sch_netem: it binds
// an nfnetlink_queue, receives the metadata of each queued packet (never its payload), holds the
// packet's id until its release time (DelaySampler, netem's algorithm) and then accepts it.
// faultd's nf_tables chain queues the targeted packets with `queue num N bypass`, so while no
// delayer is bound (not started yet, crashed) packets pass undelayed instead of being dropped.
#pragma once

#include <signal.h>

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "../core/sys_result.h"
#include "../core/unique_fd.h"
#include "delay_sampler.h"

namespace faultd::inj {

struct DelayerStats {
  uint64_t delayed = 0;    // packets accepted after their delay
  uint64_t held = 0;       // packets waiting now
  uint64_t peak_held = 0;
  int64_t max_late_ns = 0;  // worst lateness of a release against its due time
  uint64_t recv_errors = 0;
};

/// NFQNL_MSG_CONFIG binding `queue` with metadata-only copies, a kernel queue of `max_len`
/// packets, fail-open (a full queue passes packets rather than dropping them) and GSO packets
/// passed whole. The whole message; `seq` is its sequence number.
std::vector<uint8_t> EncodeQueueBind(uint16_t queue, uint32_t max_len, uint32_t seq) noexcept;

/// NFQNL_MSG_VERDICT accepting packet `id` of `queue` (appended to `out`, no ACK asked).
void AppendAcceptVerdict(std::vector<uint8_t>& out, uint16_t queue, uint32_t id) noexcept;

/// The packet id of an NFQNL_MSG_PACKET message's payload (after the nlmsghdr), if well formed.
bool ParsePacketId(std::span<const uint8_t> payload, uint32_t* id) noexcept;

class NfqueueDelayer {
 public:
  /// Opens a netfilter socket and binds `queue`. EBUSY if another process holds the queue.
  static core::Result<NfqueueDelayer> Bind(uint16_t queue, uint32_t max_len) noexcept;

  /// Delays every queued packet by `sampler` until one of `stop_signals` arrives; then accepts
  /// every held packet at once and returns. `on_tick` is called about once a second.
  core::Status Run(DelaySampler& sampler, const sigset_t& stop_signals,
                   const std::function<void(const DelayerStats&)>& on_tick) noexcept;

 private:
  NfqueueDelayer(core::UniqueFd fd, uint16_t queue) noexcept : fd_(std::move(fd)), queue_(queue) {}

  core::UniqueFd fd_;
  uint16_t queue_;
};

}  // namespace faultd::inj
