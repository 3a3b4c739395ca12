// SPDX-License-Identifier: Apache-2.0
// Pacing arithmetic for an exact rate, the I/O counterpart of duty_cycle.h. The unit is the
// caller's: bytes (ioRate) or write operations (iops). A writer that has done `done` units may
// start its next block at the moment those units are earned (done / rate after its baseline),
// so over any window it is at most one block (one operation) ahead of the rate. Time lost to a
// slow device is made up in the following blocks, bounded by kMaxLagNs: a long stall never
// turns into a long burst at full device speed.
#pragma once

#include <cstdint>

namespace faultd::core {

/// Largest lag behind the rate (ns) that is made up afterwards; beyond it the baseline moves.
constexpr int64_t kMaxLagNs = 200'000'000;

/// Alignment of every paced block (O_DIRECT needs the logical block size; 4 KiB covers it).
constexpr uint64_t kIoAlignBytes = 4096;

/// Time (ns after the baseline) at which `done` units (bytes or operations) have been earned
/// at `per_sec` (> 0) units per second.
int64_t EarnedAtNs(double per_sec, uint64_t done) noexcept;

/// How far the baseline must move at `elapsed_ns` so the writer is at most kMaxLagNs behind.
int64_t ForgivenLagNs(double per_sec, uint64_t done, int64_t elapsed_ns) noexcept;

/// Block size for a paced writer: about 1/100 of a second's bytes, aligned down to
/// kIoAlignBytes, within [kIoAlignBytes, max_block_bytes]. `bytes_per_sec` 0 (unpaced) gives
/// max_block_bytes. `max_block_bytes` must be a multiple of kIoAlignBytes.
uint64_t PacedBlockBytes(double bytes_per_sec, uint64_t max_block_bytes) noexcept;

}  // namespace faultd::core
