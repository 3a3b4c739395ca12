// SPDX-License-Identifier: Apache-2.0
// rtnetlink qdisc operations: list, replace, delete. Options are passed as a whole TCA_OPTIONS
// attribute produced by an injector's encoder (tc_netem, tc_tbf) or taken from a dump.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../sys_result.h"

namespace faultd::core::nl {

/// A qdisc, class or filter as the kernel dumps it.
struct TcObject {
  uint32_t handle = 0;  // qdisc handle, classid, or filter handle
  uint32_t parent = 0;
  uint32_t info = 0;    // filters: prio << 16 | htons(protocol)
  uint32_t chain = 0;   // filters: TCA_CHAIN (0 when absent)
  std::string kind;
  /// The TCA_OPTIONS attribute as the kernel dumped it (header included; empty if none).
  std::vector<uint8_t> options;
};
using QdiscInfo = TcObject;

/// Resolves an interface name in the current network namespace (ENODEV if absent).
Result<int> InterfaceIndex(const std::string& name) noexcept;

/// Equivalent to: `tc qdisc show dev <ifindex>`.
Result<std::vector<QdiscInfo>> ListQdiscs(int ifindex) noexcept;

/// Equivalent to: `tc class show dev <ifindex>`.
Result<std::vector<TcObject>> ListClasses(int ifindex) noexcept;

/// Equivalent to: `tc filter show dev <ifindex> parent <parent>`.
Result<std::vector<TcObject>> ListFilters(int ifindex, uint32_t parent) noexcept;

/// Equivalent to: `tc qdisc replace dev <ifindex> parent <parent> handle <handle> <kind> …`
/// (`exclusive` = `tc qdisc add`, failing with EEXIST instead of replacing).
Status ReplaceQdisc(int ifindex, uint32_t parent, uint32_t handle, const std::string& kind,
                    std::span<const uint8_t> options_attr, bool exclusive) noexcept;

/// Equivalent to: `tc class replace dev <ifindex> parent <parent> classid <classid> <kind> …`.
Status ReplaceClass(int ifindex, uint32_t parent, uint32_t classid, const std::string& kind,
                    std::span<const uint8_t> options_attr) noexcept;

/// Equivalent to: `tc filter add dev <ifindex> parent <parent> prio <prio> protocol <proto> <kind> …`
/// (`protocol` is the ethertype in host order, e.g. 0x0800).
Status AddFilter(int ifindex, uint32_t parent, uint16_t prio, uint16_t protocol, const std::string& kind,
                 std::span<const uint8_t> options_attr, uint32_t handle = 0) noexcept;

/// Equivalent to: `tc qdisc del dev <ifindex> parent <parent> [handle <handle>]`; with a handle,
/// the kernel refuses (EINVAL) if the qdisc there has another one.
Status DeleteQdisc(int ifindex, uint32_t parent, uint32_t handle) noexcept;

}  // namespace faultd::core::nl
