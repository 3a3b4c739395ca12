// SPDX-License-Identifier: Apache-2.0
#include "ipt_socket.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "../unique_fd.h"
#include "ipt_abi.h"

namespace faultd::core::xt {
namespace {

// EAGAIN retries: each means another writer replaced the table between our read and replace.
constexpr int kAttempts = 8;

// What an edit returns: 1 changed, 0 nothing to do, kExists / kInvalid refused.
constexpr int kExists = -1;
constexpr int kInvalid = -2;

// The family's socket and option level: ip_tables answers on IPPROTO_IP of an AF_INET raw
// socket, ip6_tables on IPPROTO_IPV6 of an AF_INET6 one, with the same option numbers and
// header layouts (checked in ipt_abi.h).
struct Socket {
  UniqueFd fd;
  int level = IPPROTO_IP;
  const char* prefix = "IPT";
};

Result<Socket> RawSocket(Family family) noexcept {
  const bool v6 = family == Family::kIpv6;
  UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  if (fd.get() < 0) return ErrnoError("socket");
  return Socket{std::move(fd), v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? "IP6T" : "IPT"};
}

std::string Op(const Socket& s, const char* op, const std::string& name) { return std::string(s.prefix) + "_SO_" + op + " " + name; }

void CopyName(char* dst, const std::string& name) {
  std::memset(dst, 0, XT_TABLE_MAXNAMELEN);
  std::strncpy(dst, name.c_str(), XT_TABLE_MAXNAMELEN - 1);
}

Result<Table> ReadFrom(const Socket& s, Family family, const std::string& name) noexcept {
  const int fd = s.fd.get();
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    ipt_getinfo info{};
    CopyName(info.name, name);
    socklen_t len = sizeof(info);
    if (getsockopt(fd, s.level, IPT_SO_GET_INFO, &info, &len) != 0) return ErrnoError("getsockopt", Op(s, "GET_INFO", name));
    std::vector<uint8_t> buffer(sizeof(ipt_get_entries) + info.size);
    auto* entries = reinterpret_cast<ipt_get_entries*>(buffer.data());
    CopyName(entries->name, name);
    entries->size = info.size;
    len = static_cast<socklen_t>(buffer.size());
    if (getsockopt(fd, s.level, IPT_SO_GET_ENTRIES, buffer.data(), &len) != 0) {
      if (errno == EAGAIN) continue;  // the table changed size between the two calls
      return ErrnoError("getsockopt", Op(s, "GET_ENTRIES", name));
    }
    TableInfo model_info;
    model_info.family = family;
    model_info.name = name;
    model_info.valid_hooks = info.valid_hooks;
    for (int h = 0; h < kNumHooks; ++h) {
      model_info.hook_entry[static_cast<size_t>(h)] = info.hook_entry[h];
      model_info.underflow[static_cast<size_t>(h)] = info.underflow[h];
    }
    model_info.num_entries = info.num_entries;
    model_info.size = info.size;
    std::string why;
    auto table = Decode(model_info, {buffer.data() + sizeof(ipt_get_entries), info.size}, &why);
    if (!table) return SysError{EPROTO, "getsockopt", Op(s, "GET_ENTRIES", name) + ": " + why};
    return std::move(*table);
  }
  return SysError{EAGAIN, "getsockopt", Op(s, "GET_ENTRIES", name) + ": the table kept changing"};
}

Status ReplaceOn(const Socket& s, const Table& before, const Table& after) noexcept {
  const int fd = s.fd.get();
  const Encoded encoded = Encode(after);
  std::vector<uint8_t> buffer(sizeof(ipt_replace) + encoded.blob.size());
  auto* replace = reinterpret_cast<ipt_replace*>(buffer.data());
  CopyName(replace->name, after.name);
  replace->valid_hooks = after.valid_hooks;
  replace->num_entries = encoded.num_entries;
  replace->size = static_cast<unsigned>(encoded.blob.size());
  for (int h = 0; h < kNumHooks; ++h) {
    replace->hook_entry[h] = encoded.hook_entry[static_cast<size_t>(h)];
    replace->underflow[h] = encoded.underflow[static_cast<size_t>(h)];
  }
  // The kernel refuses (EAGAIN) unless num_counters is its current entry count: that is how a
  // replacement built from a stale read is caught. It writes the old counters here.
  std::vector<xt_counters> old_counters(before.entries.size());
  replace->num_counters = static_cast<unsigned>(old_counters.size());
  replace->counters = old_counters.data();
  std::memcpy(buffer.data() + sizeof(ipt_replace), encoded.blob.data(), encoded.blob.size());
  if (setsockopt(fd, s.level, IPT_SO_SET_REPLACE, buffer.data(), static_cast<socklen_t>(buffer.size())) != 0) {
    return ErrnoError("setsockopt", Op(s, "SET_REPLACE", after.name));
  }
  // The new table starts at zero; give every entry that stayed its old counters back.
  const std::vector<int64_t> sources = CounterSources(before, after);
  std::vector<uint8_t> add(sizeof(xt_counters_info) + sources.size() * sizeof(xt_counters));
  auto* info = reinterpret_cast<xt_counters_info*>(add.data());
  CopyName(info->name, after.name);
  info->num_counters = static_cast<unsigned>(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    xt_counters counters{};
    if (sources[i] >= 0) counters = old_counters[static_cast<size_t>(sources[i])];
    std::memcpy(add.data() + sizeof(xt_counters_info) + i * sizeof(xt_counters), &counters, sizeof(counters));
  }
  // Counters are statistics: if another writer replaced the table in this instant (EINVAL, its
  // entry count differs), they are lost as they would be with iptables, and the change stands.
  (void)setsockopt(fd, s.level, IPT_SO_SET_ADD_COUNTERS, add.data(), static_cast<socklen_t>(add.size()));
  return Ok{};
}

// Reads the table, applies `edit`, replaces it, and reads it back: the kernel's table must be
// the one written (every entry byte for byte but the kernel's counters and comefrom). Retried
// while another writer races us.
template <typename Edit>
Result<bool> Modify(Family family, const std::string& name, Edit edit) noexcept {
  auto s = RawSocket(family);
  if (!s.ok()) return s.error();
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto before = ReadFrom(s.value(), family, name);
    if (!before.ok()) return before.error();
    Table after = before.value();
    std::string why;
    const int changed = edit(after, &why);
    if (changed < 0) return SysError{changed == kExists ? EEXIST : EINVAL, "setsockopt", Op(s.value(), "SET_REPLACE", name) + ": " + why};
    if (changed == 0) return false;
    const Status replaced = ReplaceOn(s.value(), before.value(), after);
    if (!replaced.ok()) {
      if (replaced.error().err != EAGAIN) return replaced.error();
      continue;
    }
    auto check = ReadFrom(s.value(), family, name);
    if (!check.ok()) return check.error();
    if (!SameEntries(check.value(), after)) {
      return SysError{EIO, "getsockopt", Op(s.value(), "GET_ENTRIES", name) + ": the table read back is not the one written (another writer?)"};
    }
    return true;
  }
  return SysError{EAGAIN, "setsockopt", Op(s.value(), "SET_REPLACE", name) + ": the table kept changing"};
}

}  // namespace

Result<Table> ReadTable(Family family, const std::string& name) noexcept {
  auto s = RawSocket(family);
  if (!s.ok()) return s.error();
  return ReadFrom(s.value(), family, name);
}

Status ReplaceTable(const Table& before, const Table& after) noexcept {
  auto s = RawSocket(after.family);
  if (!s.ok()) return s.error();
  return ReplaceOn(s.value(), before, after);
}

Status AddChainToKernel(Family family, const std::string& table, const ChainSpec& spec) noexcept {
  auto added = Modify(family, table, [&](Table& t, std::string* why) {
    if (AddChain(t, spec, why)) return 1;
    const auto chains = UserChains(t);
    return std::find(chains.begin(), chains.end(), spec.chain) != chains.end() ? kExists : kInvalid;
  });
  if (!added.ok()) return added.error();
  return Ok{};
}

Result<bool> RemoveChainFromKernel(Family family, const std::string& table, const std::string& chain) noexcept {
  return Modify(family, table, [&](Table& t, std::string*) { return RemoveChain(t, chain) ? 1 : 0; });
}

Result<std::vector<std::string>> ListChains(Family family, const std::string& table) noexcept {
  auto read = ReadTable(family, table);
  if (!read.ok()) return read.error();
  return UserChains(read.value());
}

}  // namespace faultd::core::xt
