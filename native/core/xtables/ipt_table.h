// SPDX-License-Identifier: Apache-2.0
// A model of one x_tables table (`iptables-legacy -t filter`, or ip6tables-legacy's for IPv6) as
// the kernel hands it out through IPT_SO_GET_INFO / IPT_SO_GET_ENTRIES (IP6T_SO_* for IPv6) and
// takes it back through IPT_SO_SET_REPLACE: a flat list of ipt_entry (ip6t_entry) blobs, each kept byte for byte, with the one thing that cannot be kept
// raw made symbolic: a standard target's jump (a byte offset into the blob) becomes the id of the
// entry it points to, so entries can be inserted and removed and the offsets recomputed.
// Pure functions, no syscalls: decode, encode, and faultd's two edits (add a chain with its jump
// rules, remove it exactly). The layout rules are the kernel's translate_table() and libiptc's:
// a user chain is an ERROR entry naming it, its rules, and an unconditional RETURN; the table
// ends with an ERROR entry named "ERROR"; a built-in chain starts at hook_entry[hook] and ends
// with its policy at underflow[hook].
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace faultd::core::xt {

/// NF_INET_PRE_ROUTING … NF_INET_POST_ROUTING.
inline constexpr int kNumHooks = 5;
inline constexpr int kHookPrerouting = 0;
inline constexpr int kHookInput = 1;
inline constexpr int kHookForward = 2;
inline constexpr int kHookOutput = 3;

/// ip_tables (struct ipt_entry) or ip6_tables (struct ip6t_entry): the entry header differs,
/// everything after it (matches, targets, the table's layout) is the same.
enum class Family : uint8_t { kIpv4 = 4, kIpv6 = 6 };

/// One ipt_entry / ip6t_entry. `bytes` is the whole entry as read (header, matches, target); when `jump_to`
/// is set its standard verdict is rewritten from the ids on encode.
struct Entry {
  uint32_t id = 0;
  std::vector<uint8_t> bytes;
  std::string target;                 // "" (standard), "ERROR", "REJECT"…
  std::optional<int32_t> verdict;     // a standard target's verdict (negative: NF_* - 1 / XT_RETURN)
  std::optional<uint32_t> jump_to;    // a standard target's jump: the id of the entry it lands on
  std::string error_name;             // an ERROR target's name (a user chain's, or "ERROR")
};

/// What IPT_SO_GET_INFO says besides the name: hooks and the blob's shape.
struct TableInfo {
  Family family = Family::kIpv4;
  std::string name;
  uint32_t valid_hooks = 0;
  std::array<uint32_t, kNumHooks> hook_entry{};
  std::array<uint32_t, kNumHooks> underflow{};
  uint32_t num_entries = 0;
  uint32_t size = 0;
};

struct Table {
  Family family = Family::kIpv4;
  std::string name;
  uint32_t valid_hooks = 0;
  std::array<uint32_t, kNumHooks> hook_entry{};  // entry ids (for valid hooks)
  std::array<uint32_t, kNumHooks> underflow{};   // entry ids (for valid hooks)
  std::vector<Entry> entries;
  uint32_t next_id = 0;
};

/// The blob and header fields of an IPT_SO_SET_REPLACE (without counters).
struct Encoded {
  std::vector<uint8_t> blob;
  std::array<uint32_t, kNumHooks> hook_entry{};
  std::array<uint32_t, kNumHooks> underflow{};
  uint32_t num_entries = 0;
};

/// Decodes the entries blob of IPT_SO_GET_ENTRIES; nullopt (with `why`) if it is malformed or
/// does not agree with `info` (a hook offset not on an entry, a jump into the middle of one).
std::optional<Table> Decode(const TableInfo& info, std::span<const uint8_t> blob, std::string* why = nullptr);

/// The blob with every jump and hook offset recomputed from the ids.
Encoded Encode(const Table& table);

/// Standard verdicts: NF_DROP / NF_ACCEPT / XT_RETURN as the kernel stores them (-verdict - 1).
inline constexpr int32_t kVerdictDrop = -1;
inline constexpr int32_t kVerdictAccept = -2;
inline constexpr int32_t kVerdictReturn = -5;

/// One rule of a faultd chain, in its table's family: everything optional; an empty rule
/// matches every packet.
struct Rule {
  std::array<uint8_t, 16> address{};  // network order; the first 4 bytes for IPv4
  uint8_t prefix_len = 0;             // 0 = any address
  bool match_source_address = false;
  uint8_t l4proto = 0;                // 0 any, 6 tcp, 17 udp, 1 icmp, 58 icmpv6 (IPv6 only)
  uint16_t port = 0;                  // host order; 0 any (needs tcp or udp)
  bool match_source_port = false;
  uint8_t percent = 100;              // < 100: `-m statistic --mode random --probability p/100`
  int32_t verdict = kVerdictDrop;     // kVerdictDrop or kVerdictAccept (without queue_num)
  std::optional<uint16_t> queue_num;  // `-j NFQUEUE --queue-num N --queue-bypass` instead
  std::string in_interface;           // `-i NAME` (exact name, < 16 bytes); empty = any
  std::string out_interface;          // `-o NAME`; a chain jumped from INPUT never matches it
};

struct ChainSpec {
  std::string chain;                // 1..28 bytes (iptables' limit)
  std::vector<int> hooks;           // kHookPrerouting / kHookInput / kHookOutput / kHookForward: a jump first in each
  std::vector<Rule> rules;
};

/// The entry bytes of one rule (ipt_entry or ip6t_entry, an xt_tcp/xt_udp match for a port, an
/// xt_statistic match for a percent, the standard or NFQUEUE target).
std::vector<uint8_t> RuleEntryBytes(const Rule& rule, Family family = Family::kIpv4);

/// Names of the user-defined chains, in table order.
std::vector<std::string> UserChains(const Table& table);

/// Adds `spec.chain` before the table's final ERROR entry and an unconditional jump to it as the
/// first rule of each hook's built-in chain: what `iptables -N C; iptables -A C …; iptables -I
/// INPUT -j C` do, in one replacement. False (table unchanged) if the chain exists or a hook is
/// not in the table.
bool AddChain(Table& table, const ChainSpec& spec, std::string* why = nullptr);

/// Removes the chain `name` and every rule that jumps to it (faultd's jump rules), leaving every
/// other entry as it was; false if there is no such chain. The inverse of AddChain.
bool RemoveChain(Table& table, const std::string& name);

/// Whether `a` and `b` have the same entries and hooks, byte for byte except what the kernel
/// keeps for itself in each entry (counters, comefrom, and the payloads of matches and of
/// non-standard targets, which kernels before 4.11 copy out with private state in them): how a
/// replacement is verified against the table read back.
bool SameEntries(const Table& a, const Table& b);

/// For each entry of `after`, the index of the same entry (same id) in `before`, or -1 for a new
/// one: how the old counters map onto the new table.
std::vector<int64_t> CounterSources(const Table& before, const Table& after);

}  // namespace faultd::core::xt
