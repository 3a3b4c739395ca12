// SPDX-License-Identifier: Apache-2.0
#include "qdisc.h"

#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <cerrno>
#include <cstring>

#include "socket.h"

namespace faultd::core::nl {
namespace {

tcmsg TcHeader(int ifindex, uint32_t parent, uint32_t handle) noexcept {
  tcmsg tc{};
  tc.tcm_family = AF_UNSPEC;
  tc.tcm_ifindex = ifindex;
  tc.tcm_parent = parent;
  tc.tcm_handle = handle;
  return tc;
}

}  // namespace

Result<int> InterfaceIndex(const std::string& name) noexcept {
  if (name.empty() || name.size() >= IF_NAMESIZE) return SysError{EINVAL, "RTM_GETLINK", "bad interface name"};
  // RTM_GETLINK on the shared socket rather than if_nametoindex, which opens and closes a socket
  // per call (most of a qdisc change's cost).
  auto socket = LeaseSocket(NETLINK_ROUTE);
  if (!socket.ok()) return socket.error();
  Request request(RTM_GETLINK, 0);
  ifinfomsg link{};
  link.ifi_family = AF_UNSPEC;
  request.body().AppendStruct(link);
  request.body().PutString(IFLA_IFNAME, name);
  int index = 0;
  const auto got = (*socket.value()).Query(request, "RTM_GETLINK", [&](const Reply& reply) {
    if (reply.type != RTM_NEWLINK || reply.payload.size() < sizeof(ifinfomsg)) return;
    ifinfomsg found{};
    std::memcpy(&found, reply.payload.data(), sizeof(found));
    index = found.ifi_index;
  });
  if (!got.ok()) {
    SysError error = got.error();
    if (error.err == ENODEV && error.detail.empty()) error.detail = "no interface \"" + name + "\"";
    return error;
  }
  if (index <= 0) return SysError{ENODEV, "RTM_GETLINK", "no interface \"" + name + "\""};
  return index;
}

namespace {

// Dumps the qdiscs, classes or filters (`get`) of `ifindex` (below `parent` for filters).
Result<std::vector<TcObject>> DumpTc(uint16_t get, uint16_t reply_type, const char* syscall, int ifindex, uint32_t parent) noexcept {
  auto socket = LeaseSocket(NETLINK_ROUTE);
  if (!socket.ok()) return socket.error();
  Request request(get, 0);
  request.body().AppendStruct(TcHeader(ifindex, parent, 0));
  std::vector<TcObject> objects;
  const auto dumped = (*socket.value()).Dump(request, syscall, [&](const Reply& reply) {
    if (reply.type != reply_type || reply.payload.size() < sizeof(tcmsg)) return;
    tcmsg tc{};
    std::memcpy(&tc, reply.payload.data(), sizeof(tc));
    if (tc.tcm_ifindex != ifindex) return;  // old kernels ignore the ifindex filter
    TcObject object;
    object.handle = tc.tcm_handle;
    object.parent = tc.tcm_parent;
    object.info = tc.tcm_info;
    const auto attrs = ParseAttrs(reply.payload.subspan(Align(sizeof(tcmsg))));
    if (const auto kind = FindAttr(attrs, TCA_KIND)) object.kind = std::string(kind->AsString());
    if (const auto chain = FindAttr(attrs, TCA_CHAIN)) object.chain = chain->As<uint32_t>().value_or(0);
    if (const auto options = FindAttr(attrs, TCA_OPTIONS)) {
      // Re-create the attribute (header + payload) so it can be sent back unchanged.
      AttrWriter w(UINT16_MAX);
      w.Put(TCA_OPTIONS, options->payload.data(), options->payload.size());
      object.options = w.bytes();
    }
    objects.push_back(std::move(object));
  });
  if (!dumped.ok()) return dumped.error();
  return objects;
}

}  // namespace

Result<std::vector<QdiscInfo>> ListQdiscs(int ifindex) noexcept {
  return DumpTc(RTM_GETQDISC, RTM_NEWQDISC, "RTM_GETQDISC", ifindex, 0);
}

Result<std::vector<TcObject>> ListClasses(int ifindex) noexcept {
  return DumpTc(RTM_GETTCLASS, RTM_NEWTCLASS, "RTM_GETTCLASS", ifindex, 0);
}

Result<std::vector<TcObject>> ListFilters(int ifindex, uint32_t parent) noexcept {
  return DumpTc(RTM_GETTFILTER, RTM_NEWTFILTER, "RTM_GETTFILTER", ifindex, parent);
}

Status ReplaceQdisc(int ifindex, uint32_t parent, uint32_t handle, const std::string& kind,
                    std::span<const uint8_t> options_attr, bool exclusive) noexcept {
  auto socket = LeaseSocket(NETLINK_ROUTE);
  if (!socket.ok()) return socket.error();
  const uint16_t flags = static_cast<uint16_t>(NLM_F_CREATE | (exclusive ? NLM_F_EXCL : NLM_F_REPLACE));
  Request request(RTM_NEWQDISC, flags);
  request.body().AppendStruct(TcHeader(ifindex, parent, handle));
  request.body().PutString(TCA_KIND, kind);
  if (!options_attr.empty()) request.body().AppendRaw(options_attr.data(), options_attr.size());
  return (*socket.value()).Transact(request, "RTM_NEWQDISC");
}

Status ReplaceClass(int ifindex, uint32_t parent, uint32_t classid, const std::string& kind,
                    std::span<const uint8_t> options_attr) noexcept {
  auto socket = LeaseSocket(NETLINK_ROUTE);
  if (!socket.ok()) return socket.error();
  Request request(RTM_NEWTCLASS, NLM_F_CREATE | NLM_F_REPLACE);
  request.body().AppendStruct(TcHeader(ifindex, parent, classid));
  request.body().PutString(TCA_KIND, kind);
  if (!options_attr.empty()) request.body().AppendRaw(options_attr.data(), options_attr.size());
  return (*socket.value()).Transact(request, "RTM_NEWTCLASS");
}

Status AddFilter(int ifindex, uint32_t parent, uint16_t prio, uint16_t protocol, const std::string& kind,
                 std::span<const uint8_t> options_attr, uint32_t handle) noexcept {
  auto socket = LeaseSocket(NETLINK_ROUTE);
  if (!socket.ok()) return socket.error();
  Request request(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL);
  tcmsg tc = TcHeader(ifindex, parent, handle);
  tc.tcm_info = (static_cast<uint32_t>(prio) << 16) | htons(protocol);
  request.body().AppendStruct(tc);
  request.body().PutString(TCA_KIND, kind);
  if (!options_attr.empty()) request.body().AppendRaw(options_attr.data(), options_attr.size());
  return (*socket.value()).Transact(request, "RTM_NEWTFILTER");
}

Status DeleteQdisc(int ifindex, uint32_t parent, uint32_t handle) noexcept {
  auto socket = LeaseSocket(NETLINK_ROUTE);
  if (!socket.ok()) return socket.error();
  Request request(RTM_DELQDISC, 0);
  request.body().AppendStruct(TcHeader(ifindex, parent, handle));
  return (*socket.value()).Transact(request, "RTM_DELQDISC");
}

}  // namespace faultd::core::nl
