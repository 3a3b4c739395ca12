// SPDX-License-Identifier: Apache-2.0
// The DNS interceptor: the local server that faultd's nf_tables nat chain redirects DNS traffic
// to (`redirect to :PORT`). It listens on UDP and TCP on loopback (127.0.0.1, or ::1 for an
// IPv6 upstream), answers or drops what its DnsPolicy targets and forwards everything else
// unchanged to the upstream server: UDP with a transaction id of its own per forwarded query
// (mapped back to the client's), TCP over one upstream connection per client connection, whole
// length-prefixed messages each way. Its upstream sockets carry `mark` (SO_MARK), which the
// chain accepts before redirecting, so its own queries are never sent back to it.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>

#include "../core/sys_result.h"
#include "../core/unique_fd.h"
#include "dns_policy.h"

namespace faultd::inj {

struct DnsInterceptorSpec {
  sockaddr_storage upstream{};
  socklen_t upstream_len = 0;
  uint32_t mark = 0;
  /// Port to listen on; 0 picks a free one (the same number for UDP and TCP).
  uint16_t port = 0;
};

struct DnsStats {
  uint64_t queries = 0;    // DNS messages received from clients (UDP and TCP)
  uint64_t answered = 0;   // answered by the interceptor (policy)
  uint64_t dropped = 0;    // dropped by the policy (timeout)
  uint64_t forwarded = 0;  // sent on to the upstream
  uint64_t replies = 0;    // upstream answers passed back
  uint64_t upstream_errors = 0;  // upstream send/connect failures, expired UDP forwards
};

class DnsInterceptor {
 public:
  /// Binds the UDP and TCP listeners on loopback (family of the upstream).
  static core::Result<DnsInterceptor> Bind(const DnsInterceptorSpec& spec) noexcept;

  [[nodiscard]] uint16_t port() const noexcept { return port_; }

  /// Serves until one of `stop_signals` arrives. `draw_pct` gives uniform numbers in [0, 100);
  /// `on_tick` is called about once a second.
  core::Status Run(const DnsPolicy& policy, const sigset_t& stop_signals, const std::function<double()>& draw_pct,
                   const std::function<void(const DnsStats&)>& on_tick) noexcept;

 private:
  DnsInterceptor(DnsInterceptorSpec spec, core::UniqueFd udp, core::UniqueFd tcp, uint16_t port) noexcept
      : spec_(spec), udp_(std::move(udp)), tcp_(std::move(tcp)), port_(port) {}

  DnsInterceptorSpec spec_;
  core::UniqueFd udp_;
  core::UniqueFd tcp_;
  uint16_t port_;
};

}  // namespace faultd::inj
