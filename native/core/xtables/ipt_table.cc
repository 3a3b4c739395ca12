// SPDX-License-Identifier: Apache-2.0
#include "ipt_table.h"

#include <netinet/in.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>

#include "ipt_abi.h"

namespace faultd::core::xt {
namespace {

template <typename T>
T Load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

template <typename T>
void Store(uint8_t* p, const T& value) {
  std::memcpy(p, &value, sizeof(T));
}

bool Fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

std::optional<Table> Bad(std::string* why, std::string text) {
  Fail(why, std::move(text));
  return std::nullopt;
}

// Where the entry header of each family keeps what the model reads and writes.
struct Layout {
  size_t entry_size;
  size_t target_offset_at;
  size_t next_offset_at;
  size_t comefrom_at;
  size_t counters_at;
};

constexpr Layout kLayout4{kEntrySize, offsetof(ipt_entry, target_offset), offsetof(ipt_entry, next_offset), offsetof(ipt_entry, comefrom),
                          offsetof(ipt_entry, counters)};
constexpr Layout kLayout6{kEntry6Size, offsetof(ip6t_entry, target_offset), offsetof(ip6t_entry, next_offset), offsetof(ip6t_entry, comefrom),
                          offsetof(ip6t_entry, counters)};

const Layout& LayoutOf(Family family) { return family == Family::kIpv6 ? kLayout6 : kLayout4; }

uint16_t TargetOffset(const Layout& l, const std::vector<uint8_t>& bytes) { return Load<uint16_t>(bytes.data() + l.target_offset_at); }

// The standard verdict's position inside an entry whose target is standard.
size_t VerdictOffset(const Layout& l, const std::vector<uint8_t>& bytes) { return TargetOffset(l, bytes) + kTargetHeaderSize; }

// Fills name, verdict and error name from the entry's target.
bool ParseTarget(const Layout& l, Entry& entry, std::string* why) {
  const auto& b = entry.bytes;
  const uint16_t target_offset = TargetOffset(l, b);
  if (target_offset < l.entry_size || target_offset + kTargetHeaderSize > b.size()) return Fail(why, "target offset outside its entry");
  const uint8_t* t = b.data() + target_offset;
  const auto target_size = Load<uint16_t>(t + offsetof(xt_entry_target, u.user.target_size));
  if (target_size < kTargetHeaderSize || target_offset + target_size > b.size()) return Fail(why, "target size outside its entry");
  const char* name = reinterpret_cast<const char*>(t + offsetof(xt_entry_target, u.user.name));
  entry.target.assign(name, strnlen(name, XT_EXTENSION_MAXNAMELEN));
  if (entry.target == XT_STANDARD_TARGET) {
    if (target_size < kTargetHeaderSize + sizeof(int32_t)) return Fail(why, "standard target without a verdict");
    entry.verdict = Load<int32_t>(t + kTargetHeaderSize);
  } else if (entry.target == XT_ERROR_TARGET) {
    const char* error = reinterpret_cast<const char*>(t + kTargetHeaderSize);
    entry.error_name.assign(error, strnlen(error, std::min<size_t>(kErrorNameSize, target_size - kTargetHeaderSize)));
  }
  return true;
}

// An entry of `matches_size` bytes of matches and a target of `target_size`, all zero but its
// offsets (no address or interface match), allocated whole: the target and matches are written
// in place.
std::vector<uint8_t> NewEntry(const Layout& l, size_t matches_size, size_t target_size) {
  std::vector<uint8_t> bytes(l.entry_size + matches_size + target_size, 0);
  Store<uint16_t>(bytes.data() + l.target_offset_at, static_cast<uint16_t>(l.entry_size + matches_size));
  Store<uint16_t>(bytes.data() + l.next_offset_at, static_cast<uint16_t>(bytes.size()));
  return bytes;
}

// Writes the entry's target (its last `target_size` bytes): `name`, `revision` and `data`, zero-padded.
void WriteTarget(std::vector<uint8_t>& bytes, size_t target_size, const char* name, const void* data, size_t data_size, uint8_t revision = 0) {
  uint8_t* t = bytes.data() + bytes.size() - target_size;
  Store<uint16_t>(t + offsetof(xt_entry_target, u.user.target_size), static_cast<uint16_t>(target_size));
  std::strncpy(reinterpret_cast<char*>(t + offsetof(xt_entry_target, u.user.name)), name, XT_EXTENSION_MAXNAMELEN - 1);
  Store<uint8_t>(t + offsetof(xt_entry_target, u.user.revision), revision);
  std::memcpy(t + kTargetHeaderSize, data, std::min(data_size, target_size - kTargetHeaderSize));
}

// Writes a match of `match_size` bytes at `at`: `name` and `data` (revision 0), zero-padded.
void WriteMatch(uint8_t* at, size_t match_size, const char* name, const void* data, size_t data_size) {
  Store<uint16_t>(at + offsetof(xt_entry_match, u.user.match_size), static_cast<uint16_t>(match_size));
  std::strncpy(reinterpret_cast<char*>(at + offsetof(xt_entry_match, u.user.name)), name, XT_EXTENSION_MAXNAMELEN - 1);
  std::memcpy(at + kMatchHeaderSize, data, std::min(data_size, match_size - kMatchHeaderSize));
}

std::vector<uint8_t> StandardEntry(const Layout& l, int32_t verdict) {
  std::vector<uint8_t> bytes = NewEntry(l, 0, kStandardTargetSize);
  WriteTarget(bytes, kStandardTargetSize, XT_STANDARD_TARGET, &verdict, sizeof(verdict));
  return bytes;
}

std::vector<uint8_t> ErrorEntry(const Layout& l, const std::string& name) {
  std::vector<uint8_t> bytes = NewEntry(l, 0, kErrorTargetSize);
  std::array<char, kErrorNameSize> error{};
  std::memcpy(error.data(), name.data(), std::min(name.size(), kErrorNameSize - 1));
  WriteTarget(bytes, kErrorTargetSize, XT_ERROR_TARGET, error.data(), error.size());
  return bytes;
}

// The address (masked to its prefix) and its mask, in network order, of `length` bytes.
void PrefixOf(const Rule& rule, size_t length, uint8_t* address, uint8_t* mask) {
  for (size_t i = 0; i < length; ++i) {
    const size_t bits = rule.prefix_len > i * 8 ? std::min<size_t>(8, rule.prefix_len - i * 8) : 0;
    mask[i] = static_cast<uint8_t>(bits == 0 ? 0 : 0xFF << (8 - bits));
    address[i] = rule.address[i] & mask[i];
  }
}

// An exact name, as iptables' `-i eth0` sets it: the name and its NUL under the mask.
void InterfaceMatch(const std::string& name, char* out, unsigned char* mask) {
  if (name.empty()) return;
  const size_t n = std::min(name.size(), static_cast<size_t>(IFNAMSIZ - 1));
  std::memcpy(out, name.data(), n);
  std::memset(mask, 0xFF, n + 1);
}

// The family's header: addresses, protocol, interfaces.
void WriteHeader(const Rule& rule, Family family, uint8_t* entry) {
  if (family == Family::kIpv6) {
    auto* ip = reinterpret_cast<ip6t_ip6*>(entry);
    if (rule.prefix_len > 0) {
      auto* address = rule.match_source_address ? ip->src.s6_addr : ip->dst.s6_addr;
      auto* mask = rule.match_source_address ? ip->smsk.s6_addr : ip->dmsk.s6_addr;
      PrefixOf(rule, 16, address, mask);
    }
    ip->proto = rule.l4proto;
    if (rule.l4proto != 0) ip->flags |= IP6T_F_PROTO;  // what ip6tables' -p sets
    InterfaceMatch(rule.in_interface, ip->iniface, ip->iniface_mask);
    InterfaceMatch(rule.out_interface, ip->outiface, ip->outiface_mask);
    return;
  }
  auto* ip = reinterpret_cast<ipt_ip*>(entry);
  if (rule.prefix_len > 0) {
    auto* address = reinterpret_cast<uint8_t*>(rule.match_source_address ? &ip->src : &ip->dst);
    auto* mask = reinterpret_cast<uint8_t*>(rule.match_source_address ? &ip->smsk : &ip->dmsk);
    PrefixOf(rule, 4, address, mask);
  }
  ip->proto = rule.l4proto;
  InterfaceMatch(rule.in_interface, ip->iniface, ip->iniface_mask);
  InterfaceMatch(rule.out_interface, ip->outiface, ip->outiface_mask);
}

Entry MakeEntry(Table& table, std::vector<uint8_t> bytes) {
  Entry entry;
  entry.id = table.next_id++;
  entry.bytes = std::move(bytes);
  ParseTarget(LayoutOf(table.family), entry, nullptr);
  return entry;
}

bool ValidHook(const Table& table, int hook) { return hook >= 0 && hook < kNumHooks && (table.valid_hooks & (1U << hook)) != 0; }

// Index of the ERROR entry heading the user chain `name`, or -1.
int64_t ChainHead(const Table& table, const std::string& name) {
  for (size_t i = 0; i + 1 < table.entries.size(); ++i) {
    const Entry& e = table.entries[i];
    if (e.target == XT_ERROR_TARGET && e.error_name == name) return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace

std::optional<Table> Decode(const TableInfo& info, std::span<const uint8_t> blob, std::string* why) {
  const Layout& l = LayoutOf(info.family);
  Table table;
  table.family = info.family;
  table.name = info.name;
  table.valid_hooks = info.valid_hooks;
  std::map<uint32_t, uint32_t> id_at;  // offset → id
  std::vector<std::pair<size_t, uint32_t>> jumps;  // entry index → target offset
  size_t offset = 0;
  while (offset < blob.size()) {
    if (blob.size() - offset < l.entry_size) return Bad(why, "truncated entry");
    const auto next = Load<uint16_t>(blob.data() + offset + l.next_offset_at);
    if (next < l.entry_size + kTargetHeaderSize || next > blob.size() - offset || next % alignof(struct _xt_align) != 0) {
      return Bad(why, "bad next_offset " + std::to_string(next) + " at " + std::to_string(offset));
    }
    Entry entry;
    entry.id = table.next_id++;
    entry.bytes.assign(blob.begin() + static_cast<ptrdiff_t>(offset), blob.begin() + static_cast<ptrdiff_t>(offset + next));
    if (!ParseTarget(l, entry, why)) return std::nullopt;
    if (entry.verdict && *entry.verdict >= 0) jumps.emplace_back(table.entries.size(), static_cast<uint32_t>(*entry.verdict));
    id_at[static_cast<uint32_t>(offset)] = entry.id;
    table.entries.push_back(std::move(entry));
    offset += next;
  }
  if (table.entries.size() != info.num_entries || blob.size() != info.size) return Bad(why, "entries do not match IPT_SO_GET_INFO");
  for (const auto& [index, target] : jumps) {
    const auto found = id_at.find(target);
    if (found == id_at.end()) return Bad(why, "jump to " + std::to_string(target) + " is not on an entry");
    table.entries[index].jump_to = found->second;
  }
  for (int h = 0; h < kNumHooks; ++h) {
    if (!ValidHook(table, h)) continue;
    const auto entry = id_at.find(info.hook_entry[static_cast<size_t>(h)]);
    const auto under = id_at.find(info.underflow[static_cast<size_t>(h)]);
    if (entry == id_at.end() || under == id_at.end()) return Bad(why, "hook " + std::to_string(h) + " offsets are not on entries");
    table.hook_entry[static_cast<size_t>(h)] = entry->second;
    table.underflow[static_cast<size_t>(h)] = under->second;
  }
  if (table.entries.empty() || table.entries.back().target != XT_ERROR_TARGET) return Bad(why, "the table does not end with an ERROR entry");
  return table;
}

Encoded Encode(const Table& table) {
  const Layout& l = LayoutOf(table.family);
  Encoded out;
  std::unordered_map<uint32_t, uint32_t> offset_of;
  uint32_t offset = 0;
  for (const Entry& e : table.entries) {
    offset_of[e.id] = offset;
    offset += static_cast<uint32_t>(e.bytes.size());
  }
  out.blob.reserve(offset);
  for (const Entry& e : table.entries) {
    const size_t at = out.blob.size();
    out.blob.insert(out.blob.end(), e.bytes.begin(), e.bytes.end());
    if (e.jump_to) Store<int32_t>(out.blob.data() + at + VerdictOffset(l, e.bytes), static_cast<int32_t>(offset_of.at(*e.jump_to)));
  }
  for (int h = 0; h < kNumHooks; ++h) {
    const auto i = static_cast<size_t>(h);
    out.hook_entry[i] = ValidHook(table, h) ? offset_of.at(table.hook_entry[i]) : 0xFFFFFFFFU;
    out.underflow[i] = ValidHook(table, h) ? offset_of.at(table.underflow[i]) : 0xFFFFFFFFU;
  }
  out.num_entries = static_cast<uint32_t>(table.entries.size());
  return out;
}

std::vector<uint8_t> RuleEntryBytes(const Rule& rule, Family family) {
  const Layout& l = LayoutOf(family);
  const bool port_match = rule.port != 0 && (rule.l4proto == IPPROTO_TCP || rule.l4proto == IPPROTO_UDP);
  const bool tcp = rule.l4proto == IPPROTO_TCP;
  const size_t port_size = port_match ? Align(kMatchHeaderSize + (tcp ? sizeof(xt_tcp) : sizeof(xt_udp))) : 0;
  const bool statistic = rule.percent < 100;
  const size_t statistic_size = statistic ? kStatisticMatchSize : 0;
  const size_t target_size = rule.queue_num ? kNfqTargetSize : kStandardTargetSize;
  std::vector<uint8_t> bytes = NewEntry(l, port_size + statistic_size, target_size);
  WriteHeader(rule, family, bytes.data());
  uint8_t* m = bytes.data() + l.entry_size;
  if (port_match) {
    // xt_tcp and xt_udp both start with spts[2], dpts[2]: the unmatched side is 0..65535.
    const std::array<uint16_t, 4> ports = rule.match_source_port ? std::array<uint16_t, 4>{rule.port, rule.port, 0, 0xFFFF}
                                                                 : std::array<uint16_t, 4>{0, 0xFFFF, rule.port, rule.port};
    WriteMatch(m, port_size, tcp ? "tcp" : "udp", ports.data(), sizeof(ports));
    m += port_size;
  }
  if (statistic) {
    // As iptables' libxt_statistic computes it: the kernel matches when
    // (random & 0x7FFFFFFF) < probability.
    StatisticInfo info{};
    info.mode = kStatisticModeRandom;
    info.probability = static_cast<uint32_t>(std::lround(0x80000000 * (rule.percent / 100.0)));
    WriteMatch(m, statistic_size, "statistic", &info, sizeof(info));
  }
  if (rule.queue_num) {
    const NfqInfoV3 info{*rule.queue_num, 1, kNfqFlagBypass};
    WriteTarget(bytes, target_size, "NFQUEUE", &info, sizeof(info), kNfqRevision);
  } else {
    WriteTarget(bytes, target_size, XT_STANDARD_TARGET, &rule.verdict, sizeof(rule.verdict));
  }
  return bytes;
}

std::vector<std::string> UserChains(const Table& table) {
  std::vector<std::string> names;
  for (size_t i = 0; i + 1 < table.entries.size(); ++i) {
    if (table.entries[i].target == XT_ERROR_TARGET) names.push_back(table.entries[i].error_name);
  }
  return names;
}

bool AddChain(Table& table, const ChainSpec& spec, std::string* why) {
  if (spec.chain.empty() || spec.chain.size() >= kErrorNameSize - 1) return Fail(why, "chain name must be 1..28 bytes");
  if (ChainHead(table, spec.chain) >= 0) return Fail(why, "chain " + spec.chain + " exists");
  for (int hook : spec.hooks) {
    if (!ValidHook(table, hook)) return Fail(why, "hook " + std::to_string(hook) + " is not in table " + table.name);
  }
  const Layout& l = LayoutOf(table.family);
  std::vector<Entry> chain;
  chain.push_back(MakeEntry(table, ErrorEntry(l, spec.chain)));
  for (const Rule& rule : spec.rules) chain.push_back(MakeEntry(table, RuleEntryBytes(rule, table.family)));
  chain.push_back(MakeEntry(table, StandardEntry(l, kVerdictReturn)));
  // Jumps land on the chain's first rule (its RETURN when empty), as libiptc compiles them.
  const uint32_t landing = chain[1].id;
  table.entries.insert(table.entries.end() - 1, chain.begin(), chain.end());
  for (int hook : spec.hooks) {
    Entry jump = MakeEntry(table, StandardEntry(l, 0));
    jump.jump_to = landing;
    const uint32_t first = table.hook_entry[static_cast<size_t>(hook)];
    const auto at = std::find_if(table.entries.begin(), table.entries.end(), [&](const Entry& e) { return e.id == first; });
    table.hook_entry[static_cast<size_t>(hook)] = jump.id;
    table.entries.insert(at, std::move(jump));
  }
  return true;
}

bool RemoveChain(Table& table, const std::string& name) {
  const int64_t head = ChainHead(table, name);
  if (head < 0) return false;
  auto end = static_cast<size_t>(head) + 1;
  while (end < table.entries.size() && table.entries[end].target != XT_ERROR_TARGET) ++end;
  std::vector<uint32_t> removed;
  for (size_t i = static_cast<size_t>(head); i < end; ++i) removed.push_back(table.entries[i].id);
  const auto inside = [&](uint32_t id) { return std::find(removed.begin(), removed.end(), id) != removed.end(); };
  for (const Entry& e : table.entries) {
    if (e.jump_to && inside(*e.jump_to) && !inside(e.id)) removed.push_back(e.id);
  }
  // A hook that started on a removed jump starts on the entry after it.
  for (int h = 0; h < kNumHooks; ++h) {
    if (!ValidHook(table, h)) continue;
    auto& first = table.hook_entry[static_cast<size_t>(h)];
    auto it = std::find_if(table.entries.begin(), table.entries.end(), [&](const Entry& e) { return e.id == first; });
    while (it != table.entries.end() && inside(it->id)) ++it;
    if (it != table.entries.end()) first = it->id;
  }
  std::erase_if(table.entries, [&](const Entry& e) { return inside(e.id); });
  return true;
}

namespace {

// Blanks what the kernel may write into an entry of the blob at `at`: its counters and comefrom,
// and the payload of each match and of a target other than standard and ERROR (kernels before
// 4.11 copy extension-private state, such as xt_statistic's `master` pointer, out with it). Left:
// the packet header match, every offset and size, every extension's name and revision, every
// verdict and jump.
void BlankKernelState(const Layout& l, std::vector<uint8_t>& blob, size_t at, const Entry& e) {
  std::memset(blob.data() + at + l.comefrom_at, 0, sizeof(uint32_t));
  std::memset(blob.data() + at + l.counters_at, 0, sizeof(xt_counters));
  const uint16_t target_offset = TargetOffset(l, e.bytes);
  size_t m = l.entry_size;
  while (m + kMatchHeaderSize <= target_offset) {
    const auto size = Load<uint16_t>(e.bytes.data() + m + offsetof(xt_entry_match, u.user.match_size));
    if (size < kMatchHeaderSize || m + size > target_offset) break;
    std::memset(blob.data() + at + m + kMatchHeaderSize, 0, size - kMatchHeaderSize);
    m += size;
  }
  if (e.target != XT_STANDARD_TARGET && e.target != XT_ERROR_TARGET) {
    std::memset(blob.data() + at + target_offset + kTargetHeaderSize, 0, e.bytes.size() - target_offset - kTargetHeaderSize);
  }
}

}  // namespace

bool SameEntries(const Table& a, const Table& b) {
  if (a.family != b.family || a.valid_hooks != b.valid_hooks || a.entries.size() != b.entries.size()) return false;
  const Layout& l = LayoutOf(a.family);
  Encoded ea = Encode(a);
  Encoded eb = Encode(b);
  if (ea.blob.size() != eb.blob.size() || ea.hook_entry != eb.hook_entry || ea.underflow != eb.underflow) return false;
  size_t at = 0;
  for (size_t i = 0; i < a.entries.size(); ++i) {
    if (a.entries[i].bytes.size() != b.entries[i].bytes.size() || a.entries[i].target != b.entries[i].target) return false;
    BlankKernelState(l, ea.blob, at, a.entries[i]);
    BlankKernelState(l, eb.blob, at, b.entries[i]);
    at += a.entries[i].bytes.size();
  }
  return ea.blob == eb.blob;
}

std::vector<int64_t> CounterSources(const Table& before, const Table& after) {
  std::unordered_map<uint32_t, int64_t> index_of;
  for (size_t i = 0; i < before.entries.size(); ++i) index_of[before.entries[i].id] = static_cast<int64_t>(i);
  std::vector<int64_t> sources;
  sources.reserve(after.entries.size());
  for (const Entry& e : after.entries) {
    const auto found = index_of.find(e.id);
    sources.push_back(found == index_of.end() ? -1 : found->second);
  }
  return sources;
}

}  // namespace faultd::core::xt
