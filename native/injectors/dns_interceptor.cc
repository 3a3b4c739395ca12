// SPDX-License-Identifier: Apache-2.0
#include "dns_interceptor.h"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/dns/message.h"
#include "../core/dns/tcp_stream.h"
#include "../core/socket_address.h"

namespace faultd::inj {
namespace {

using core::UniqueFd;

constexpr size_t kMaxDatagram = 65535;
constexpr size_t kMaxConnections = 512;
/// Bytes one TCP connection may hold in its four queues (from and to client and upstream) before
/// it is closed: room for a largest message (64 KiB) in each, and some.
constexpr size_t kMaxConnBuffered = 320 * 1024;
/// Bytes all TCP connections together may hold: past it, the connection that grows is closed
/// (512 connections at their own bound would hold 160 MiB).
constexpr size_t kMaxTotalBuffered = 16 * 1024 * 1024;
/// A connection holding more than this has the total summed up (rare: DNS messages are small).
constexpr size_t kCheckTotalAbove = 64 * 1024;
/// How long a forwarded UDP query waits for the upstream's answer (clients retry after ~5 s).
constexpr int64_t kUdpForwardTtlMs = 10'000;
constexpr int kBindAttempts = 32;
/// After a stop signal (the redirect is already gone): how long forwarded queries still in
/// flight may take to be answered before the interceptor exits; below the revert's 300 ms
/// SIGTERM→SIGKILL grace.
constexpr int64_t kStopGraceMs = 200;
/// A TCP connection with no traffic either way for this long is closed (RFC 7766 §6.2.3 lets a
/// server close idle connections; a client that never finishes a query, or a query the upstream
/// never answers, must not hold a connection to the upstream forever).
constexpr int64_t kTcpIdleMs = 10'000;

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

core::Result<UniqueFd> Socket(int family, int type, uint32_t mark) {
  UniqueFd fd(socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return core::ErrnoError("socket");
  if (mark != 0 && setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) return core::ErrnoError("setsockopt", "SO_MARK");
  return fd;
}

core::Result<UniqueFd> Listener(int family, int type, uint16_t port) {
  auto fd = Socket(family, type, 0);
  if (!fd.ok()) return fd.error();
  const int one = 1;
  if (type == SOCK_STREAM) setsockopt(fd.value().get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage addr{};
  const socklen_t len = core::ListenAddress(family, core::BindScope::kLoopback, port, &addr);
  if (bind(fd.value().get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return core::ErrnoError("bind");
  if (type == SOCK_STREAM && listen(fd.value().get(), 128) != 0) return core::ErrnoError("listen");
  return std::move(fd).value();
}

// "10.0.0.53:53" / "[fd00::53]:53", for errors.
std::string AddressText(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    return std::string("[") + text + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
  inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
  return std::string(text) + ":" + std::to_string(ntohs(a->sin_port));
}

// The route's upstream UDP socket: marked, connected (so only the upstream's datagrams arrive).
core::Result<UniqueFd> UpstreamUdp(const DnsRoute& route, uint32_t mark) {
  auto fd = Socket(route.upstream.ss_family, SOCK_DGRAM, mark);
  if (!fd.ok()) return core::SysError{fd.error().err, fd.error().syscall, "UDP upstream " + AddressText(route.upstream) + ": " + fd.error().detail};
  if (connect(fd.value().get(), reinterpret_cast<const sockaddr*>(&route.upstream), route.upstream_len) != 0) {
    return core::ErrnoError("connect", "UDP upstream " + AddressText(route.upstream));
  }
  return fd;
}

using core::BoundPort;

// Writes what it can of `queue`; false on a real error (not EAGAIN).
bool Flush(int fd, core::dns::ByteQueue& queue) {
  while (!queue.empty()) {
    const auto bytes = queue.Unread();
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    queue.Consume(static_cast<size_t>(n));
  }
  return true;
}

enum class Read { kMore, kEof, kError };

// Reads everything available into `queue`; an error once the connection would hold more than
// `room` more bytes.
Read Drain(int fd, core::dns::ByteQueue& queue, size_t room) {
  uint8_t chunk[16384];
  size_t read = 0;
  for (;;) {
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n == 0) return Read::kEof;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Read::kMore : Read::kError;
    queue.Append(std::span<const uint8_t>(chunk, static_cast<size_t>(n)));
    read += static_cast<size_t>(n);
    if (read > room) return Read::kError;
  }
}

enum Tag : uint64_t { kSignals = 1, kTimer, kUdpListen, kUdpUpstream, kTcpListen, kTcpClient, kTcpUpstream };

uint64_t Key(Tag tag, uint32_t id = 0) { return (static_cast<uint64_t>(tag) << 32) | id; }

struct PendingUdp {
  uint32_t route = 0;
  sockaddr_storage client{};
  socklen_t client_len = 0;
  uint16_t client_id = 0;
  int64_t deadline_ms = 0;
  /// The forwarded query's question: an answer must have the same (not only the same id).
  std::optional<core::dns::Question> question;
};

// True if `reply` answers a query whose question was `asked`: the same question (name
// case-insensitive, type, class), or none at all in an error reply (FORMERR). A reply that only reuses the id (another query's late answer, an off-path guess)
// is not passed on (RFC 5452 §9.1).
bool AnswersQuestion(std::span<const uint8_t> reply, const std::optional<core::dns::Question>& asked) {
  if (!asked) return true;  // a query faultd could not read: the id is all there is to match
  const auto question = core::dns::ReadQuestion(reply);
  if (question) return *question == *asked;
  return core::dns::QuestionCount(reply) == 0 && core::dns::MessageRcode(reply) != 0;
}

struct TcpConn {
  uint32_t route = 0;
  UniqueFd client;
  UniqueFd upstream;
  bool connecting = false;
  /// The client shut down its sending side (or faultd is stopping): answer what it asked, then close.
  bool client_done = false;
  /// Queries forwarded on this connection whose answers have not come back yet.
  uint32_t outstanding = 0;
  /// Last time anything was read on either side (CLOCK_MONOTONIC ms).
  int64_t active_ms = 0;
  core::dns::ByteQueue from_client, from_upstream, to_client, to_upstream;

  /// Bytes its queues hold in memory.
  [[nodiscard]] size_t Held() const { return from_client.held() + from_upstream.held() + to_client.held() + to_upstream.held(); }
};

class Loop {
 public:
  Loop(const DnsInterceptorSpec& spec, const std::vector<DnsInterceptor::Listeners>& listeners, const DnsPolicy& policy,
       const std::function<double()>& draw)
      : spec_(spec), listeners_(listeners), policy_(policy), draw_(draw) {}

  core::Status Run(const sigset_t& stop_signals, const std::function<void(const DnsStats&)>& on_tick) {
    epoll_.Reset(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_.valid()) return core::ErrnoError("epoll_create1");
    UniqueFd signals(signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals.valid()) return core::ErrnoError("signalfd");
    UniqueFd timer(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!timer.valid()) return core::ErrnoError("timerfd_create");
    const itimerspec second{{1, 0}, {1, 0}};
    if (timerfd_settime(timer.get(), 0, &second, nullptr) != 0) return core::ErrnoError("timerfd_settime");
    for (const auto& [fd, key] : {std::pair{signals.get(), Key(kSignals)}, {timer.get(), Key(kTimer)}}) {
      if (!Watch(EPOLL_CTL_ADD, fd, key, EPOLLIN)) return core::ErrnoError("epoll_ctl");
    }
    for (uint32_t r = 0; r < spec_.routes.size(); ++r) {
      for (const auto& [fd, key] : {std::pair{listeners_[r].udp.get(), Key(kUdpListen, r)}, {listeners_[r].upstream_udp.get(), Key(kUdpUpstream, r)},
                                    {listeners_[r].tcp.get(), Key(kTcpListen, r)}}) {
        if (!Watch(EPOLL_CTL_ADD, fd, key, EPOLLIN)) return core::ErrnoError("epoll_ctl");
      }
    }
    epoll_event events[64];
    int64_t stop_by_ms = -1;  // set by a stop signal: answer what is in flight, until then
    for (;;) {
      if (stop_by_ms >= 0 && (Idle() || NowMs() >= stop_by_ms)) return core::Ok{};
      const int n = epoll_wait(epoll_.get(), events, 64, stop_by_ms >= 0 ? 10 : -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return core::ErrnoError("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        const uint64_t key = events[i].data.u64;
        const auto tag = static_cast<Tag>(key >> 32);
        const auto id = static_cast<uint32_t>(key);
        switch (tag) {
          case kSignals:
            if (stop_by_ms < 0) {
              // No new query is taken (the listeners and the signal leave the set); the
              // answers of forwarded ones still go back to their clients.
              stop_by_ms = NowMs() + kStopGraceMs;
              accept_paused_ = false;  // the listeners leave the set for good
              epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, signals.get(), nullptr);
              for (const auto& l : listeners_) {
                epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, l.udp.get(), nullptr);
                epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, l.tcp.get(), nullptr);
              }
              for (auto& [conn_id, conn] : conns_) conn.client_done = true;
            }
            break;
          case kTimer: {
            uint64_t ticks = 0;
            (void)!read(timer.get(), &ticks, sizeof(ticks));
            ExpireUdp();
            CloseIdleTcp();
            ResumeAccepting();
            on_tick(stats_);
            break;
          }
          case kUdpListen: OnUdpQuery(id); break;
          case kUdpUpstream: OnUdpReply(id); break;
          case kTcpListen: OnAccept(id); break;
          case kTcpClient:
          case kTcpUpstream: OnTcp(id, tag == kTcpUpstream, events[i].events); break;
        }
      }
    }
  }

 private:
  bool Watch(int op, int fd, uint64_t key, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = key;
    return epoll_ctl(epoll_.get(), op, fd, &ev) == 0;
  }

  [[nodiscard]] bool Idle() const {
    if (!pending_.empty()) return false;
    for (const auto& [id, conn] : conns_) {
      if (conn.outstanding > 0 || !conn.to_client.empty()) return false;
    }
    return true;
  }

  void OnUdpQuery(uint32_t route) {
    const int udp = listeners_[route].udp.get();
    uint8_t buf[kMaxDatagram];
    for (;;) {
      PendingUdp pending;
      pending.route = route;
      pending.client_len = sizeof(pending.client);
      const ssize_t n = recvfrom(udp, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&pending.client), &pending.client_len);
      if (n < 0) return;
      ++stats_.queries;
      std::span<uint8_t> message(buf, static_cast<size_t>(n));
      DnsVerdict verdict = Decide(policy_, message, draw_());
      if (verdict.decision == DnsDecision::kDrop) {
        ++stats_.dropped;
        continue;
      }
      if (verdict.decision == DnsDecision::kAnswer) {
        ++stats_.answered;
        // Larger than the client takes over UDP (a spoofed name with many addresses): TC set, so it asks over TCP.
        if (const auto query = core::dns::ParseQuery(message).query) core::dns::FitUdpResponse(verdict.answer, *query, message);
        sendto(udp, verdict.answer.data(), verdict.answer.size(), 0, reinterpret_cast<sockaddr*>(&pending.client), pending.client_len);
        continue;
      }
      if (message.size() < 12 || pending_.size() >= 0x10000) {
        ++stats_.upstream_errors;
        continue;
      }
      // A random id of the interceptor's own: answers to clients that picked the same id are
      // told apart, and the one upstream socket (a fixed source port) stays as hard to answer
      // off-path as a resolver's (RFC 5452).
      uint16_t id = static_cast<uint16_t>(ids_());
      while (pending_.contains(id)) ++id;
      pending.client_id = core::dns::MessageId(message);
      pending.question = core::dns::ReadQuestion(message);
      pending.deadline_ms = NowMs() + kUdpForwardTtlMs;
      core::dns::SetMessageId(message, id);
      if (send(listeners_[route].upstream_udp.get(), message.data(), message.size(), 0) < 0) {
        ++stats_.upstream_errors;
        continue;
      }
      pending_[id] = pending;
      ++stats_.forwarded;
    }
  }

  void OnUdpReply(uint32_t route) {
    uint8_t buf[kMaxDatagram];
    for (;;) {
      const ssize_t n = recv(listeners_[route].upstream_udp.get(), buf, sizeof(buf), 0);
      if (n < 0) return;
      std::span<uint8_t> message(buf, static_cast<size_t>(n));
      const auto it = pending_.find(core::dns::MessageId(message));
      if (message.size() < 12 || it == pending_.end() || it->second.route != route || !AnswersQuestion(message, it->second.question)) continue;
      core::dns::SetMessageId(message, it->second.client_id);
      sendto(listeners_[route].udp.get(), message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&it->second.client), it->second.client_len);
      pending_.erase(it);
      ++stats_.replies;
    }
  }

  void ExpireUdp() {
    const int64_t now = NowMs();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline_ms <= now) {
        ++stats_.upstream_errors;
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void CloseIdleTcp() {
    const int64_t now = NowMs();
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (now - it->second.active_ms >= kTcpIdleMs) {
        if (it->second.outstanding > 0) ++stats_.upstream_errors;
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void OnAccept(uint32_t route) {
    for (;;) {
      UniqueFd client(accept4(listeners_[route].tcp.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!client.valid()) {
        // Out of file descriptors: the pending connection stays in the backlog and the listener
        // stays readable, so watching it would spin. Stop watching the TCP listeners until a
        // connection closes or the next tick (at most 1 s); UDP is served meanwhile.
        if (errno == EMFILE || errno == ENFILE) PauseAccepting();
        return;
      }
      if (conns_.size() >= kMaxConnections) continue;  // closed at once: the client retries
      const uint32_t id = next_conn_++;
      TcpConn& conn = conns_[id];
      conn.route = route;
      conn.client = std::move(client);
      conn.active_ms = NowMs();
      Watch(EPOLL_CTL_ADD, conn.client.get(), Key(kTcpClient, id), EPOLLIN);
    }
  }

  void Close(uint32_t id) {
    conns_.erase(id);  // closing the fds removes them from epoll
    ResumeAccepting();
  }

  void PauseAccepting() {
    if (accept_paused_) return;
    accept_paused_ = true;
    ++stats_.accept_pauses;
    for (uint32_t r = 0; r < listeners_.size(); ++r) Watch(EPOLL_CTL_MOD, listeners_[r].tcp.get(), Key(kTcpListen, r), 0);
  }

  void ResumeAccepting() {
    if (!accept_paused_) return;
    accept_paused_ = false;
    for (uint32_t r = 0; r < listeners_.size(); ++r) Watch(EPOLL_CTL_MOD, listeners_[r].tcp.get(), Key(kTcpListen, r), EPOLLIN);
  }

  bool ConnectUpstream(TcpConn& conn, uint32_t id) {
    const DnsRoute& route = spec_.routes[conn.route];
    auto fd = Socket(route.upstream.ss_family, SOCK_STREAM, spec_.mark);
    if (!fd.ok()) return false;
    conn.upstream = std::move(fd).value();
    if (connect(conn.upstream.get(), reinterpret_cast<const sockaddr*>(&route.upstream), route.upstream_len) != 0) {
      if (errno != EINPROGRESS) return false;
      conn.connecting = true;
    }
    return Watch(EPOLL_CTL_ADD, conn.upstream.get(), Key(kTcpUpstream, id), EPOLLIN | EPOLLOUT);
  }

  void OnTcp(uint32_t id, bool upstream_side, uint32_t events) {
    const auto it = conns_.find(id);
    if (it == conns_.end()) return;
    TcpConn& conn = it->second;
    if (upstream_side && conn.connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(conn.upstream.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return ++stats_.upstream_errors, Close(id);
      conn.connecting = false;
    }
    if (!upstream_side && conn.client_done && (events & (EPOLLHUP | EPOLLERR)) != 0) return Close(id);  // client gone
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !(conn.client_done && !upstream_side)) {
      conn.active_ms = NowMs();
      const size_t room = kMaxConnBuffered - std::min(kMaxConnBuffered, conn.Held());
      const Read read = Drain(upstream_side ? conn.upstream.get() : conn.client.get(), upstream_side ? conn.from_upstream : conn.from_client, room);
      if (read == Read::kEof && !upstream_side) {
        conn.client_done = true;  // a half-close after its queries: they are still answered
      } else if (read != Read::kMore) {
        // Upstream gone, or an error: complete answers that arrived are passed on, then closed.
        Pump(conn, id);
        Flush(conn.client.get(), conn.to_client);
        return Close(id);
      }
    }
    if (!Pump(conn, id)) return Close(id);
    const bool client_ok = Flush(conn.client.get(), conn.to_client);
    const bool upstream_ok = !conn.upstream.valid() || conn.connecting || Flush(conn.upstream.get(), conn.to_upstream);
    if (!client_ok || !upstream_ok || OverBudget(conn)) return Close(id);
    if (conn.client_done && conn.outstanding == 0 && conn.to_client.empty()) return Close(id);  // all answered
    const uint32_t client_in = conn.client_done ? 0U : static_cast<uint32_t>(EPOLLIN);
    Watch(EPOLL_CTL_MOD, conn.client.get(), Key(kTcpClient, id), client_in | (conn.to_client.empty() ? 0U : static_cast<uint32_t>(EPOLLOUT)));
    if (conn.upstream.valid()) {
      Watch(EPOLL_CTL_MOD, conn.upstream.get(), Key(kTcpUpstream, id),
            EPOLLIN | (conn.connecting || !conn.to_upstream.empty() ? static_cast<uint32_t>(EPOLLOUT) : 0U));
    }
  }

  // True if `conn` holds more than its own bound, or all connections together more than theirs.
  bool OverBudget(const TcpConn& conn) {
    const size_t held = conn.Held();
    if (held > kMaxConnBuffered) return ++stats_.tcp_over_budget, true;
    if (held <= kCheckTotalAbove) return false;
    size_t total = 0;
    for (const auto& [id, c] : conns_) total += c.Held();
    if (total > kMaxTotalBuffered) return ++stats_.tcp_over_budget, true;
    return false;
  }

  // Moves whole messages: client queries through the policy, upstream answers to the client.
  bool Pump(TcpConn& conn, uint32_t id) {
    std::vector<uint8_t> message;
    while (core::dns::TakeFrame(conn.from_client, &message)) {
      ++stats_.queries;
      DnsVerdict verdict = Decide(policy_, message, draw_());
      if (verdict.decision == DnsDecision::kDrop) {
        ++stats_.dropped;
      } else if (verdict.decision == DnsDecision::kAnswer) {
        ++stats_.answered;
        core::dns::PutFrame(conn.to_client, verdict.answer);
      } else {
        if (!conn.upstream.valid() && !ConnectUpstream(conn, id)) return ++stats_.upstream_errors, false;
        ++stats_.forwarded;
        ++conn.outstanding;
        core::dns::PutFrame(conn.to_upstream, message);
      }
    }
    while (core::dns::TakeFrame(conn.from_upstream, &message)) {
      ++stats_.replies;
      if (conn.outstanding > 0) --conn.outstanding;
      core::dns::PutFrame(conn.to_client, message);
    }
    return true;
  }

  const DnsInterceptorSpec& spec_;
  const std::vector<DnsInterceptor::Listeners>& listeners_;
  const DnsPolicy& policy_;
  const std::function<double()>& draw_;
  UniqueFd epoll_;
  std::unordered_map<uint16_t, PendingUdp> pending_;
  std::mt19937 ids_{std::random_device{}()};
  std::map<uint32_t, TcpConn> conns_;
  uint32_t next_conn_ = 0;
  /// The TCP listeners are out of the epoll set (EMFILE/ENFILE on accept).
  bool accept_paused_ = false;
  DnsStats stats_;
};

}  // namespace

core::Result<DnsInterceptor> DnsInterceptor::Bind(const DnsInterceptorSpec& spec) noexcept {
  if (spec.routes.empty() || spec.routes.size() > kMaxRoutes) return core::SysError{EINVAL, "bind", "1 to 16 routes (intercepted nameservers)"};
  std::vector<Listeners> listeners;
  for (const DnsRoute& route : spec.routes) {
    const int family = route.server.ss_family;
    if ((family != AF_INET && family != AF_INET6) || (route.upstream.ss_family != AF_INET && route.upstream.ss_family != AF_INET6)) {
      return core::SysError{EAFNOSUPPORT, "bind", "servers and upstreams must be IPv4 or IPv6"};
    }
    // UDP first on a free port, then TCP on the same number; a TCP clash is retried with another pair.
    bool bound = false;
    for (int attempt = 0; attempt < kBindAttempts && !bound; ++attempt) {
      auto udp = Listener(family, SOCK_DGRAM, 0);
      if (!udp.ok()) return udp.error();
      const uint16_t port = BoundPort(udp.value().get());
      auto tcp = Listener(family, SOCK_STREAM, port);
      if (tcp.ok()) {
        listeners.push_back(Listeners{std::move(udp).value(), std::move(tcp).value(), port, UniqueFd()});
        bound = true;
      } else if (tcp.error().err != EADDRINUSE) {
        return tcp.error();
      }
    }
    if (!bound) return core::SysError{EADDRINUSE, "bind", "no port free for both UDP and TCP"};
    auto upstream = UpstreamUdp(route, spec.mark);
    if (!upstream.ok()) return upstream.error();
    listeners.back().upstream_udp = std::move(upstream).value();
  }
  return DnsInterceptor(spec, std::move(listeners));
}

std::vector<uint16_t> DnsInterceptor::ports() const {
  std::vector<uint16_t> ports;
  for (const auto& l : listeners_) ports.push_back(l.port);
  return ports;
}

core::Status DnsInterceptor::Run(const DnsPolicy& policy, const sigset_t& stop_signals, const std::function<double()>& draw_pct,
                                 const std::function<void(const DnsStats&)>& on_tick) noexcept {
  Loop loop(spec_, listeners_, policy, draw_pct);
  return loop.Run(stop_signals, on_tick);
}

}  // namespace faultd::inj
