// SPDX-License-Identifier: Apache-2.0
// The DNS interceptor: the local server that faultd's nf_tables nat chain redirects DNS traffic
// to (`redirect to :PORT`). It answers or drops what its DnsPolicy targets and forwards
// everything else unchanged: UDP with a transaction id of its own per forwarded query (mapped
// back to the client's), TCP over one upstream connection per client connection, whole
// length-prefixed messages each way. Its upstream sockets carry `mark` (SO_MARK), which the
// chain accepts before redirecting, so its own queries are never sent back to it.
//
// Where a forwarded query goes: one route per intercepted nameserver, each with its own UDP+TCP
// port pair on loopback (127.0.0.1, or ::1 for an IPv6 server); the chain redirects the traffic
// to nameserver i to port i, so the port a query arrives on says where it was sent, and it is
// forwarded to that server (or to one explicit upstream for every route, Harness's
// `upstreamServer`). Chosen over asking the kernel per datagram: a UDP socket behind a nat
// redirect sees only the rewritten destination (IP_ORIGDSTADDR gives 127.0.0.1:port), so the
// original one would take a conntrack lookup over ctnetlink (IPCTNL_MSG_CT_GET by the reply
// tuple) per query — a netlink round trip on every forward, and a dependency on
// nf_conntrack_netlink — while the set of servers is known when the fault starts (resolv.conf)
// and small (bounded by kMaxRoutes). The port mapping costs nothing per query, works the same
// for TCP (where SO_ORIGINAL_DST would also do), and cannot race a conntrack entry's expiry.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "../core/sys_result.h"
#include "../core/unique_fd.h"
#include "dns_policy.h"

namespace faultd::inj {

/// One intercepted nameserver: the chain redirects its traffic to the route's port.
struct DnsRoute {
  /// The nameserver as the host's queries address it (its family picks the loopback listener).
  sockaddr_storage server{};
  socklen_t server_len = 0;
  /// Where unmatched queries that arrive on this route are forwarded (the server itself, or an
  /// explicit upstream).
  sockaddr_storage upstream{};
  socklen_t upstream_len = 0;
};

/// Most routes one interceptor serves (resolv.conf has at most 3, systemd-resolved a few more).
inline constexpr size_t kMaxRoutes = 16;

struct DnsInterceptorSpec {
  std::vector<DnsRoute> routes;
  uint32_t mark = 0;
};

struct DnsStats {
  uint64_t queries = 0;    // DNS messages received from clients (UDP and TCP)
  uint64_t answered = 0;   // answered by the interceptor (policy)
  uint64_t dropped = 0;    // dropped by the policy (timeout)
  uint64_t forwarded = 0;  // sent on to the upstream
  uint64_t replies = 0;    // upstream answers passed back
  uint64_t upstream_errors = 0;  // upstream send/connect failures, expired UDP forwards
  uint64_t accept_pauses = 0;    // times accepting TCP stopped for lack of file descriptors
  uint64_t tcp_over_budget = 0;  // TCP connections closed for holding too many bytes
};

class DnsInterceptor {
 public:
  /// Binds one UDP and TCP listener pair per route on loopback (a free port, the same number for
  /// both; the family of the route's server), and sets up each route's upstream UDP socket
  /// (marked, connected), so that a failure (no route to the upstream, SO_MARK without
  /// CAP_NET_ADMIN) is reported before the interceptor says it is ready, naming the upstream.
  static core::Result<DnsInterceptor> Bind(const DnsInterceptorSpec& spec) noexcept;

  /// The listening port of each route, in the order of spec.routes.
  [[nodiscard]] std::vector<uint16_t> ports() const;

  /// Serves until one of `stop_signals` arrives. `draw_pct` gives uniform numbers in [0, 100);
  /// `on_tick` is called about once a second.
  core::Status Run(const DnsPolicy& policy, const sigset_t& stop_signals, const std::function<double()>& draw_pct,
                   const std::function<void(const DnsStats&)>& on_tick) noexcept;

  /// A route's sockets: its two listeners and its connected upstream UDP socket.
  struct Listeners {
    core::UniqueFd udp;
    core::UniqueFd tcp;
    uint16_t port = 0;
    core::UniqueFd upstream_udp;
  };

 private:
  DnsInterceptor(DnsInterceptorSpec spec, std::vector<Listeners> listeners) noexcept
      : spec_(std::move(spec)), listeners_(std::move(listeners)) {}

  DnsInterceptorSpec spec_;
  std::vector<Listeners> listeners_;
};

}  // namespace faultd::inj
