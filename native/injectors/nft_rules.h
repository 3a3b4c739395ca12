// SPDX-License-Identifier: Apache-2.0
// nf_tables through nfnetlink batches: faultd's own `inet faultd` table with one base chain per
// fault. Used where netem is missing (loss with `numgen random`) and for partitions. Never forks
// `nft`; the CLI equivalents are in the comments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../core/sys_result.h"

namespace faultd::inj {

enum class NftHook { kPrerouting, kInput, kOutput };
/// kQueue hands the packet to a userspace listener of `queue_num` (the NFQUEUE delayer), and
/// lets it pass unqueued while no listener is bound (`bypass`), so a dead delayer never
/// blackholes traffic.
/// kRedirect rewrites the destination to this host (127.0.0.1 / ::1 for locally generated
/// packets) and `redirect_port`, in a nat chain (`redirect to :PORT`).
enum class NftVerdict { kAccept, kDrop, kQueue, kRedirect };
/// A base chain's type: filter (drop, accept, queue) or nat (redirect).
enum class NftChainType { kFilter, kNat };

/// One match, all fields optional (an empty match matches every packet).
struct NftMatch {
  int ip_version = 0;             // 0 = IPv4 and IPv6, 4, 6 (required with an address)
  std::vector<uint8_t> address;   // network-order bytes (4 or 16); empty = any
  uint8_t prefix_len = 0;         // with address
  bool match_source_address = false;  // saddr instead of daddr
  uint8_t l4proto = 0;            // 0 = any; 6 tcp, 17 udp, 1 icmp, 58 icmpv6
  uint16_t port = 0;              // host order; 0 = any (needs tcp or udp)
  bool match_source_port = false;     // sport instead of dport
  std::string ifname;             // output (output hook) / input (input, prerouting) interface; empty = any
  std::optional<uint32_t> mark;   // `meta mark <mark>`: the packet's fwmark (SO_MARK of its socket)
  std::optional<uint32_t> skuid;  // `meta skuid <uid>`: the owner of the socket that sent it (output hook)
};

struct NftRule {
  NftMatch match;
  uint32_t percent = 100;         // 1..100: `numgen random mod 100 < percent`; 100 = always
  NftVerdict verdict = NftVerdict::kDrop;
  uint16_t queue_num = 0;         // with kQueue
  uint16_t redirect_port = 0;     // with kRedirect (host order, 1..65535)
};

struct NftChainSpec {
  std::string table = "faultd";
  std::string chain;
  NftChainType type = NftChainType::kFilter;
  NftHook hook = NftHook::kOutput;
  int32_t priority = 0;
  std::vector<NftRule> rules;
};

/// Equivalent to: `nft add table inet <table>; nft add chain inet <table> <chain> { type filter|nat
/// hook <hook> priority <priority>; policy accept; }; nft add rule inet <table> <chain> …` for
/// each rule, as one atomic batch (all or nothing). EEXIST if the chain exists.
core::Status AddNftChain(const NftChainSpec& spec) noexcept;

/// Equivalent to: `nft flush chain inet <table> <chain>; nft delete chain inet <table> <chain>`,
/// then `nft delete table inet <table>` if no chain is left. Returns false if the chain was
/// already absent (idempotent).
core::Result<bool> DeleteNftChain(const std::string& table, const std::string& chain) noexcept;

/// Equivalent to: `nft list chains inet` restricted to <table>: the chain names.
core::Result<std::vector<std::string>> ListNftChains(const std::string& table) noexcept;

/// The rule's expression list as the NFTA_RULE_EXPRESSIONS payload (for tests and dry runs).
core::Result<std::vector<uint8_t>> EncodeNftExpressions(const NftRule& rule, NftHook hook) noexcept;

}  // namespace faultd::inj
