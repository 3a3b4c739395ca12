// SPDX-License-Identifier: Apache-2.0
// ctnetlink (NFNL_SUBSYS_CTNETLINK) as much as the DNS faults need: find the conntrack entries of
// flows to some servers and delete them, so that a flow that existed before a nat redirect was
// added (a UDP socket a resolver keeps) is NATed by its next packet instead of keeping its old
// entry until it expires. Equivalent to `conntrack -D -p udp --orig-dst S --dport P` for each S:
// a dump of the family's table, filtered here, then one IPCTNL_MSG_CT_DELETE per entry by its
// original tuple.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "../sys_result.h"
#include "socket.h"

namespace faultd::core::nl {

/// A conntrack tuple (one direction of a flow): addresses of 4 or 16 bytes, ports in host order.
struct CtTuple {
  uint8_t family = 0;  // AF_INET or AF_INET6
  std::vector<uint8_t> src;
  std::vector<uint8_t> dst;
  uint8_t l4proto = 0;  // IPPROTO_UDP, IPPROTO_TCP…
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
};

/// Flows to delete: protocol, destination port, and any of the destination addresses.
struct CtFlowFilter {
  uint8_t l4proto = 0;
  uint16_t dst_port = 0;
  /// 4-byte (IPv4) or 16-byte (IPv6) addresses.
  std::vector<std::vector<uint8_t>> dsts;
};

/// IPCTNL_MSG_CT_GET with NLM_F_DUMP for one family (what `conntrack -L -f ipv4|ipv6` sends).
Request CtDumpRequest(uint8_t family) noexcept;

/// IPCTNL_MSG_CT_DELETE of the entry whose original tuple is `orig` (the header and CTA_TUPLE_ORIG
/// that `conntrack -D` sends; conntrack adds the reply tuple, status, timeout and mark, which the
/// kernel's delete does not read).
Request CtDeleteRequest(const CtTuple& orig) noexcept;

/// The original tuple of one dumped entry (the payload after the nlmsghdr); nullopt if absent or
/// malformed.
std::optional<CtTuple> ParseCtOriginal(std::span<const uint8_t> payload) noexcept;

/// True if `tuple` is a flow `filter` names.
bool CtFlowMatches(const CtFlowFilter& filter, const CtTuple& tuple) noexcept;

/// Deletes the conntrack entries (IPv4 and IPv6) of the flows `filter` names in the current
/// network namespace; returns how many were deleted (an entry that expired in between is not
/// counted and not an error).
Result<uint32_t> DeleteCtFlows(const CtFlowFilter& filter) noexcept;

}  // namespace faultd::core::nl
