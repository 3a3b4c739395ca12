// SPDX-License-Identifier: Apache-2.0
#include "delay_sampler.h"

#include <cmath>
#include <limits>
#include <utility>

namespace faultd::inj {

DelaySampler::DelaySampler(DelaySpec spec, uint64_t seed) noexcept
    : spec_(std::move(spec)),
      // iproute2's get_percent: rint(pct / 100 * UINT32_MAX).
      rho_(static_cast<uint32_t>(std::rint(spec_.correlation_pct / 100.0 * std::numeric_limits<uint32_t>::max()))),
      rng_(static_cast<std::mt19937::result_type>(seed ^ (seed >> 32))) {}

namespace {

// Maps a uniform 32-bit number onto [0, range) keeping its order; 128-bit so that a range in
// nanoseconds beyond 2^32 (jitter above ~2.1 s) cannot overflow.
uint64_t Scale(uint32_t rnd, uint64_t range) { return static_cast<uint64_t>((static_cast<unsigned __int128>(rnd) * range) >> 32); }

}  // namespace

// get_crandom(): a first-order correlated random number.
uint32_t DelaySampler::CorrelatedRandom() noexcept {
  const uint64_t value = rng_();
  if (rho_ == 0) return static_cast<uint32_t>(value);
  const uint64_t rho = static_cast<uint64_t>(rho_) + 1;
  const uint64_t answer = (value * ((1ULL << 32) - rho) + static_cast<uint64_t>(last_) * rho) >> 32;
  last_ = static_cast<uint32_t>(answer);
  return last_;
}

// tabledist(): mu + sigma * table[rnd] / NETEM_DIST_SCALE, rounded as the kernel rounds. One
// deliberate difference: netem reduces the random number with `rnd % range`, which throws away
// the high bits that carry the correlation, so netem's jitter correlation has almost no effect
// (a known netem flaw). Scaling with `(rnd * range) >> 32` gives the same distribution when
// uncorrelated and keeps successive delays correlated as asked.
int64_t DelaySampler::Next() noexcept {
  const int64_t mu = spec_.delay_ns;
  const int64_t sigma = spec_.jitter_ns;
  if (sigma == 0) return mu;
  const uint32_t rnd = CorrelatedRandom();
  int64_t delay = 0;
  if (spec_.table.empty()) {
    delay = static_cast<int64_t>(Scale(rnd, 2 * static_cast<uint64_t>(sigma))) + mu - sigma;
  } else {
    const int64_t t = spec_.table[Scale(rnd, spec_.table.size())];
    int64_t x = (sigma % kNetemDistScale) * t;
    x += x >= 0 ? kNetemDistScale / 2 : -kNetemDistScale / 2;
    delay = x / kNetemDistScale + (sigma / kNetemDistScale) * t + mu;
  }
  return delay < 0 ? 0 : delay;
}

}  // namespace faultd::inj
