// SPDX-License-Identifier: Apache-2.0
// The event loop, accepting and the connection table (see http_loop.h).
#include "http_loop.h"

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

namespace faultd::inj::http_loop {

namespace {

bool SameEndpoint(const sockaddr_storage& a, const sockaddr_storage& b) {
  auto v4 = [](const sockaddr_storage& s, uint8_t* addr, uint16_t* port) {
    if (s.ss_family == AF_INET) {
      const auto* a4 = reinterpret_cast<const sockaddr_in*>(&s);
      std::memcpy(addr, &a4->sin_addr, 4);
      *port = a4->sin_port;
      return true;
    }
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&s);
    if (s.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      std::memcpy(addr, a6->sin6_addr.s6_addr + 12, 4);
      *port = a6->sin6_port;
      return true;
    }
    return false;
  };
  uint8_t aa[4], ba[4];
  uint16_t ap = 0, bp = 0;
  const bool a4 = v4(a, aa, &ap), b4 = v4(b, ba, &bp);
  if (a4 || b4) return a4 && b4 && ap == bp && std::memcmp(aa, ba, 4) == 0;
  const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&a);
  const auto* b6 = reinterpret_cast<const sockaddr_in6*>(&b);
  return a6->sin6_port == b6->sin6_port && std::memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

}  // namespace

void Loop::Run(const std::atomic<bool>& stop) {
  epoll_.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) return;
  Watch(listener_, Key(kTagListen), EPOLLIN | EPOLLET);
  Watch(wake_fd_, Key(kTagWake), EPOLLIN);
  epoll_event events[128];
  int64_t stop_at = -1;
  int64_t next_sweep = NowNs() + 1'000'000'000;
  for (;;) {
    now_ = NowNs();
    if (stop_at < 0 && stop.load(std::memory_order_relaxed)) {
      stop_at = now_ + static_cast<int64_t>(spec_.grace_ms) * kNsPerMs;
      StartDraining();
    }
    if (stop_at >= 0 && (open_ == lingering_ || now_ >= stop_at)) return;
    int64_t until = std::min(next_sweep, stop_at >= 0 ? stop_at : INT64_MAX);
    if (!timers_.empty()) until = std::min(until, timers_.top().at_ns);
    const int timeout_ms = until <= now_ ? 0 : static_cast<int>((until - now_ + kNsPerMs - 1) / kNsPerMs);
    const int n = epoll_wait(epoll_.get(), events, 128, timeout_ms);
    now_ = NowNs();
    for (int i = 0; i < n; ++i) OnEvent(events[i].data.u64, events[i].events);
    while (!timers_.empty() && timers_.top().at_ns <= now_) {
      const Timer t = timers_.top();
      timers_.pop();
      if (t.slot == UINT32_MAX) {
        accept_paused_ = false;
        if (stop_at < 0) OnAccept();
      } else if (Conn* c = Find(t.slot, t.serial)) {
        Drive(*c);
      }
    }
    if (now_ >= next_sweep) {
      next_sweep = now_ + 1'000'000'000;
      CloseIdle();
    }
  }
}

void Loop::OnEvent(uint64_t key, uint32_t events) {
  const uint64_t tag = key & 7;
  if (tag == kTagListen) return accepting_ ? OnAccept() : void();
  if (tag == kTagWake) {  // the stop flag is read at the top of the loop; the eventfd stays set
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, wake_fd_, nullptr);
    return;
  }
  Conn* c = Find(static_cast<uint32_t>((key >> 3) & 0x1fffffff), static_cast<uint32_t>(key >> 32));
  if (c == nullptr) return;
  if (c->lingering) return Drive(*c);
  Side& side = tag == kTagClient ? c->client : c->upstream;
  const bool in = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  const bool out = (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) side.hup = true;
  if (in) {
    if (side.read_waits == Transport::Want::kRead) side.can_read = true;
    if (side.write_waits == Transport::Want::kRead) side.can_write = true;
  }
  if (out) {
    if (side.read_waits == Transport::Want::kWrite) side.can_read = true;
    if (side.write_waits == Transport::Want::kWrite) side.can_write = true;
  }
  if (tag == kTagUpstream && c->connecting && out) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c->upstream.io->fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Bump(counters_.upstream_errors);
      return Close(*c);
    }
    c->connecting = false;
  }
  Drive(*c);
}

void Loop::OnAccept() {
  while (!accept_paused_ && accepting_) {
    if (open_ >= max_connections_) {
      accept_paused_ = true;  // resumed when a connection closes
      at_capacity_ = true;
      return;
    }
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    UniqueFd fd(accept4(listener_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) PauseAccepting();
      return;  // EAGAIN, or a connection that died in the backlog
    }
    Bump(counters_.connections);
    Open(std::move(fd), peer);
  }
}

void Loop::PauseAccepting() {
  accept_paused_ = true;
  timers_.push({now_ + kAcceptPauseNs, UINT32_MAX, 0});
}

bool Loop::UpstreamOf(int client_fd, sockaddr_storage* dst, socklen_t* len) {
  if (spec_.has_upstream) {
    *dst = spec_.upstream;
    *len = spec_.upstream_len;
    return true;
  }
  sockaddr_storage local{};
  socklen_t local_len = sizeof(local);
  if (getsockname(client_fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) return false;
  bool v4 = local.ss_family == AF_INET;
  if (local.ss_family == AF_INET6) v4 = IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
  *dst = {};
  if (v4) {
    socklen_t l = sizeof(sockaddr_in);
    if (getsockopt(client_fd, SOL_IP, SO_ORIGINAL_DST, dst, &l) != 0) return false;
    *len = sizeof(sockaddr_in);
  } else {
    socklen_t l = sizeof(sockaddr_in6);
    if (getsockopt(client_fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, dst, &l) != 0) return false;
    *len = sizeof(sockaddr_in6);
  }
  // Not redirected (the original destination is this listener): never proxy to ourselves.
  return !SameEndpoint(*dst, local);
}

void Loop::Open(UniqueFd fd, const sockaddr_storage& peer) {
  sockaddr_storage dst{};
  socklen_t dst_len = 0;
  if (!UpstreamOf(fd.get(), &dst, &dst_len)) return;  // closed at once
  UniqueFd up(socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!up.valid()) {
    // The client got the last descriptor: it is closed, and the rest wait in the backlog.
    if (errno == EMFILE || errno == ENFILE) return PauseAccepting();
    return Bump(counters_.upstream_errors);
  }
  const int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(up.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (spec_.mark != 0 && setsockopt(up.get(), SOL_SOCKET, SO_MARK, &spec_.mark, sizeof(spec_.mark)) != 0) {
    return Bump(counters_.upstream_errors);
  }
  bool connecting = false;
  if (connect(up.get(), reinterpret_cast<const sockaddr*>(&dst), dst_len) != 0) {
    if (errno != EINPROGRESS) return Bump(counters_.upstream_errors);
    connecting = true;
  }
  uint32_t slot = 0;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(conns_.size());
    conns_.emplace_back();
  }
  auto conn = std::make_unique<Conn>();
  Conn& c = *conn;
  c.slot = slot;
  c.serial = ++serial_;
  c.peer = peer;
  c.active_ns = now_;
  c.connecting = connecting;
  if (spec_.tls) {
    // TLS termination: the two handshakes are coupled (the upstream's SNI and ALPN offer come
    // from the client's ClientHello), so both transports are made here together.
    auto client = std::make_unique<TlsTransport>(std::move(fd));
    auto upstream = std::make_unique<TlsTransport>(std::move(up));
    if (!client->StartServer(spec_.tls->server.get()).ok()) return free_.push_back(slot);
    c.tls = std::make_unique<TlsHandshakes>(spec_.tls, client.get(), upstream.get());
    c.client.io = std::move(client);
    c.upstream.io = std::move(upstream);
  } else {
    c.client.io = std::make_unique<PlainTransport>(std::move(fd));
    c.upstream.io = std::make_unique<PlainTransport>(std::move(up));
  }
  c.client.can_write = true;
  c.upstream.can_write = !connecting;
  conns_[slot] = std::move(conn);
  ++open_;
  Bump(counters_.open);
  Watch(c.client.io->fd(), Key(kTagClient, slot, c.serial), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
  Watch(c.upstream.io->fd(), Key(kTagUpstream, slot, c.serial), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
  if (draining_) c.draining = true;
}

void Loop::Close(Conn& c) {
  const uint32_t slot = c.slot;
  if (c.lingering) --lingering_;
  conns_[slot].reset();  // closing the fds removes them from epoll
  free_.push_back(slot);
  --open_;
  Bump(counters_.open, -1);
  if (at_capacity_) {
    at_capacity_ = false;
    accept_paused_ = false;
    OnAccept();
  }
}

void Loop::StartDraining() {
  draining_ = true;
  accepting_ = false;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_, nullptr);
  // Out of the LISTEN state at once: new clients are refused (and those still in the backlog
  // reset) instead of waiting for an accept that will not come. The fd itself is closed by
  // its owner after the loops end.
  ::shutdown(listener_, SHUT_RDWR);
  for (size_t i = 0; i < conns_.size(); ++i) {
    if (!conns_[i]) continue;
    conns_[i]->draining = true;
    Drive(*conns_[i]);
  }
}

void Loop::CloseIdle() {
  const int64_t idle = static_cast<int64_t>(spec_.idle_timeout_ms) * kNsPerMs;
  for (size_t i = 0; i < conns_.size(); ++i) {  // by index: a close may accept (and grow conns_)
    Conn* conn = conns_[i].get();
    if (conn == nullptr) continue;
    const bool tunnel = conn->rs == RespState::kTunnel;
    if (now_ - conn->active_ns >= (tunnel ? idle * 10 : idle)) Close(*conn);
  }
}

}  // namespace faultd::inj::http_loop
