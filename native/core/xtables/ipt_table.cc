// SPDX-License-Identifier: Apache-2.0
#include "ipt_table.h"

#include <netinet/in.h>

#include <algorithm>
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

// The standard verdict's position inside an entry whose target is standard.
uint16_t TargetOffset(const std::vector<uint8_t>& bytes) {
  return Load<uint16_t>(bytes.data() + offsetof(ipt_entry, target_offset));
}

size_t VerdictOffset(const std::vector<uint8_t>& bytes) { return TargetOffset(bytes) + kTargetHeaderSize; }

// Fills name, verdict and error name from the entry's target.
bool ParseTarget(Entry& entry, std::string* why) {
  const auto& b = entry.bytes;
  const uint16_t target_offset = TargetOffset(b);
  if (target_offset < kEntrySize || target_offset + kTargetHeaderSize > b.size()) return Fail(why, "target offset outside its entry");
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
std::vector<uint8_t> NewEntry(size_t matches_size, size_t target_size) {
  std::vector<uint8_t> bytes(kEntrySize + matches_size + target_size, 0);
  Store<uint16_t>(bytes.data() + offsetof(ipt_entry, target_offset), static_cast<uint16_t>(kEntrySize + matches_size));
  Store<uint16_t>(bytes.data() + offsetof(ipt_entry, next_offset), static_cast<uint16_t>(bytes.size()));
  return bytes;
}

// Writes the entry's target (its last `target_size` bytes): `name` and `data`, zero-padded.
void WriteTarget(std::vector<uint8_t>& bytes, size_t target_size, const char* name, const void* data, size_t data_size) {
  uint8_t* t = bytes.data() + bytes.size() - target_size;
  Store<uint16_t>(t + offsetof(xt_entry_target, u.user.target_size), static_cast<uint16_t>(target_size));
  std::strncpy(reinterpret_cast<char*>(t + offsetof(xt_entry_target, u.user.name)), name, XT_EXTENSION_MAXNAMELEN - 1);
  std::memcpy(t + kTargetHeaderSize, data, std::min(data_size, target_size - kTargetHeaderSize));
}

std::vector<uint8_t> StandardEntry(int32_t verdict) {
  std::vector<uint8_t> bytes = NewEntry(0, kStandardTargetSize);
  WriteTarget(bytes, kStandardTargetSize, XT_STANDARD_TARGET, &verdict, sizeof(verdict));
  return bytes;
}

std::vector<uint8_t> ErrorEntry(const std::string& name) {
  std::vector<uint8_t> bytes = NewEntry(0, kErrorTargetSize);
  std::array<char, kErrorNameSize> error{};
  std::memcpy(error.data(), name.data(), std::min(name.size(), kErrorNameSize - 1));
  WriteTarget(bytes, kErrorTargetSize, XT_ERROR_TARGET, error.data(), error.size());
  return bytes;
}

Entry MakeEntry(Table& table, std::vector<uint8_t> bytes) {
  Entry entry;
  entry.id = table.next_id++;
  entry.bytes = std::move(bytes);
  ParseTarget(entry, nullptr);
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
  Table table;
  table.name = info.name;
  table.valid_hooks = info.valid_hooks;
  std::map<uint32_t, uint32_t> id_at;  // offset → id
  std::vector<std::pair<size_t, uint32_t>> jumps;  // entry index → target offset
  size_t offset = 0;
  while (offset < blob.size()) {
    if (blob.size() - offset < kEntrySize) return Bad(why, "truncated entry");
    const auto next = Load<uint16_t>(blob.data() + offset + offsetof(ipt_entry, next_offset));
    if (next < kEntrySize + kTargetHeaderSize || next > blob.size() - offset || next % alignof(struct _xt_align) != 0) {
      return Bad(why, "bad next_offset " + std::to_string(next) + " at " + std::to_string(offset));
    }
    Entry entry;
    entry.id = table.next_id++;
    entry.bytes.assign(blob.begin() + static_cast<ptrdiff_t>(offset), blob.begin() + static_cast<ptrdiff_t>(offset + next));
    if (!ParseTarget(entry, why)) return std::nullopt;
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
    if (e.jump_to) Store<int32_t>(out.blob.data() + at + VerdictOffset(e.bytes), static_cast<int32_t>(offset_of.at(*e.jump_to)));
  }
  for (int h = 0; h < kNumHooks; ++h) {
    const auto i = static_cast<size_t>(h);
    out.hook_entry[i] = ValidHook(table, h) ? offset_of.at(table.hook_entry[i]) : 0xFFFFFFFFU;
    out.underflow[i] = ValidHook(table, h) ? offset_of.at(table.underflow[i]) : 0xFFFFFFFFU;
  }
  out.num_entries = static_cast<uint32_t>(table.entries.size());
  return out;
}

std::vector<uint8_t> RuleEntryBytes(const Ipv4Rule& rule) {
  const bool port_match = rule.port != 0 && (rule.l4proto == IPPROTO_TCP || rule.l4proto == IPPROTO_UDP);
  const bool tcp = rule.l4proto == IPPROTO_TCP;
  const size_t match_size = port_match ? Align(sizeof(xt_entry_match) + (tcp ? sizeof(xt_tcp) : sizeof(xt_udp))) : 0;
  std::vector<uint8_t> bytes = NewEntry(match_size, kStandardTargetSize);
  auto* ip = reinterpret_cast<ipt_ip*>(bytes.data());
  if (rule.prefix_len > 0) {
    const uint32_t mask = htonl(rule.prefix_len >= 32 ? 0xFFFFFFFFU : ~(0xFFFFFFFFU >> rule.prefix_len));
    uint32_t address = 0;
    std::memcpy(&address, rule.address.data(), 4);
    address &= mask;
    if (rule.match_source_address) {
      ip->src.s_addr = address;
      ip->smsk.s_addr = mask;
    } else {
      ip->dst.s_addr = address;
      ip->dmsk.s_addr = mask;
    }
  }
  ip->proto = rule.l4proto;
  // An exact name, as iptables' `-i eth0` sets it: the name and its NUL under the mask.
  const auto interface = [](const std::string& name, char* out, unsigned char* mask) {
    const size_t n = std::min(name.size(), static_cast<size_t>(IFNAMSIZ - 1));
    std::memcpy(out, name.data(), n);
    std::memset(mask, 0xFF, n + 1);
  };
  if (!rule.in_interface.empty()) interface(rule.in_interface, ip->iniface, ip->iniface_mask);
  if (!rule.out_interface.empty()) interface(rule.out_interface, ip->outiface, ip->outiface_mask);
  if (port_match) {
    uint8_t* m = bytes.data() + kEntrySize;
    Store<uint16_t>(m + offsetof(xt_entry_match, u.user.match_size), static_cast<uint16_t>(match_size));
    std::strncpy(reinterpret_cast<char*>(m + offsetof(xt_entry_match, u.user.name)), tcp ? "tcp" : "udp", XT_EXTENSION_MAXNAMELEN - 1);
    // xt_tcp and xt_udp both start with spts[2], dpts[2]: the unmatched side is 0..65535.
    const std::array<uint16_t, 4> ports = rule.match_source_port ? std::array<uint16_t, 4>{rule.port, rule.port, 0, 0xFFFF}
                                                                 : std::array<uint16_t, 4>{0, 0xFFFF, rule.port, rule.port};
    std::memcpy(m + sizeof(xt_entry_match), ports.data(), sizeof(ports));
  }
  WriteTarget(bytes, kStandardTargetSize, XT_STANDARD_TARGET, &rule.verdict, sizeof(rule.verdict));
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
  std::vector<Entry> chain;
  chain.push_back(MakeEntry(table, ErrorEntry(spec.chain)));
  for (const Ipv4Rule& rule : spec.rules) chain.push_back(MakeEntry(table, RuleEntryBytes(rule)));
  chain.push_back(MakeEntry(table, StandardEntry(kVerdictReturn)));
  // Jumps land on the chain's first rule (its RETURN when empty), as libiptc compiles them.
  const uint32_t landing = chain[1].id;
  table.entries.insert(table.entries.end() - 1, chain.begin(), chain.end());
  for (int hook : spec.hooks) {
    Entry jump = MakeEntry(table, StandardEntry(0));
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
