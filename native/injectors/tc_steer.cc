// SPDX-License-Identifier: Apache-2.0
#include "tc_steer.h"

#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <linux/tc_act/tc_mirred.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "../core/netlink/attr.h"

namespace faultd::inj {
namespace {

constexpr uint32_t kHtbVersion = 3;      // TC_HTB_PROTOVER
constexpr uint32_t kRate2Quantum = 10;   // iproute2's default r2q
constexpr uint32_t kQuantumBytes = 60000;
constexpr uint32_t kDirectQlen = 1000;
constexpr uint32_t kBurstBytes = 256 * 1024;
constexpr uint32_t kDefaultMtu = 2047;

tc_ratespec RateSpec(uint64_t rate) {
  tc_ratespec spec{};
  spec.rate = rate >= (1ULL << 32) ? ~0U : static_cast<uint32_t>(rate);
  int cell_log = 0;
  while ((kDefaultMtu >> cell_log) > 255) ++cell_log;
  spec.cell_log = static_cast<unsigned char>(cell_log);
  spec.cell_align = -1;
  spec.linklayer = TC_LINKLAYER_ETHERNET & TC_LINKLAYER_MASK;
  return spec;
}

std::array<uint32_t, 256> RateTable(const tc_ratespec& spec, const core::Psched& psched) {
  std::array<uint32_t, 256> table{};
  for (size_t i = 0; i < table.size(); ++i) {
    table[i] = core::XmitTimeTicks(psched, spec.rate, static_cast<uint32_t>((i + 1) << spec.cell_log));
  }
  return table;
}

struct U32Key {
  uint32_t mask_host;
  uint32_t value_host;
  int32_t offset;
};

// TCA_U32_SEL payload: a terminal selector with `keys` (none = match every packet).
std::vector<uint8_t> Selector(std::vector<U32Key> keys) {
  if (keys.empty()) keys.push_back({0, 0, 0});
  std::vector<uint8_t> sel(sizeof(tc_u32_sel) + keys.size() * sizeof(tc_u32_key), 0);
  auto* header = reinterpret_cast<tc_u32_sel*>(sel.data());
  header->flags = TC_U32_TERMINAL;
  header->nkeys = static_cast<unsigned char>(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    tc_u32_key key{};
    key.mask = htonl(keys[i].mask_host);
    key.val = htonl(keys[i].value_host);
    key.off = keys[i].offset;
    std::memcpy(sel.data() + sizeof(tc_u32_sel) + i * sizeof(tc_u32_key), &key, sizeof(key));
  }
  return sel;
}

}  // namespace

core::Result<std::vector<uint8_t>> EncodeHtbQdiscOptions(uint32_t default_minor) noexcept {
  tc_htb_glob glob{};
  glob.version = kHtbVersion;
  glob.rate2quantum = kRate2Quantum;
  glob.defcls = default_minor;
  core::nl::AttrWriter w(256);
  const size_t options = w.NestBegin(TCA_OPTIONS);
  w.PutStruct(TCA_HTB_INIT, glob);
  w.PutU32(TCA_HTB_DIRECT_QLEN, kDirectQlen);
  w.NestEnd(options);
  if (!w.ok()) return core::SysError{EMSGSIZE, "htb", "options too large"};
  return w.bytes();
}

core::Result<std::vector<uint8_t>> EncodeHtbClassOptions(uint64_t rate_bytes_per_sec, const core::Psched& psched) noexcept {
  if (rate_bytes_per_sec == 0) return core::SysError{EINVAL, "htb", "rate must be > 0"};
  tc_htb_opt opt{};
  opt.rate = RateSpec(rate_bytes_per_sec);
  opt.ceil = opt.rate;
  opt.buffer = core::XmitTimeTicks(psched, opt.rate.rate, kBurstBytes);
  opt.cbuffer = opt.buffer;
  opt.quantum = kQuantumBytes;
  const auto rtab = RateTable(opt.rate, psched);
  core::nl::AttrWriter w(4096);
  const size_t options = w.NestBegin(TCA_OPTIONS);
  w.PutStruct(TCA_HTB_PARMS, opt);
  if (rate_bytes_per_sec >= (1ULL << 32)) {
    w.PutU64(TCA_HTB_RATE64, rate_bytes_per_sec);
    w.PutU64(TCA_HTB_CEIL64, rate_bytes_per_sec);
  }
  w.Put(TCA_HTB_RTAB, rtab.data(), sizeof(rtab));
  w.Put(TCA_HTB_CTAB, rtab.data(), sizeof(rtab));
  w.NestEnd(options);
  if (!w.ok()) return core::SysError{EMSGSIZE, "htb", "options too large"};
  return w.bytes();
}

core::Result<std::vector<uint8_t>> EncodeU32Options(const U32Match& m, uint32_t classid) noexcept {
  const bool v4 = m.ip_version == 4;
  if (m.ip_version != 4 && m.ip_version != 6) return core::SysError{EINVAL, "u32", "ip_version must be 4 or 6"};
  std::vector<U32Key> keys;
  if (!m.address.empty()) {
    if (m.address.size() != (v4 ? 4u : 16u)) return core::SysError{EINVAL, "u32", "address length does not match the family"};
    const int base = v4 ? (m.match_source_address ? 12 : 16) : (m.match_source_address ? 8 : 24);
    for (int word = 0; word * 32 < m.prefix_len; ++word) {
      const int bits = std::min(32, m.prefix_len - word * 32);
      const uint32_t mask = bits == 32 ? 0xffffffffU : ~(0xffffffffU >> bits);
      uint32_t addr = 0;
      std::memcpy(&addr, m.address.data() + word * 4, 4);
      keys.push_back({mask, ntohl(addr) & mask, base + word * 4});
    }
  }
  if (m.l4proto != 0) {
    // IPv4: the word at 8 is TTL|protocol|checksum; IPv6: the word at 4 is length|next header|hop limit.
    if (v4) keys.push_back({0x00ff0000U, static_cast<uint32_t>(m.l4proto) << 16, 8});
    else keys.push_back({0x0000ff00U, static_cast<uint32_t>(m.l4proto) << 8, 4});
  }
  if (m.port != 0) {
    if (m.l4proto != IPPROTO_TCP && m.l4proto != IPPROTO_UDP) return core::SysError{EINVAL, "u32", "a port needs tcp or udp"};
    const int offset = v4 ? 20 : 40;  // transport header without IPv4 options / IPv6 extensions
    keys.push_back(m.match_source_port ? U32Key{0xffff0000U, static_cast<uint32_t>(m.port) << 16, offset}
                                       : U32Key{0x0000ffffU, m.port, offset});
  }
  const std::vector<uint8_t> sel = Selector(std::move(keys));  // no key: every packet of the family
  core::nl::AttrWriter w(4096);
  const size_t options = w.NestBegin(TCA_OPTIONS);
  w.PutU32(TCA_U32_CLASSID, classid);
  w.Put(TCA_U32_SEL, sel.data(), sel.size());
  w.NestEnd(options);
  if (!w.ok()) return core::SysError{EMSGSIZE, "u32", "options too large"};
  return w.bytes();
}

core::Result<std::vector<uint8_t>> EncodeU32RedirectOptions(int ifindex) noexcept {
  if (ifindex <= 0) return core::SysError{EINVAL, "u32", "bad ifindex for the redirect"};
  tc_mirred mirred{};
  mirred.action = TC_ACT_STOLEN;
  mirred.eaction = TCA_EGRESS_REDIR;
  mirred.ifindex = static_cast<uint32_t>(ifindex);
  const std::vector<uint8_t> sel = Selector({});
  core::nl::AttrWriter w(512);
  const size_t options = w.NestBegin(TCA_OPTIONS);
  // iproute2's layout: the action list (no NLA_F_NESTED on it or its first entry), then the selector.
  const size_t actions = w.NestBegin(TCA_U32_ACT);
  const size_t first = w.NestBegin(1);  // action order 1
  w.PutString(TCA_ACT_KIND, "mirred");
  const size_t act_options = w.NestBegin(TCA_ACT_OPTIONS | NLA_F_NESTED);
  w.PutStruct(TCA_MIRRED_PARMS, mirred);
  w.NestEnd(act_options);
  w.NestEnd(first);
  w.NestEnd(actions);
  w.Put(TCA_U32_SEL, sel.data(), sel.size());
  w.NestEnd(options);
  if (!w.ok()) return core::SysError{EMSGSIZE, "u32", "options too large"};
  return w.bytes();
}

}  // namespace faultd::inj
