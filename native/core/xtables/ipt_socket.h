// SPDX-License-Identifier: Apache-2.0
// The kernel side of an x_tables table, IPv4 or IPv6 (IP6T_SO_*, same numbers): read it
// (IPT_SO_GET_INFO + IPT_SO_GET_ENTRIES) and
// replace it (IPT_SO_SET_REPLACE, then IPT_SO_SET_ADD_COUNTERS so the entries that stay keep
// their packet and byte counters), on a raw socket in the caller's network namespace. What
// iptables-legacy's libiptc does, without forking it.
#pragma once

#include <string>
#include <vector>

#include "../sys_result.h"
#include "ipt_table.h"

namespace faultd::core::xt {

/// Reads `name` (e.g. "filter"); ENOENT if the table does not exist (no ip_tables support).
Result<Table> ReadTable(Family family, const std::string& name) noexcept;

/// Replaces the kernel's table `before` (as read) with `after` (edited from it). EAGAIN when the
/// kernel's table is no longer `before` (someone changed it in between): read again and retry.
Status ReplaceTable(const Table& before, const Table& after) noexcept;

/// Read, edit with AddChain, replace, read back and compare; retried on EAGAIN. EEXIST if the
/// chain exists; EIO if the table read back is not the one written.
Status AddChainToKernel(Family family, const std::string& table, const ChainSpec& spec) noexcept;

/// Read, RemoveChain, replace, read back and compare (every other entry byte for byte); retried
/// on EAGAIN. False if the chain was already absent.
Result<bool> RemoveChainFromKernel(Family family, const std::string& table, const std::string& chain) noexcept;

/// The user-defined chains of `table`.
Result<std::vector<std::string>> ListChains(Family family, const std::string& table) noexcept;

}  // namespace faultd::core::xt
