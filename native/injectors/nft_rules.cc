// SPDX-License-Identifier: Apache-2.0
#include "nft_rules.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>

#include "../core/netlink/attr.h"
#include "../core/netlink/socket.h"

namespace faultd::inj {
namespace {

using core::nl::AttrWriter;

constexpr uint16_t kNested = NLA_F_NESTED;
constexpr uint32_t kReg1 = NFT_REG_1;
constexpr size_t kBatchBytes = 1024 * 1024;
constexpr uint16_t kNfqFlagBypass = 0x01;  // NFQ_FLAG_BYPASS (linux/netfilter/xt_NFQUEUE.h)
constexpr uint32_t kNatRangeProtoSpecified = 0x02;  // NF_NAT_RANGE_PROTO_SPECIFIED (linux/netfilter/nf_nat.h)

void PutBe32(AttrWriter& w, uint16_t type, uint32_t value) { w.PutU32(type, htonl(value)); }

nfgenmsg NfGen(uint8_t family, uint16_t res_id) {
  nfgenmsg gen{};
  gen.nfgen_family = family;
  gen.version = NFNETLINK_V0;
  gen.res_id = htons(res_id);
  return gen;
}

// One nfnetlink message inside a batch; returns the offset of its header for the length fix-up.
size_t BeginMessage(AttrWriter& w, uint16_t type, uint16_t flags, uint32_t seq, uint8_t family, uint16_t res_id = 0) {
  const size_t at = w.size();
  nlmsghdr header{};
  header.nlmsg_type = type;
  header.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  header.nlmsg_seq = seq;
  w.AppendStruct(header);
  w.AppendStruct(NfGen(family, res_id));
  return at;
}

void EndMessage(AttrWriter& w, size_t at) {
  const auto len = static_cast<uint32_t>(w.size() - at);
  std::memcpy(w.mutable_bytes().data() + at, &len, sizeof(len));
}

uint32_t HookNumber(NftHook hook) {
  switch (hook) {
    case NftHook::kPrerouting: return NF_INET_PRE_ROUTING;
    case NftHook::kInput: return NF_INET_LOCAL_IN;
    case NftHook::kOutput: return NF_INET_LOCAL_OUT;
  }
  return NF_INET_LOCAL_OUT;
}

uint16_t NftType(int msg) { return static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg); }

// --- expressions -------------------------------------------------------------------------

class Expressions {
 public:
  explicit Expressions(AttrWriter& w) : w_(w) {}

  // Key before register, in the order nft sends them (byte-exact with `nft add rule`).
  void Meta(uint32_t key) {
    Begin("meta");
    PutBe32(w_, NFTA_META_KEY, key);
    PutBe32(w_, NFTA_META_DREG, kReg1);
    End();
  }
  void Payload(uint32_t base, uint32_t offset, uint32_t len) {
    Begin("payload");
    PutBe32(w_, NFTA_PAYLOAD_DREG, kReg1);
    PutBe32(w_, NFTA_PAYLOAD_BASE, base);
    PutBe32(w_, NFTA_PAYLOAD_OFFSET, offset);
    PutBe32(w_, NFTA_PAYLOAD_LEN, len);
    End();
  }
  void Cmp(uint32_t op, const void* data, size_t len) {
    Begin("cmp");
    PutBe32(w_, NFTA_CMP_SREG, kReg1);
    PutBe32(w_, NFTA_CMP_OP, op);
    const size_t nest = w_.NestBegin(NFTA_CMP_DATA | kNested);
    w_.Put(NFTA_DATA_VALUE, data, len);
    w_.NestEnd(nest);
    End();
  }
  void Bitwise(const std::vector<uint8_t>& mask) {
    Begin("bitwise");
    PutBe32(w_, NFTA_BITWISE_SREG, kReg1);
    PutBe32(w_, NFTA_BITWISE_DREG, kReg1);
    PutBe32(w_, NFTA_BITWISE_LEN, static_cast<uint32_t>(mask.size()));
    size_t nest = w_.NestBegin(NFTA_BITWISE_MASK | kNested);
    w_.Put(NFTA_DATA_VALUE, mask.data(), mask.size());
    w_.NestEnd(nest);
    const std::vector<uint8_t> zeros(mask.size(), 0);
    nest = w_.NestBegin(NFTA_BITWISE_XOR | kNested);
    w_.Put(NFTA_DATA_VALUE, zeros.data(), zeros.size());
    w_.NestEnd(nest);
    End();
  }
  // `numgen random mod 100 < percent` as nft emits it (numgen, byteorder hton, cmp lt).
  void RandomBelow(uint32_t percent) {
    Begin("numgen");
    PutBe32(w_, NFTA_NG_DREG, kReg1);
    PutBe32(w_, NFTA_NG_MODULUS, 100);
    PutBe32(w_, NFTA_NG_TYPE, NFT_NG_RANDOM);
    PutBe32(w_, NFTA_NG_OFFSET, 0);
    End();
    Begin("byteorder");
    PutBe32(w_, NFTA_BYTEORDER_SREG, kReg1);
    PutBe32(w_, NFTA_BYTEORDER_DREG, kReg1);
    PutBe32(w_, NFTA_BYTEORDER_OP, NFT_BYTEORDER_HTON);
    PutBe32(w_, NFTA_BYTEORDER_LEN, 4);
    PutBe32(w_, NFTA_BYTEORDER_SIZE, 4);
    End();
    const uint32_t be = htonl(percent);
    Cmp(NFT_CMP_LT, &be, sizeof(be));
  }
  // `queue num <n> bypass` through the x_tables NFQUEUE target (nft_compat), as iptables-nft
  // sends it: kernels without nft_queue (this project's CI) still have xt_NFQUEUE.
  void QueueTarget(uint16_t queue_num) {
    Begin("target");
    w_.PutString(NFTA_TARGET_NAME, "NFQUEUE");
    PutBe32(w_, NFTA_TARGET_REV, 3);
    // struct xt_NFQ_info_v3 { u16 queuenum, queues_total, flags; } padded to XT_ALIGN (8).
    const std::array<uint16_t, 4> info{queue_num, 1, kNfqFlagBypass, 0};
    w_.Put(NFTA_TARGET_INFO, info.data(), sizeof(info));
    End();
  }
  // `redirect to :PORT` as nft emits it: the port (2 bytes, network order) into reg 1, then
  // redir with proto_min from reg 1 and NF_NAT_RANGE_PROTO_SPECIFIED.
  void Redirect(uint16_t port) {
    Begin("immediate");
    PutBe32(w_, NFTA_IMMEDIATE_DREG, kReg1);
    const size_t data = w_.NestBegin(NFTA_IMMEDIATE_DATA | kNested);
    const uint16_t be = htons(port);
    w_.Put(NFTA_DATA_VALUE, &be, sizeof(be));
    w_.NestEnd(data);
    End();
    Begin("redir");
    PutBe32(w_, NFTA_REDIR_REG_PROTO_MIN, kReg1);
    PutBe32(w_, NFTA_REDIR_FLAGS, kNatRangeProtoSpecified);
    End();
  }
  void Verdict(NftVerdict verdict) {
    Begin("immediate");
    PutBe32(w_, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
    const size_t data = w_.NestBegin(NFTA_IMMEDIATE_DATA | kNested);
    const size_t v = w_.NestBegin(NFTA_DATA_VERDICT | kNested);
    PutBe32(w_, NFTA_VERDICT_CODE, verdict == NftVerdict::kAccept ? NF_ACCEPT : NF_DROP);
    w_.NestEnd(v);
    w_.NestEnd(data);
    End();
  }

 private:
  void Begin(const char* name) {
    elem_ = w_.NestBegin(NFTA_LIST_ELEM | kNested);
    w_.PutString(NFTA_EXPR_NAME, name);
    data_ = w_.NestBegin(NFTA_EXPR_DATA | kNested);
  }
  void End() {
    w_.NestEnd(data_);
    w_.NestEnd(elem_);
  }

  AttrWriter& w_;
  size_t elem_ = 0;
  size_t data_ = 0;
};

core::Status WriteExpressions(AttrWriter& w, const NftRule& rule, NftHook hook) {
  const NftMatch& m = rule.match;
  Expressions e(w);
  if (m.mark) {
    const uint32_t mark = *m.mark;  // host order, as the kernel keeps skb->mark
    e.Meta(NFT_META_MARK);
    e.Cmp(NFT_CMP_EQ, &mark, sizeof(mark));
  }
  if (m.skuid) {
    const uint32_t uid = *m.skuid;  // host order
    e.Meta(NFT_META_SKUID);
    e.Cmp(NFT_CMP_EQ, &uid, sizeof(uid));
  }
  if (!m.ifname.empty()) {
    if (m.ifname.size() >= 16) return core::SysError{EINVAL, "nft", "interface name too long"};
    std::array<char, 16> name{};  // IFNAMSIZ, zero-padded, as `meta oifname "eth0"`
    std::memcpy(name.data(), m.ifname.data(), m.ifname.size());
    e.Meta(hook == NftHook::kOutput ? NFT_META_OIFNAME : NFT_META_IIFNAME);
    e.Cmp(NFT_CMP_EQ, name.data(), name.size());
  }
  if (!m.address.empty()) {
    const bool v4 = m.ip_version == 4;
    if ((v4 && m.address.size() != 4) || (m.ip_version == 6 && m.address.size() != 16) || (m.ip_version != 4 && m.ip_version != 6)) {
      return core::SysError{EINVAL, "nft", "an address needs ip_version 4 (4 bytes) or 6 (16 bytes)"};
    }
    if (m.prefix_len == 0 || m.prefix_len > m.address.size() * 8) return core::SysError{EINVAL, "nft", "bad prefix length"};
  }
  if (m.ip_version == 4 || m.ip_version == 6) {
    const uint8_t nfproto = m.ip_version == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
    e.Meta(NFT_META_NFPROTO);
    e.Cmp(NFT_CMP_EQ, &nfproto, 1);
  }
  if (!m.address.empty()) {
    const bool v4 = m.ip_version == 4;
    const uint32_t offset = v4 ? (m.match_source_address ? 12 : 16) : (m.match_source_address ? 8 : 24);
    // As nft does: a byte-aligned prefix loads just its bytes; any other loads the whole
    // address and masks it (so `nft list` prints it back as addr/len).
    const bool aligned = m.prefix_len % 8 == 0;
    const auto bytes = static_cast<uint32_t>(aligned ? m.prefix_len / 8 : m.address.size());
    e.Payload(NFT_PAYLOAD_NETWORK_HEADER, offset, bytes);
    std::vector<uint8_t> value(m.address.begin(), m.address.begin() + bytes);
    if (!aligned) {
      std::vector<uint8_t> mask(bytes, 0);
      for (uint32_t bit = 0; bit < m.prefix_len; ++bit) mask[bit / 8] = static_cast<uint8_t>(mask[bit / 8] | (0x80 >> (bit % 8)));
      for (uint32_t i = 0; i < bytes; ++i) value[i] &= mask[i];
      e.Bitwise(mask);
    }
    e.Cmp(NFT_CMP_EQ, value.data(), value.size());
  }
  if (m.l4proto != 0) {
    e.Meta(NFT_META_L4PROTO);
    e.Cmp(NFT_CMP_EQ, &m.l4proto, 1);
  }
  if (m.port != 0) {
    if (m.l4proto != IPPROTO_TCP && m.l4proto != IPPROTO_UDP) return core::SysError{EINVAL, "nft", "a port needs tcp or udp"};
    e.Payload(NFT_PAYLOAD_TRANSPORT_HEADER, m.match_source_port ? 0 : 2, 2);
    const uint16_t port = htons(m.port);
    e.Cmp(NFT_CMP_EQ, &port, sizeof(port));
  }
  if (rule.percent == 0 || rule.percent > 100) return core::SysError{EINVAL, "nft", "percent must be 1..100"};
  if (rule.percent < 100) e.RandomBelow(rule.percent);
  if (rule.verdict == NftVerdict::kQueue) {
    e.QueueTarget(rule.queue_num);
  } else if (rule.verdict == NftVerdict::kRedirect) {
    if (rule.redirect_port == 0) return core::SysError{EINVAL, "nft", "redirect needs a port (1..65535)"};
    e.Redirect(rule.redirect_port);
  } else {
    e.Verdict(rule.verdict);
  }
  return core::Ok{};
}

// Sends a batch (begin … end) and waits for the ACK of every message in it.
core::Status SendBatch(core::nl::Socket& socket, const std::function<core::Status(AttrWriter&, uint32_t)>& build, uint32_t messages,
                       const char* syscall) {
  const uint32_t first = socket.ReserveSeqs(messages + 2);
  AttrWriter w(kBatchBytes);
  EndMessage(w, BeginMessage(w, NFNL_MSG_BATCH_BEGIN, 0, first, AF_UNSPEC, NFNL_SUBSYS_NFTABLES));
  if (auto built = build(w, first + 1); !built.ok()) return built;
  EndMessage(w, BeginMessage(w, NFNL_MSG_BATCH_END, 0, first + messages + 1, AF_UNSPEC, NFNL_SUBSYS_NFTABLES));
  if (!w.ok()) return core::SysError{EMSGSIZE, syscall, "batch larger than the builder's bound"};
  if (auto sent = socket.SendBytes(w.bytes()); !sent.ok()) return sent;
  return socket.AwaitAcks(first + 1, first + messages, syscall);
}

}  // namespace

core::Result<std::vector<uint8_t>> EncodeNftExpressions(const NftRule& rule, NftHook hook) noexcept {
  AttrWriter w(8192);
  if (auto written = WriteExpressions(w, rule, hook); !written.ok()) return written.error();
  return w.bytes();
}

namespace {

struct ChainList {
  core::Result<std::vector<std::string>> result;
  [[nodiscard]] std::vector<std::string> value_or_empty() const {
    return result.ok() ? result.value() : std::vector<std::string>{};
  }
};

ChainList ListNftChainsOn(core::nl::Socket& s, const std::string& table) noexcept {
  core::nl::Request request(NftType(NFT_MSG_GETCHAIN), 0);
  request.body().AppendStruct(NfGen(NFPROTO_INET, 0));
  std::vector<std::string> chains;
  const auto dumped = s.Dump(request, "NFT_MSG_GETCHAIN", [&](const core::nl::Reply& reply) {
    if (reply.payload.size() < sizeof(nfgenmsg)) return;
    const auto attrs = core::nl::ParseAttrs(reply.payload.subspan(core::nl::Align(sizeof(nfgenmsg))));
    const auto t = core::nl::FindAttr(attrs, NFTA_CHAIN_TABLE);
    const auto name = core::nl::FindAttr(attrs, NFTA_CHAIN_NAME);
    if (t && name && t->AsString() == table) chains.emplace_back(name->AsString());
  });
  if (!dumped.ok() && dumped.error().err != ENOENT) return ChainList{dumped.error()};
  return ChainList{chains};
}

}  // namespace

core::Status AddNftChain(const NftChainSpec& spec) noexcept {
  auto socket = core::nl::LeaseSocket(NETLINK_NETFILTER);
  if (!socket.ok()) return socket.error();
  core::nl::Socket& s = *socket.value();
  const auto messages = static_cast<uint32_t>(2 + spec.rules.size());
  const auto sent = SendBatch(
      s,
      [&](AttrWriter& w, uint32_t seq) -> core::Status {
        size_t at = BeginMessage(w, NftType(NFT_MSG_NEWTABLE), NLM_F_CREATE | NLM_F_ACK, seq++, NFPROTO_INET);
        w.PutString(NFTA_TABLE_NAME, spec.table);
        PutBe32(w, NFTA_TABLE_FLAGS, 0);
        EndMessage(w, at);
        at = BeginMessage(w, NftType(NFT_MSG_NEWCHAIN), NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq++, NFPROTO_INET);
        w.PutString(NFTA_CHAIN_TABLE, spec.table);
        w.PutString(NFTA_CHAIN_NAME, spec.chain);
        const size_t hook = w.NestBegin(NFTA_CHAIN_HOOK | kNested);
        PutBe32(w, NFTA_HOOK_HOOKNUM, HookNumber(spec.hook));
        PutBe32(w, NFTA_HOOK_PRIORITY, static_cast<uint32_t>(spec.priority));
        w.NestEnd(hook);
        PutBe32(w, NFTA_CHAIN_POLICY, NF_ACCEPT);
        w.PutString(NFTA_CHAIN_TYPE, spec.type == NftChainType::kNat ? "nat" : "filter");
        EndMessage(w, at);
        for (const NftRule& rule : spec.rules) {
          at = BeginMessage(w, NftType(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, seq++, NFPROTO_INET);
          w.PutString(NFTA_RULE_TABLE, spec.table);
          w.PutString(NFTA_RULE_CHAIN, spec.chain);
          const size_t exprs = w.NestBegin(NFTA_RULE_EXPRESSIONS | kNested);
          if (auto written = WriteExpressions(w, rule, spec.hook); !written.ok()) return written;
          w.NestEnd(exprs);
          EndMessage(w, at);
        }
        return core::Ok{};
      },
      messages, "NFT_MSG_NEWRULE");
  if (!sent.ok()) return sent;
  // Every message was acknowledged; make sure the transaction was committed too.
  const auto chains = ListNftChainsOn(s, spec.table).value_or_empty();
  if (std::find(chains.begin(), chains.end(), spec.chain) == chains.end()) {
    return core::SysError{EIO, "NFT_MSG_NEWCHAIN", "the batch was acknowledged but the chain is not there"};
  }
  return core::Ok{};
}

core::Result<std::vector<std::string>> ListNftChains(const std::string& table) noexcept {
  auto socket = core::nl::LeaseSocket(NETLINK_NETFILTER);
  if (!socket.ok()) return socket.error();
  return ListNftChainsOn(*socket.value(), table).result;
}

namespace {

// `nft delete table inet <table>` only if it has no chain (NLM_F_NONREC: EBUSY otherwise).
core::Status DeleteEmptyTable(core::nl::Socket& s, const std::string& table) noexcept {
  const auto deleted = SendBatch(
      s,
      [&](AttrWriter& w, uint32_t seq) -> core::Status {
        const size_t at = BeginMessage(w, NftType(NFT_MSG_DELTABLE), NLM_F_ACK | NLM_F_NONREC, seq, NFPROTO_INET);
        w.PutString(NFTA_TABLE_NAME, table);
        EndMessage(w, at);
        return core::Ok{};
      },
      1, "NFT_MSG_DELTABLE");
  if (!deleted.ok() && deleted.error().err != ENOENT && deleted.error().err != EBUSY) return deleted;
  return core::Ok{};
}

}  // namespace

core::Result<bool> DeleteNftChain(const std::string& table, const std::string& chain) noexcept {
  auto socket = core::nl::LeaseSocket(NETLINK_NETFILTER);
  if (!socket.ok()) return socket.error();
  core::nl::Socket& s = *socket.value();
  const auto before = ListNftChainsOn(s, table);
  if (!before.result.ok()) return before.result.error();
  const auto& chains = before.result.value();
  if (std::find(chains.begin(), chains.end(), chain) == chains.end()) {
    // Already gone (e.g. deleted by hand); an empty table left behind goes too.
    if (chains.empty()) (void)DeleteEmptyTable(s, table);
    return false;
  }
  // The table goes in the same transaction when this is its last chain (one commit instead of
  // two). A plain DELTABLE would flush every chain in it, another fault's included, so it is
  // sent with NLM_F_NONREC: if a chain was added since the listing, the kernel answers EBUSY and
  // the whole batch is rolled back; then only the chain is deleted.
  const auto send = [&](bool with_table) {
    return SendBatch(
        s,
        [&](AttrWriter& w, uint32_t seq) -> core::Status {
          size_t at = BeginMessage(w, NftType(NFT_MSG_DELRULE), NLM_F_ACK, seq++, NFPROTO_INET);
          w.PutString(NFTA_RULE_TABLE, table);
          w.PutString(NFTA_RULE_CHAIN, chain);
          EndMessage(w, at);
          at = BeginMessage(w, NftType(NFT_MSG_DELCHAIN), NLM_F_ACK, seq++, NFPROTO_INET);
          w.PutString(NFTA_CHAIN_TABLE, table);
          w.PutString(NFTA_CHAIN_NAME, chain);
          EndMessage(w, at);
          if (with_table) {
            at = BeginMessage(w, NftType(NFT_MSG_DELTABLE), NLM_F_ACK | NLM_F_NONREC, seq, NFPROTO_INET);
            w.PutString(NFTA_TABLE_NAME, table);
            EndMessage(w, at);
          }
          return core::Ok{};
        },
        with_table ? 3 : 2, "NFT_MSG_DELCHAIN");
  };
  auto deleted = send(chains.size() == 1);
  if (!deleted.ok() && deleted.error().err == EBUSY && chains.size() == 1) deleted = send(false);
  if (!deleted.ok() && deleted.error().err != ENOENT) return deleted.error();
  return deleted.ok();
}

}  // namespace faultd::inj
