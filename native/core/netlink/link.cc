// SPDX-License-Identifier: Apache-2.0
#include "link.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cerrno>

#include "qdisc.h"
#include "socket.h"

namespace faultd::core::nl {
namespace {

ifinfomsg LinkHeader(int index = 0) {
  ifinfomsg link{};
  link.ifi_family = AF_UNSPEC;
  link.ifi_index = index;
  return link;
}

Status CheckName(const std::string& name, const char* syscall) {
  if (name.empty() || name.size() >= IF_NAMESIZE) return SysError{EINVAL, syscall, "bad interface name \"" + name + "\""};
  return Ok{};
}

}  // namespace

Status AddLink(const std::string& name, const std::string& kind) noexcept {
  if (auto valid = CheckName(name, "RTM_NEWLINK"); !valid.ok()) return valid;
  auto socket = LeaseSocket(NETLINK_ROUTE);
  if (!socket.ok()) return socket.error();
  Request request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  request.body().AppendStruct(LinkHeader());
  request.body().PutString(IFLA_IFNAME, name);
  const size_t info = request.body().NestBegin(IFLA_LINKINFO);
  // As iproute2 sends it: the kind without its NUL.
  request.body().Put(IFLA_INFO_KIND, kind.data(), kind.size());
  request.body().NestEnd(info);
  return (*socket.value()).Transact(request, "RTM_NEWLINK");
}

Status SetLinkUp(const std::string& name) noexcept {
  const auto index = InterfaceIndex(name);
  if (!index.ok()) return index.error();
  auto socket = LeaseSocket(NETLINK_ROUTE);
  if (!socket.ok()) return socket.error();
  Request request(RTM_NEWLINK, 0);
  ifinfomsg link = LinkHeader(index.value());
  link.ifi_flags = IFF_UP;
  link.ifi_change = IFF_UP;
  request.body().AppendStruct(link);
  return (*socket.value()).Transact(request, "RTM_NEWLINK");
}

Result<bool> DeleteLink(const std::string& name) noexcept {
  if (auto valid = CheckName(name, "RTM_DELLINK"); !valid.ok()) return valid.error();
  auto socket = LeaseSocket(NETLINK_ROUTE);
  if (!socket.ok()) return socket.error();
  Request request(RTM_DELLINK, 0);
  request.body().AppendStruct(LinkHeader());
  request.body().PutString(IFLA_IFNAME, name);
  const auto deleted = (*socket.value()).Transact(request, "RTM_DELLINK");
  if (deleted.ok()) return true;
  if (deleted.error().err == ENODEV) return false;
  return deleted.error();
}

}  // namespace faultd::core::nl
