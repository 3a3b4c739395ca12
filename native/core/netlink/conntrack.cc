// SPDX-License-Identifier: Apache-2.0
#include "conntrack.h"

#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace faultd::core::nl {
namespace {

constexpr uint16_t kNested = NLA_F_NESTED;

uint16_t CtType(uint8_t msg) { return static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | msg); }

nfgenmsg NfGen(uint8_t family) {
  nfgenmsg g{};
  g.nfgen_family = family;
  g.version = NFNETLINK_V0;
  g.res_id = 0;
  return g;
}

void PutBe16(AttrWriter& w, uint16_t type, uint16_t value) {
  const uint16_t be = htons(value);
  w.Put(type, &be, sizeof(be));
}

std::optional<uint16_t> Be16(const std::vector<Attr>& attrs, uint16_t type) {
  const auto a = FindAttr(attrs, type);
  if (!a) return std::nullopt;
  const auto v = a->As<uint16_t>();
  return v ? std::optional<uint16_t>(ntohs(*v)) : std::nullopt;
}

}  // namespace

Request CtDumpRequest(uint8_t family) noexcept {
  Request request(CtType(IPCTNL_MSG_CT_GET), NLM_F_DUMP);
  request.body().AppendStruct(NfGen(family));
  return request;
}

Request CtDeleteRequest(const CtTuple& orig) noexcept {
  Request request(CtType(IPCTNL_MSG_CT_DELETE), NLM_F_ACK);
  AttrWriter& w = request.body();
  w.AppendStruct(NfGen(orig.family));
  const size_t tuple = w.NestBegin(CTA_TUPLE_ORIG | kNested);
  const size_t ip = w.NestBegin(CTA_TUPLE_IP | kNested);
  const bool v4 = orig.family == AF_INET;
  w.Put(v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, orig.src.data(), orig.src.size());
  w.Put(v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, orig.dst.data(), orig.dst.size());
  w.NestEnd(ip);
  const size_t proto = w.NestBegin(CTA_TUPLE_PROTO | kNested);
  w.Put(CTA_PROTO_NUM, &orig.l4proto, 1);
  PutBe16(w, CTA_PROTO_SRC_PORT, orig.src_port);
  PutBe16(w, CTA_PROTO_DST_PORT, orig.dst_port);
  w.NestEnd(proto);
  w.NestEnd(tuple);
  return request;
}

std::optional<CtTuple> ParseCtOriginal(std::span<const uint8_t> payload) noexcept {
  if (payload.size() < sizeof(nfgenmsg)) return std::nullopt;
  CtTuple t;
  t.family = payload[0];
  const auto attrs = ParseAttrs(payload.subspan(Align(sizeof(nfgenmsg))));
  const auto orig = FindAttr(attrs, CTA_TUPLE_ORIG);
  if (!orig) return std::nullopt;
  const auto parts = ParseAttrs(orig->payload);
  const auto ip = FindAttr(parts, CTA_TUPLE_IP);
  const auto proto = FindAttr(parts, CTA_TUPLE_PROTO);
  if (!ip || !proto) return std::nullopt;
  const auto ips = ParseAttrs(ip->payload);
  const bool v4 = t.family == AF_INET;
  const auto src = FindAttr(ips, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC);
  const auto dst = FindAttr(ips, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST);
  const size_t len = v4 ? 4 : 16;
  if (!src || !dst || src->payload.size() != len || dst->payload.size() != len) return std::nullopt;
  t.src.assign(src->payload.begin(), src->payload.end());
  t.dst.assign(dst->payload.begin(), dst->payload.end());
  const auto protos = ParseAttrs(proto->payload);
  const auto num = FindAttr(protos, CTA_PROTO_NUM);
  if (!num || num->payload.empty()) return std::nullopt;
  t.l4proto = num->payload[0];
  t.src_port = Be16(protos, CTA_PROTO_SRC_PORT).value_or(0);
  t.dst_port = Be16(protos, CTA_PROTO_DST_PORT).value_or(0);
  return t;
}

bool CtFlowMatches(const CtFlowFilter& filter, const CtTuple& tuple) noexcept {
  return tuple.l4proto == filter.l4proto && tuple.dst_port == filter.dst_port &&
         std::find(filter.dsts.begin(), filter.dsts.end(), tuple.dst) != filter.dsts.end();
}

Result<uint32_t> DeleteCtFlows(const CtFlowFilter& filter) noexcept {
  auto socket = LeaseSocket(NETLINK_NETFILTER);
  if (!socket.ok()) return socket.error();
  Socket& s = *socket.value();
  uint32_t deleted = 0;
  for (const uint8_t family : {static_cast<uint8_t>(AF_INET), static_cast<uint8_t>(AF_INET6)}) {
    const size_t len = family == AF_INET ? 4 : 16;
    if (std::none_of(filter.dsts.begin(), filter.dsts.end(), [&](const auto& d) { return d.size() == len; })) continue;
    std::vector<CtTuple> matching;
    Request dump = CtDumpRequest(family);
    const auto dumped = s.Dump(dump, "IPCTNL_MSG_CT_GET", [&](const Reply& reply) {
      auto tuple = ParseCtOriginal(reply.payload);
      if (tuple && tuple->family == family && CtFlowMatches(filter, *tuple)) matching.push_back(std::move(*tuple));
    });
    if (!dumped.ok()) return dumped.error();
    for (const CtTuple& tuple : matching) {
      Request request = CtDeleteRequest(tuple);
      const auto done = s.Transact(request, "IPCTNL_MSG_CT_DELETE");
      if (done.ok()) ++deleted;
      else if (done.error().err != ENOENT) return done.error();  // ENOENT: expired meanwhile
    }
  }
  return deleted;
}

}  // namespace faultd::core::nl
