// SPDX-License-Identifier: Apache-2.0
// Steering part of the traffic into a fault: an htb root with a clean class and a fault class
// (the fault's qdisc hangs below it), and u32 filters that pick packets by address, protocol and
// port. Used where a qdisc fault must touch only some destinations, or must spare SSH; htb and
// u32 exist on kernels (like this project's CI) that lack prio, flower and matchall.
#pragma once

#include <cstdint>
#include <vector>

#include "../core/psched.h"
#include "../core/sys_result.h"

namespace faultd::inj {

/// Equivalent to the TCA_OPTIONS of `tc qdisc add dev D root handle H: htb default <default_minor>`.
core::Result<std::vector<uint8_t>> EncodeHtbQdiscOptions(uint32_t default_minor) noexcept;

/// Equivalent to the TCA_OPTIONS of `tc class add dev D parent H: classid H:N htb rate R ceil R`
/// (burst sized for the rate, quantum fixed so the kernel does not warn).
core::Result<std::vector<uint8_t>> EncodeHtbClassOptions(uint64_t rate_bytes_per_sec, const core::Psched& psched) noexcept;

struct U32Match {
  int ip_version = 4;              // 4 or 6
  std::vector<uint8_t> address;    // network order; empty = any
  uint8_t prefix_len = 0;
  bool match_source_address = false;
  uint8_t l4proto = 0;             // 0 = any
  uint16_t port = 0;               // 0 = any (assumes no IPv4 options / IPv6 extension headers)
  bool match_source_port = false;
};

/// Equivalent to the TCA_OPTIONS of `tc filter add dev D parent H: prio P protocol ip u32 match
/// ip dst A/L match ip protocol T 0xff match ip dport N 0xffff flowid <classid>`.
core::Result<std::vector<uint8_t>> EncodeU32Options(const U32Match& match, uint32_t classid) noexcept;

/// Equivalent to the TCA_OPTIONS of `tc filter add dev D parent ffff: protocol all u32 match u32
/// 0 0 action mirred egress redirect dev <ifindex>`: every packet arriving on D goes to the IFB
/// device `ifindex`, where an egress qdisc can act on it.
core::Result<std::vector<uint8_t>> EncodeU32RedirectOptions(int ifindex) noexcept;

}  // namespace faultd::inj
