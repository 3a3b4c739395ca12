// SPDX-License-Identifier: Apache-2.0
// Pacing arithmetic for an exact byte rate, the I/O counterpart of duty_cycle.h. A writer that
// has written `done` bytes may start its next block at the moment those bytes are earned
// (done / rate after its baseline), so over any window it is at most one block ahead of the
// rate. Time lost to a slow device is made up in the following blocks, bounded by
// kMaxLagNs: a long stall never turns into a long burst at full device speed.
#pragma once

#include <cstdint>

namespace faultd::core {

/// Largest lag behind the rate (ns) that is made up afterwards; beyond it the baseline moves.
constexpr int64_t kMaxLagNs = 200'000'000;

/// Alignment of every paced block (O_DIRECT needs the logical block size; 4 KiB covers it).
constexpr uint64_t kIoAlignBytes = 4096;

/// Time (ns after the baseline) at which `done_bytes` have been earned at `bytes_per_sec` (> 0).
int64_t EarnedAtNs(double bytes_per_sec, uint64_t done_bytes) noexcept;

/// How far the baseline must move at `elapsed_ns` so the writer is at most kMaxLagNs behind.
int64_t ForgivenLagNs(double bytes_per_sec, uint64_t done_bytes, int64_t elapsed_ns) noexcept;

/// Block size for a paced writer: about 1/100 of a second's bytes, aligned down to
/// kIoAlignBytes, within [kIoAlignBytes, max_block_bytes]. `bytes_per_sec` 0 (unpaced) gives
/// max_block_bytes. `max_block_bytes` must be a multiple of kIoAlignBytes.
uint64_t PacedBlockBytes(double bytes_per_sec, uint64_t max_block_bytes) noexcept;

}  // namespace faultd::core
