// SPDX-License-Identifier: Apache-2.0
// Mode `dns`: the DNS interceptor (injectors/dns_interceptor.h) that faultd's nat chain
// redirects DNS traffic to. Listens on loopback, one port per intercepted nameserver
// (`--server`, in order), prints {"event":"listening","port":P1,"ports":[P1,P2,...]} and then
// {"event":"ready"}, answers or drops the queries its policy targets, forwards the rest (to the
// server each query was sent to, or to `--upstream` when given) with its sockets marked, and
// prints {"event":"stats",...} each second. Without `--server`, the one server is `--upstream`.
//   faultd-stressor dns [--server=ADDR]... [--upstream=ADDR] [--upstream-port=53] --mark=N
//     --action=nxdomain|servfail|refused|timeout|spoof [--percentage=P] [--match=exact|substring]
//     [--name=NAME]... [--spare=NAME]... [--spoof=NAME=ADDR]... [--ttl=S]
#include <arpa/inet.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../core/dns/message.h"
#include "../injectors/dns_interceptor.h"
#include "events.h"
#include "lifecycle.h"
#include "mode.h"

namespace faultd::stressor {
namespace {

struct DnsOptions : ModeOptions {
  std::vector<std::string> servers;
  std::string upstream;
  uint16_t upstream_port = 53;
  uint32_t mark = 0;
  std::string action;
  std::string match = "exact";
  inj::DnsPolicy policy;
  std::vector<std::string> spoof_args;
};

// An IPv4 or IPv6 literal into network-order bytes; false if it is neither.
bool ParseAddress(const std::string& text, std::vector<uint8_t>* bytes) {
  in6_addr v6{};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    const auto* b = reinterpret_cast<const uint8_t*>(&v4);
    bytes->assign(b, b + 4);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    bytes->assign(v6.s6_addr, v6.s6_addr + 16);
    return true;
  }
  return false;
}

std::string TakeName(const Arg& arg, std::vector<std::string>* out) {
  std::string name;
  if (auto why = TakeText(arg, &name); !why.empty()) return why;
  name = core::dns::CanonicalName(name);
  if (name.empty() || name.size() > 253) return Cat({arg.text, ": a DNS name of 1..253 characters"});
  out->push_back(name);
  return {};
}

std::string Parse(const Arg& arg, DnsOptions& o) {
  if (arg.key == "--server") {
    std::string text;
    if (auto why = TakeText(arg, &text); !why.empty()) return why;
    o.servers.push_back(text);
    return {};
  }
  if (arg.key == "--upstream") return TakeText(arg, &o.upstream);
  if (arg.key == "--upstream-port") return TakeNumber(arg, &o.upstream_port);
  if (arg.key == "--mark") return TakeNumber(arg, &o.mark);
  if (arg.key == "--action") return TakeText(arg, &o.action);
  if (arg.key == "--match") return TakeText(arg, &o.match);
  if (arg.key == "--percentage") return TakeNumber(arg, &o.policy.percentage);
  if (arg.key == "--ttl") return TakeNumber(arg, &o.policy.spoof_ttl_s);
  if (arg.key == "--name") return TakeName(arg, &o.policy.names);
  if (arg.key == "--spare") return TakeName(arg, &o.policy.spared);
  if (arg.key == "--spoof") {
    std::string text;
    if (auto why = TakeText(arg, &text); !why.empty()) return why;
    o.spoof_args.push_back(text);
    return {};
  }
  return NotAnOption("dns", arg);
}

std::string Validate(const DnsOptions& o) {
  std::vector<uint8_t> bytes;
  if (o.servers.empty() && o.upstream.empty()) return "--server or --upstream is required (an IPv4 or IPv6 address)";
  if (!o.upstream.empty() && !ParseAddress(o.upstream, &bytes)) return Cat({"--upstream must be an IPv4 or IPv6 address (got '", o.upstream, "')"});
  if (o.servers.size() > inj::kMaxRoutes) return Cat({"--server: at most ", FormatNumber(inj::kMaxRoutes), " servers"});
  for (const std::string& server : o.servers) {
    if (!ParseAddress(server, &bytes)) return Cat({"--server must be an IPv4 or IPv6 address (got '", server, "')"});
  }
  if (o.upstream_port == 0) return "--upstream-port must be 1..65535 (got 0)";
  if (o.mark == 0) return "--mark is required (1..4294967295): the interceptor's upstream sockets must be told from clients";
  if (o.action != "nxdomain" && o.action != "servfail" && o.action != "refused" && o.action != "timeout" && o.action != "spoof") {
    return Cat({"--action must be nxdomain, servfail, refused, timeout or spoof (got '", o.action, "')"});
  }
  if (o.match != "exact" && o.match != "substring") return Cat({"--match must be exact or substring (got '", o.match, "')"});
  if (auto why = CheckRange("--percentage", o.policy.percentage, 0.0, 100.0); !why.empty()) return why;
  if (o.action == "spoof" && o.spoof_args.empty()) return "--action=spoof needs at least one --spoof=NAME=ADDR";
  for (const std::string& s : o.spoof_args) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || !ParseAddress(s.substr(eq + 1), &bytes)) {
      return Cat({"--spoof=", s, ": expected NAME=ADDR with an IPv4 or IPv6 address"});
    }
  }
  return {};
}

void EmitStats(const inj::DnsStats& s) {
  std::printf("{\"event\":\"stats\",\"queries\":%llu,\"answered\":%llu,\"dropped\":%llu,\"forwarded\":%llu,\"replies\":%llu,\"upstreamErrors\":%llu,\"acceptPauses\":%llu,\"tcpOverBudget\":%llu}\n",
              static_cast<unsigned long long>(s.queries), static_cast<unsigned long long>(s.answered),
              static_cast<unsigned long long>(s.dropped), static_cast<unsigned long long>(s.forwarded),
              static_cast<unsigned long long>(s.replies), static_cast<unsigned long long>(s.upstream_errors),
              static_cast<unsigned long long>(s.accept_pauses), static_cast<unsigned long long>(s.tcp_over_budget));
  std::fflush(stdout);
}

inj::DnsAction ActionOf(const std::string& action) {
  if (action == "servfail") return inj::DnsAction::kServFail;
  if (action == "refused") return inj::DnsAction::kRefused;
  if (action == "timeout") return inj::DnsAction::kTimeout;
  if (action == "spoof") return inj::DnsAction::kSpoof;
  return inj::DnsAction::kNxDomain;
}

// `text` (a validated address literal) and `port` as a socket address.
socklen_t SocketAddress(const std::string& text, uint16_t port, sockaddr_storage* out) {
  std::vector<uint8_t> bytes;
  ParseAddress(text, &bytes);
  if (bytes.size() == 4) {
    auto* a = reinterpret_cast<sockaddr_in*>(out);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    std::memcpy(&a->sin_addr, bytes.data(), 4);
    return sizeof(*a);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(out);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  std::memcpy(&a->sin6_addr, bytes.data(), 16);
  return sizeof(*a);
}

int Run(const DnsOptions& o, const sigset_t& stop_signals) {
  inj::DnsInterceptorSpec spec;
  std::vector<uint8_t> bytes;
  for (const std::string& server : o.servers.empty() ? std::vector<std::string>{o.upstream} : o.servers) {
    inj::DnsRoute route;
    route.server_len = SocketAddress(server, o.upstream_port, &route.server);
    route.upstream_len = SocketAddress(o.upstream.empty() ? server : o.upstream, o.upstream_port, &route.upstream);
    spec.routes.push_back(route);
  }
  spec.mark = o.mark;
  inj::DnsPolicy policy = o.policy;
  policy.action = ActionOf(o.action);
  policy.substring = o.match == "substring";
  for (const std::string& s : o.spoof_args) {
    const size_t eq = s.find('=');
    ParseAddress(s.substr(eq + 1), &bytes);
    policy.spoof[core::dns::CanonicalName(s.substr(0, eq))].push_back(bytes);
  }
  auto bound = inj::DnsInterceptor::Bind(spec);
  if (!bound.ok()) return EmitError(bound.error()), kExitFailed;
  inj::DnsInterceptor interceptor = std::move(bound).value();
  std::string ports;
  for (const uint16_t port : interceptor.ports()) ports += Cat({ports.empty() ? "" : ",", FormatNumber(port)});
  EmitLine(Cat({R"({"event":"listening","port":)", FormatNumber(interceptor.ports().front()), R"(,"ports":[)", ports, "]}"}));
  std::random_device entropy;
  std::mt19937_64 rng((static_cast<uint64_t>(entropy()) << 32) | entropy());
  std::uniform_real_distribution<double> pct(0.0, 100.0);
  const std::function<double()> draw = [&] { return pct(rng); };
  EmitReady();
  const auto ran = interceptor.Run(policy, stop_signals, draw, EmitStats);
  if (!ran.ok()) return EmitError(ran.error()), kExitFailed;
  return kExitStopped;
}

}  // namespace

constinit const ModeInfo kDnsMode = DefineMode<DnsOptions, Parse, Validate, Run>(
    "dns",
    "[--server=ADDR]... [--upstream=ADDR] [--upstream-port=53] --mark=N --action=nxdomain|servfail|refused|timeout|spoof "
    "[--percentage=P] [--match=exact|substring] [--name=NAME]... [--spare=NAME]... [--spoof=NAME=ADDR]... [--ttl=S]",
    Lifecycle::kLoad);

}  // namespace faultd::stressor
