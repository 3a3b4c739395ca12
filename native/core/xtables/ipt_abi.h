// SPDX-License-Identifier: Apache-2.0
// The kernel's x_tables ABI (IPv4), from the uapi headers every supported distribution ships
// (CentOS 7's 3.10 headers included); the few names old headers may lack are defined here.
#pragma once

#include <linux/netfilter_ipv4/ip_tables.h>
#if __has_include(<linux/netfilter/xt_tcpudp.h>)
#include <linux/netfilter/xt_tcpudp.h>
#else
#error "linux/netfilter/xt_tcpudp.h is required (linux-libc-dev / kernel-headers)"
#endif

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
inline constexpr size_t kStandardTargetSize = Align(sizeof(struct xt_standard_target));
// xt_error_target: the target header and a name of XT_FUNCTION_MAXNAMELEN bytes (the struct is
// missing from some old headers).
inline constexpr size_t kErrorNameSize = XT_FUNCTION_MAXNAMELEN;
inline constexpr size_t kErrorTargetSize = Align(sizeof(struct xt_entry_target) + kErrorNameSize);
inline constexpr size_t kTargetHeaderSize = sizeof(struct xt_entry_target);

}  // namespace faultd::core::xt
