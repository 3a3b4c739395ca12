// SPDX-License-Identifier: Apache-2.0
#include "psched.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>

#include "unique_fd.h"

namespace faultd::core {
namespace {

constexpr double kTimeUnitsPerSec = 1'000'000;  // iproute2 TIME_UNITS_PER_SEC (usec)

// C's double → unsigned int conversion (truncation), saturated instead of undefined when out of
// range; in range it is exactly what iproute2 computes.
uint32_t TruncateToU32(double value) noexcept {
  if (!(value > 0)) return 0;
  if (value >= 4294967295.0) return UINT32_MAX;
  return static_cast<uint32_t>(value);
}

}  // namespace

Result<Psched> ParsePsched(std::string_view text) noexcept {
  std::array<uint32_t, 3> fields{};
  size_t at = 0;
  for (uint32_t& field : fields) {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n')) ++at;
    const auto [ptr, ec] = std::from_chars(text.data() + at, text.data() + text.size(), field, 16);
    if (ec != std::errc()) return SysError{EINVAL, "read", "malformed /proc/net/psched"};
    at = static_cast<size_t>(ptr - text.data());
  }
  uint32_t t2us = fields[0];
  const uint32_t us2t = fields[1];
  const uint32_t clock_res = fields[2];
  if (us2t == 0 || clock_res == 0) return SysError{EINVAL, "read", "malformed /proc/net/psched"};
  // iproute2: "the kernel advertises a tick multiplier of 1000 in case of nano-second
  // resolution, which really is 1".
  if (clock_res == 1'000'000'000) t2us = us2t;
  Psched psched;
  psched.clock_factor = static_cast<double>(clock_res) / kTimeUnitsPerSec;
  psched.tick_in_usec = static_cast<double>(t2us) / us2t * psched.clock_factor;
  return psched;
}

Result<Psched> ReadPsched(const char* path) noexcept {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open", path);
  std::array<char, 128> buf{};
  const ssize_t n = ::read(fd.get(), buf.data(), buf.size() - 1);
  if (n <= 0) return ErrnoError("read", path);
  return ParsePsched(std::string_view(buf.data(), static_cast<size_t>(n)));
}

uint32_t UsecToTicks(const Psched& psched, uint32_t usec, bool* fits) noexcept {
  const double ticks = static_cast<double>(usec) * psched.tick_in_usec;
  *fits = ticks < 4294967296.0;
  return TruncateToU32(ticks);
}

uint32_t XmitTimeTicks(const Psched& psched, uint64_t rate, uint32_t size) noexcept {
  // iproute2 passes the double through an `unsigned int` parameter: truncate, then scale.
  const uint32_t usec = TruncateToU32(kTimeUnitsPerSec * (static_cast<double>(size) / static_cast<double>(rate)));
  return TruncateToU32(usec * psched.tick_in_usec);
}

}  // namespace faultd::core
