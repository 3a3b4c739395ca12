// SPDX-License-Identifier: Apache-2.0
#include "rate_pacer.h"

#include <algorithm>

namespace faultd::core {

int64_t EarnedAtNs(double per_sec, uint64_t done) noexcept {
  return static_cast<int64_t>(static_cast<double>(done) * 1e9 / per_sec);
}

int64_t ForgivenLagNs(double per_sec, uint64_t done, int64_t elapsed_ns) noexcept {
  return std::max<int64_t>(0, elapsed_ns - EarnedAtNs(per_sec, done) - kMaxLagNs);
}

uint64_t PacedBlockBytes(double bytes_per_sec, uint64_t max_block_bytes) noexcept {
  if (bytes_per_sec <= 0) return max_block_bytes;
  const auto share = static_cast<uint64_t>(bytes_per_sec / 100.0);
  return std::clamp<uint64_t>(share / kIoAlignBytes * kIoAlignBytes, kIoAlignBytes, max_block_bytes);
}

}  // namespace faultd::core
