// SPDX-License-Identifier: Apache-2.0
// Mode `http`: the HTTP interceptor (injectors/http_interceptor.h) that faultd's nat chain
// redirects a service's HTTP traffic to. Listens on the IPv4+IPv6 wildcard, prints
// {"event":"listening","port":P} and then {"event":"ready"}, blocks, delays or rewrites the
// requests its policy targets, passes the rest through byte for byte to each connection's
// original destination (or --upstream) with its sockets marked, and prints {"event":"stats",...}
// each second. SIGTERM: stops accepting, finishes the exchanges in flight for up to --grace-ms.
//   faultd-stressor http --mark=N [--port=P] [--threads=T] --action=block|latency|status|body|header
//     [--status=CODE] [--body=TEXT] [--latency-ms=MS] [--direction=request|response|both]
//     [--set-header=NAME:VALUE]... [--remove-header=NAME]... [--path=PREFIX] [--method=METHOD]...
//     [--match-header=NAME:VALUE]... [--query=KEY=VALUE]... [--source=ADDR[/LEN]]...
//     [--percentage=P] [--upstream=ADDR:PORT] [--grace-ms=MS] [--idle-timeout-ms=MS]
//     [--tls-cert=PEM --tls-key=PEM [--upstream-ca=PEM]]
// With --tls-cert/--tls-key it terminates TLS with that certificate (ALPN h2 or http/1.1, the one
// the upstream agrees to) and speaks TLS to the upstream, verified against --upstream-ca if given.
// A client that opens with the HTTP/2 preface (prior knowledge), or agrees on h2, is bridged
// stream by stream (core/http/h2_bridge.h). Unreadable files or a key that does not match the
// certificate: an error line before "ready".
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../injectors/http_interceptor.h"
#include "../injectors/http_tls.h"
#include "events.h"
#include "mode.h"

namespace faultd::stressor {
namespace {

struct HttpOptions : ModeOptions {
  uint32_t mark = 0;
  uint16_t port = 0;
  bool has_threads = false;
  int threads = 2;  // without --threads: min(2, online CPUs)
  std::string action;
  std::string direction;
  bool has_status = false;
  int status = 404;
  bool has_latency = false;
  uint32_t latency_ms = 0;
  std::string upstream;
  uint32_t grace_ms = 2000;
  uint32_t idle_timeout_ms = 60'000;
  std::string tls_cert;
  std::string tls_key;
  std::string upstream_ca;
  inj::HttpPolicy policy;
};

bool IsToken(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == '\0') return false;
  }
  return true;
}

bool IsFieldValue(std::string_view text) {
  for (char c : text) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// "NAME:VALUE" into a header (value trimmed of surrounding spaces).
std::string TakeHeader(const Arg& arg, std::vector<inj::HttpHeader>* out) {
  std::string text;
  if (auto why = TakeText(arg, &text); !why.empty()) return why;
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return Cat({arg.text, ": expected NAME:VALUE"});
  std::string name = text.substr(0, colon);
  std::string value = text.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
  if (!IsToken(name)) return Cat({arg.text, ": the header name must be an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"});
  if (!IsFieldValue(value)) return Cat({arg.text, ": the header value must not contain CR, LF or NUL"});
  out->push_back({std::move(name), std::move(value)});
  return {};
}

// "ADDR:PORT" or "[ADDR6]:PORT" into a socket address.
bool ParseEndpoint(const std::string& text, sockaddr_storage* out, socklen_t* len) {
  std::string host, port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) return false;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  uint16_t port = 0;
  if (!ParseNumber(port_text, &port) || port == 0) return false;
  *out = {};
  auto* a4 = reinterpret_cast<sockaddr_in*>(out);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof(*a4);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof(*a6);
    return true;
  }
  return false;
}

std::string Parse(const Arg& arg, HttpOptions& o) {
  inj::HttpPolicy& p = o.policy;
  if (arg.key == "--mark") return TakeNumber(arg, &o.mark);
  if (arg.key == "--port") return TakeNumber(arg, &o.port);
  if (arg.key == "--threads") return o.has_threads = true, TakeNumber(arg, &o.threads);
  if (arg.key == "--action") return TakeText(arg, &o.action);
  if (arg.key == "--direction") return TakeText(arg, &o.direction);
  if (arg.key == "--status") return o.has_status = true, TakeNumber(arg, &o.status);
  if (arg.key == "--latency-ms") return o.has_latency = true, TakeNumber(arg, &o.latency_ms);
  if (arg.key == "--percentage") return TakeNumber(arg, &p.percentage);
  if (arg.key == "--upstream") return TakeText(arg, &o.upstream);
  if (arg.key == "--grace-ms") return TakeNumber(arg, &o.grace_ms);
  if (arg.key == "--idle-timeout-ms") return TakeNumber(arg, &o.idle_timeout_ms);
  if (arg.key == "--tls-cert") return TakeText(arg, &o.tls_cert);
  if (arg.key == "--tls-key") return TakeText(arg, &o.tls_key);
  if (arg.key == "--upstream-ca") return TakeText(arg, &o.upstream_ca);
  if (arg.key == "--body") return p.has_body = true, TakeText(arg, &p.body);
  if (arg.key == "--set-header") return TakeHeader(arg, &p.set_headers);
  if (arg.key == "--match-header") return TakeHeader(arg, &p.match_headers);
  if (arg.key == "--remove-header") {
    std::string name;
    if (auto why = TakeText(arg, &name); !why.empty()) return why;
    if (!IsToken(name)) return Cat({arg.text, ": the header name must be an HTTP token"});
    p.remove_headers.push_back(name);
    return {};
  }
  if (arg.key == "--path") {
    if (auto why = TakeText(arg, &p.path_prefix); !why.empty()) return why;
    if (!p.path_prefix.starts_with('/')) return Cat({arg.text, ": the path prefix must start with '/'"});
    return {};
  }
  if (arg.key == "--method") {
    std::string method;
    if (auto why = TakeText(arg, &method); !why.empty()) return why;
    if (!IsToken(method) || std::any_of(method.begin(), method.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
      return Cat({arg.text, ": a method is an upper-case token (GET, POST, ...)"});
    }
    p.methods.push_back(method);
    return {};
  }
  if (arg.key == "--query") {
    std::string text;
    if (auto why = TakeText(arg, &text); !why.empty()) return why;
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) return Cat({arg.text, ": expected KEY=VALUE"});
    p.query.push_back({text.substr(0, eq), text.substr(eq + 1)});
    return {};
  }
  if (arg.key == "--source") {
    std::string text;
    if (auto why = TakeText(arg, &text); !why.empty()) return why;
    inj::HttpSourceRange range;
    if (!inj::ParseSourceRange(text, &range)) return Cat({arg.text, ": expected an IPv4 or IPv6 address with an optional /LEN"});
    p.sources.push_back(range);
    return {};
  }
  return NotAnOption("http", arg);
}

std::string Validate(const HttpOptions& o) {
  const inj::HttpPolicy& p = o.policy;
  if (o.mark == 0) return "--mark is required (1..4294967295): the interceptor's upstream sockets must be told from clients";
  const std::string& a = o.action;
  if (a != "block" && a != "latency" && a != "status" && a != "body" && a != "header") {
    return Cat({"--action must be block, latency, status, body or header (got '", a, "')"});
  }
  if (auto why = CheckRange("--threads", o.threads, 1, 64); !why.empty()) return why;
  if (auto why = CheckRange("--percentage", p.percentage, 0.0, 100.0); !why.empty()) return why;
  if (auto why = CheckRange<uint32_t>("--grace-ms", o.grace_ms, 0, 600'000); !why.empty()) return why;
  if (auto why = CheckRange<uint32_t>("--idle-timeout-ms", o.idle_timeout_ms, 1000, 86'400'000); !why.empty()) return why;
  if (!o.upstream.empty()) {
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (!ParseEndpoint(o.upstream, &addr, &len)) {
      return Cat({"--upstream must be ADDR:PORT or [ADDR6]:PORT with a port 1..65535 (got '", o.upstream, "')"});
    }
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) return "--tls-cert and --tls-key go together (the certificate and its key, PEM)";
  if (!o.upstream_ca.empty() && o.tls_cert.empty()) return "--upstream-ca applies with --tls-cert and --tls-key (TLS termination)";
  // Each action's own options, and none of another's.
  const bool block_or_status = a == "block" || a == "status";
  if (o.has_status && !block_or_status) return Cat({"--status applies to --action=block or status, not ", a});
  if (o.has_status) {
    if (auto why = CheckRange("--status", o.status, 100, 599); !why.empty()) return why;
  }
  if (a == "latency" && !o.has_latency) return "--action=latency needs --latency-ms=MS (0..3600000)";
  if (o.has_latency && a != "latency") return Cat({"--latency-ms applies to --action=latency, not ", a});
  if (auto why = CheckRange<uint32_t>("--latency-ms", o.latency_ms, 0, 3'600'000); !why.empty()) return why;
  if (p.has_body && a != "status" && a != "body") return Cat({"--body applies to --action=status or body, not ", a});
  if (a == "body" && !p.has_body) return "--action=body needs --body=TEXT (the replacement body, may be empty)";
  if ((!p.set_headers.empty() || !p.remove_headers.empty()) && a != "header") {
    return Cat({"--set-header and --remove-header apply to --action=header, not ", a});
  }
  if (a == "header" && p.set_headers.empty() && p.remove_headers.empty()) {
    return "--action=header needs at least one --set-header=NAME:VALUE or --remove-header=NAME";
  }
  const bool directed = a == "latency" || a == "body" || a == "header";
  if (directed && o.direction.empty()) return Cat({"--action=", a, " needs --direction=request|response|both"});
  if (!o.direction.empty()) {
    if (!directed) return Cat({"--direction applies to --action=latency, body or header, not ", a});
    if (o.direction != "request" && o.direction != "response" && o.direction != "both") {
      return Cat({"--direction must be request, response or both (got '", o.direction, "')"});
    }
  }
  return {};
}

inj::HttpAction ActionOf(const std::string& a) {
  if (a == "latency") return inj::HttpAction::kLatency;
  if (a == "status") return inj::HttpAction::kStatus;
  if (a == "body") return inj::HttpAction::kBody;
  if (a == "header") return inj::HttpAction::kHeader;
  return inj::HttpAction::kBlock;
}

inj::HttpDirection DirectionOf(const std::string& d) {
  if (d == "request") return inj::HttpDirection::kRequest;
  if (d == "response") return inj::HttpDirection::kResponse;
  return inj::HttpDirection::kBoth;
}

void EmitStats(const inj::HttpStats& s) {
  std::printf("{\"event\":\"stats\",\"connections\":%llu,\"open\":%llu,\"requests\":%llu,\"matched\":%llu,\"faulted\":%llu,"
              "\"passed\":%llu,\"upstreamErrors\":%llu}\n",
              static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(s.open),
              static_cast<unsigned long long>(s.requests), static_cast<unsigned long long>(s.matched),
              static_cast<unsigned long long>(s.faulted), static_cast<unsigned long long>(s.passed),
              static_cast<unsigned long long>(s.upstream_errors));
  std::fflush(stdout);
}

int Run(const HttpOptions& o, const sigset_t& stop_signals) {
  inj::HttpInterceptorSpec spec;
  spec.port = o.port;
  spec.mark = o.mark;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  spec.threads = o.has_threads ? o.threads : static_cast<int>(std::clamp<long>(cpus, 1, 2));
  spec.grace_ms = o.grace_ms;
  spec.idle_timeout_ms = o.idle_timeout_ms;
  if (!o.upstream.empty()) spec.has_upstream = ParseEndpoint(o.upstream, &spec.upstream, &spec.upstream_len);
  if (!o.tls_cert.empty()) {
    auto tls = inj::LoadHttpTls(o.tls_cert, o.tls_key, o.upstream_ca);
    if (!tls.ok()) return EmitError(tls.error()), kExitFailed;
    spec.tls = std::move(tls).value();
  }
  inj::HttpPolicy policy = o.policy;
  policy.action = ActionOf(o.action);
  policy.direction = DirectionOf(o.direction);
  policy.status = o.status;
  policy.latency_ms = o.latency_ms;
  auto bound = inj::HttpInterceptor::Bind(spec);
  if (!bound.ok()) return EmitError(bound.error()), kExitFailed;
  inj::HttpInterceptor interceptor = std::move(bound).value();
  EmitLine(Cat({R"({"event":"listening","port":)", FormatNumber(interceptor.port()), "}"}));
  EmitReady();
  const auto ran = interceptor.Run(policy, stop_signals, EmitStats);
  if (!ran.ok()) return EmitError(ran.error()), kExitFailed;
  return kExitStopped;
}

}  // namespace

constinit const ModeInfo kHttpMode = DefineMode<HttpOptions, Parse, Validate, Run>(
    "http",
    "--mark=N [--port=P] [--threads=T] --action=block|latency|status|body|header [--status=CODE] [--body=TEXT] "
    "[--latency-ms=MS] [--direction=request|response|both] [--set-header=NAME:VALUE]... [--remove-header=NAME]... "
    "[--path=PREFIX] [--method=METHOD]... [--match-header=NAME:VALUE]... [--query=KEY=VALUE]... [--source=ADDR[/LEN]]... "
    "[--percentage=P] [--upstream=ADDR:PORT] [--grace-ms=MS] [--idle-timeout-ms=MS] "
    "[--tls-cert=PEM --tls-key=PEM [--upstream-ca=PEM]]",
    Lifecycle::kLoad);

}  // namespace faultd::stressor
