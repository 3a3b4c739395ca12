// SPDX-License-Identifier: Apache-2.0
// The kernel's x_tables ABI (IPv4 ip_tables and IPv6 ip6_tables), from the uapi headers every
// supported distribution ships (CentOS 7's 3.10 headers included); the few names old headers may
// lack are defined here.
#pragma once

#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#if __has_include(<linux/netfilter/xt_tcpudp.h>)
#include <linux/netfilter/xt_tcpudp.h>
#else
#error "linux/netfilter/xt_tcpudp.h is required (linux-libc-dev / kernel-headers)"
#endif

#include <cstddef>
#include <cstdint>

#ifndef XT_STANDARD_TARGET
#define XT_STANDARD_TARGET ""
#endif
#ifndef XT_ERROR_TARGET
#define XT_ERROR_TARGET "ERROR"
#endif
#ifndef XT_RETURN
#define XT_RETURN (-NF_REPEAT - 1)
#endif

namespace faultd::core::xt {

/// XT_ALIGN as a constexpr function (the macro is fine in C but not in a constant expression
/// with every header version).
constexpr size_t Align(size_t size) noexcept {
  constexpr size_t a = alignof(struct _xt_align);
  return (size + a - 1) & ~(a - 1);
}

inline constexpr size_t kEntrySize = sizeof(struct ipt_entry);
inline constexpr size_t kEntry6Size = sizeof(struct ip6t_entry);
inline constexpr size_t kStandardTargetSize = Align(sizeof(struct xt_standard_target));
// xt_error_target: the target header and a name of XT_FUNCTION_MAXNAMELEN bytes (the struct is
// missing from some old headers).
inline constexpr size_t kErrorNameSize = XT_FUNCTION_MAXNAMELEN;
inline constexpr size_t kErrorTargetSize = Align(sizeof(struct xt_entry_target) + kErrorNameSize);
inline constexpr size_t kTargetHeaderSize = sizeof(struct xt_entry_target);
inline constexpr size_t kMatchHeaderSize = sizeof(struct xt_entry_match);

/// struct xt_statistic_info (xt_statistic.h), random mode: mode, flags, probability, and the
/// kernel's `master` pointer (aligned 8, written by the kernel).
struct StatisticInfo {
  uint16_t mode;
  uint16_t flags;
  uint32_t probability;
  uint32_t unused[2];
  alignas(8) uint64_t master;
};
inline constexpr uint16_t kStatisticModeRandom = 0;  // XT_STATISTIC_MODE_RANDOM
inline constexpr size_t kStatisticMatchSize = Align(kMatchHeaderSize + sizeof(StatisticInfo));

/// struct xt_NFQ_info_v3 (xt_NFQUEUE.h, Linux 3.10+): queue number, queues_total, flags.
struct NfqInfoV3 {
  uint16_t queuenum;
  uint16_t queues_total;
  uint16_t flags;
};
inline constexpr uint16_t kNfqFlagBypass = 0x01;  // NFQ_FLAG_BYPASS
inline constexpr uint8_t kNfqRevision = 3;
inline constexpr size_t kNfqTargetSize = Align(kTargetHeaderSize + sizeof(NfqInfoV3));

// The get/replace headers are the same for both families; the socket code uses the IPv4 names.
static_assert(sizeof(ipt_getinfo) == sizeof(ip6t_getinfo));
static_assert(sizeof(ipt_get_entries) == sizeof(ip6t_get_entries));
static_assert(sizeof(ipt_replace) == sizeof(ip6t_replace));
static_assert(offsetof(ipt_replace, counters) == offsetof(ip6t_replace, counters));
static_assert(IPT_SO_GET_INFO == IP6T_SO_GET_INFO && IPT_SO_GET_ENTRIES == IP6T_SO_GET_ENTRIES);
static_assert(IPT_SO_SET_REPLACE == IP6T_SO_SET_REPLACE && IPT_SO_SET_ADD_COUNTERS == IP6T_SO_SET_ADD_COUNTERS);

}  // namespace faultd::core::xt
