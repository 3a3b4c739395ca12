// SPDX-License-Identifier: Apache-2.0
#include "http_interceptor.h"

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <queue>
#include <random>
#include <string>
#include <string_view>

#include "../core/http/h1_chunked.h"
#include "../core/http/h1_head.h"
#include "../core/http/h2_bridge.h"
#include "../core/worker_threads.h"
#include "../core/socket_address.h"
#include "http_tls.h"

namespace faultd::inj {

// ---------------------------------------------------------------------------------------------
// PlainTransport

Transport::Io PlainTransport::Read(char* buf, size_t len, size_t* n, bool* exhausted) noexcept {
  for (;;) {
    // recv rather than read: a socket's read goes through the VFS layer (rw_verify_area, the
    // fsnotify access event) before it reaches the same sock_recvmsg.
    const ssize_t r = ::recv(fd_.get(), buf, len, 0);
    if (r > 0) {
      *n = static_cast<size_t>(r);
      *exhausted = *n < len;
      return Io::kOk;
    }
    if (r == 0) return Io::kEof;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kAgain : Io::kError;
  }
}

Transport::Io PlainTransport::Writev(const iovec* iov, int count, size_t* n, bool* exhausted) noexcept {
  size_t want = 0;
  for (int i = 0; i < count; ++i) want += iov[i].iov_len;
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(count);
  for (;;) {
    // sendmsg/send rather than writev/write: MSG_NOSIGNAL, so a client gone away is EPIPE, not
    // SIGPIPE. One buffer (a relayed request or response) goes by send: the kernel then copies
    // no msghdr and iovec array from user space.
    const ssize_t r = count == 1 ? ::send(fd_.get(), iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                                 : ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    if (r >= 0) {
      *n = static_cast<size_t>(r);
      *exhausted = *n < want;
      return Io::kOk;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kAgain : Io::kError;
  }
}

void PlainTransport::ShutdownWrite() noexcept { ::shutdown(fd_.get(), SHUT_WR); }

namespace {

namespace http = core::http;
using core::UniqueFd;

/// A read buffer's first size; it grows (to kMaxBuffer) only while a large head arrives.
constexpr size_t kInitialBuffer = 16 * 1024;
constexpr size_t kMaxBuffer = http::kMaxHeadBytes + 16 * 1024;
/// Requests read ahead of their responses on one connection (pipelining); more wait.
constexpr size_t kMaxPipelined = 32;
/// Accepting pauses this long when the process or the system is out of file descriptors.
constexpr int64_t kAcceptPauseNs = 100'000'000;
constexpr int64_t kNsPerMs = 1'000'000;
/// A connection that ends while the client may still be sending (a refused head, requests read
/// ahead) is half-closed and its input drained for up to this long before the close, so the
/// kernel does not reset it and lose the last response (nginx's lingering close).
constexpr int64_t kLingerNs = 500 * kNsPerMs;

int64_t NowNs() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void Bump(std::atomic<uint64_t>& counter, int64_t by = 1) noexcept {
  // Written by one loop only: no locked read-modify-write needed.
  counter.store(counter.load(std::memory_order_relaxed) + static_cast<uint64_t>(by), std::memory_order_relaxed);
}

struct alignas(64) LoopCounters {
  std::atomic<uint64_t> connections{0}, open{0}, requests{0}, matched{0}, faulted{0}, passed{0}, upstream_errors{0};
};

/// A read buffer: [start, end) holds bytes not yet consumed.
class Buffer {
 public:
  [[nodiscard]] std::string_view View() const noexcept { return {data_.get() + start_, end_ - start_}; }
  [[nodiscard]] size_t size() const noexcept { return end_ - start_; }
  [[nodiscard]] size_t capacity() const noexcept { return cap_; }

  /// Room at the end for a read (moving the bytes to the front when that makes room).
  size_t Room() noexcept {
    if (!data_) {
      data_.reset(new char[kInitialBuffer]);
      cap_ = kInitialBuffer;
    }
    if (end_ == cap_ && start_ > 0) {
      std::memmove(data_.get(), data_.get() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
    }
    return cap_ - end_;
  }
  char* Tail() noexcept { return data_.get() + end_; }
  void Produced(size_t n) noexcept { end_ += n; }
  void Consume(size_t n) noexcept {
    start_ += n;
    if (start_ == end_) {
      start_ = end_ = 0;
      // Grown for a large head: given back once empty, so memory per connection stays small.
      if (cap_ > kInitialBuffer) data_.reset(), cap_ = 0;
    }
  }
  /// Doubles the capacity up to kMaxBuffer; false when already there.
  bool Grow() {
    if (cap_ >= kMaxBuffer) return false;
    const size_t cap = std::min(cap_ * 2, kMaxBuffer);
    std::unique_ptr<char[]> data(new char[cap]);
    std::memcpy(data.get(), data_.get() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
    data_ = std::move(data);
    cap_ = cap;
    return true;
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t cap_ = 0, start_ = 0, end_ = 0;
};

/// One direction of a connection: bytes read from its source, written to its sink. The first
/// `fwd` bytes of `in` are approved to be written as they are, after the generated bytes in
/// `out` (rewritten heads, answers, replacement bodies). Generated bytes are only added, and
/// bytes only dropped from `in`, when fwd == 0, so the order on the wire is the order decided.
struct Flow {
  Buffer in;
  size_t fwd = 0;
  std::string out;
  size_t out_off = 0;
  bool eof = false;       // the source sent FIN
  bool shut = false;      // the sink was half-closed by us
  [[nodiscard]] std::string_view Unprocessed() const noexcept { return In().substr(fwd); }
  [[nodiscard]] std::string_view In() const noexcept { return in.View(); }
  [[nodiscard]] bool Flushed() const noexcept { return fwd == 0 && out_off == out.size(); }
  void Forward(size_t n) noexcept { fwd += n; }
  void Append(std::string_view bytes) {
    if (out_off == out.size()) out.clear(), out_off = 0;
    out.append(bytes);
  }
};

/// Readiness of one side's fd, as the edge-triggered loop knows it.
struct Side {
  std::unique_ptr<Transport> io;
  bool can_read = false;
  bool can_write = false;
  /// The peer's FIN (or an error) was announced: read on to the end even after a short read,
  /// since no further edge will come for bytes and the FIN that arrived together.
  bool hup = false;
  Transport::Want read_waits = Transport::Want::kRead;
  Transport::Want write_waits = Transport::Want::kWrite;
};

/// A request whose response has not been relayed yet.
struct Exchange {
  bool head = false;     // HEAD: its response has no body
  bool connect = false;  // CONNECT
  bool upgrade = false;  // asked for an Upgrade
  bool close_after = false;
  int version_minor = 1;
  HttpDecision decision;
};

// The first byte of a TLS connection: a handshake record (RFC 8446 §5.1, content type 22).
constexpr uint8_t kTlsHandshakeRecord = 0x16;

enum class ReqState { kHead, kDelay, kSendHead, kBody, kAwaitTunnel, kTunnel, kStopped };
enum class RespState { kHead, kDelay, kSendHead, kBody, kTunnel };

/// The HTTP/2 bridge's writes into one side of the connection (see DriveH2).
struct H2Sink final : core::http::H2Transport {
  Side* side = nullptr;
  const bool* connecting = nullptr;
  ssize_t Write(const iovec* iov, int count) noexcept override {
    if ((connecting != nullptr && *connecting) || !side->can_write) return 0;
    size_t n = 0;
    bool exhausted = false;
    switch (side->io->Writev(iov, count, &n, &exhausted)) {
      case Transport::Io::kOk:
        if (exhausted) side->can_write = false;
        return static_cast<ssize_t>(n);
      case Transport::Io::kAgain:
        side->can_write = false;
        side->write_waits = side->io->WaitsFor(false);
        return 0;
      case Transport::Io::kEof:
      case Transport::Io::kError: break;
    }
    return -1;
  }
};

/// A connection that speaks HTTP/2 (prior knowledge, or ALPN h2): its streams go through the
/// bridge instead of the HTTP/1.1 exchange below.
struct H2Conn {
  H2Sink to_client, to_upstream;
  std::unique_ptr<core::http::H2Bridge> bridge;
  core::http::H2Stats synced;  // what was already added to the loop's counters
  bool client_lost = false, upstream_lost = false;
  bool shutdown = false;
  int64_t timer_ns = -1;  // the bridge timer the loop has queued
};

struct Conn {
  uint32_t slot = 0;
  uint32_t serial = 0;
  Side client, upstream;
  bool connecting = false;
  bool abort = false;     // close now
  bool lingering = false; // half-closed towards the client, draining its input before the close
  int64_t linger_until_ns = 0;
  bool draining = false;  // the interceptor is stopping: no new request on this connection
  bool first_bytes = true;
  bool want_h2 = false;                 // the HTTP/2 preface arrived: switch to the bridge
  std::unique_ptr<TlsHandshakes> tls;   // TLS termination: the two handshakes, until done
  bool tls_done = false;
  std::unique_ptr<H2Conn> h2;
  sockaddr_storage peer{};
  int64_t active_ns = 0;
  Flow up;    // client → upstream (requests)
  Flow down;  // upstream → client (responses)

  // The request being read.
  ReqState rq = ReqState::kHead;
  size_t rq_scan = 0;
  size_t rq_head_len = 0;
  http::BodyKind rq_body = http::BodyKind::kNone;
  uint64_t rq_remaining = 0;
  http::ChunkedFramer rq_chunks;
  bool rq_discard = false;   // its body is dropped (blocked, or replaced)
  bool rq_rewrite = false;   // its head is replaced by rq_head
  bool rq_keep = true;       // another request may follow
  bool rq_tunnel = false;    // an Upgrade or CONNECT: wait for the response's verdict
  int64_t rq_wake_ns = 0;
  std::string rq_head;

  // The response being relayed.
  RespState rs = RespState::kHead;
  size_t rs_scan = 0;
  size_t rs_head_len = 0;
  http::BodyKind rs_body = http::BodyKind::kNone;
  uint64_t rs_remaining = 0;
  http::ChunkedFramer rs_chunks;
  bool rs_discard = false;
  bool rs_rewrite = false;
  bool rs_keep = true;
  int64_t rs_wake_ns = 0;
  std::string rs_head;

  Exchange ring[kMaxPipelined];
  size_t ring_first = 0;
  size_t ring_count = 0;
  Exchange& Front() noexcept { return ring[ring_first]; }
  Exchange& Push() noexcept { return ring[(ring_first + ring_count++) % kMaxPipelined]; }
  void Pop() noexcept {
    ring_first = (ring_first + 1) % kMaxPipelined;
    --ring_count;
  }
};

struct Timer {
  int64_t at_ns;
  uint32_t slot;
  uint32_t serial;
  bool operator>(const Timer& o) const noexcept { return at_ns > o.at_ns; }
};

enum : uint64_t { kTagListen = 1, kTagWake = 2, kTagClient = 4, kTagUpstream = 5 };

uint64_t Key(uint64_t tag, uint32_t slot = 0, uint32_t serial = 0) {
  return (static_cast<uint64_t>(serial) << 32) | (static_cast<uint64_t>(slot) << 3) | tag;
}

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

class Loop {
 public:
  Loop(const HttpInterceptorSpec& spec, int listener, const HttpPolicy& policy, LoopCounters& counters, int wake_fd,
       uint32_t max_connections)
      : spec_(spec), listener_(listener), policy_(policy), counters_(counters), wake_fd_(wake_fd),
        max_connections_(max_connections), rng_(std::random_device{}()) {}

  void Run(const std::atomic<bool>& stop) {
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

 private:
  // --- epoll and bookkeeping -------------------------------------------------------------------

  bool Watch(int fd, uint64_t key, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = key;
    return epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  Conn* Find(uint32_t slot, uint32_t serial) {
    if (slot >= conns_.size() || !conns_[slot] || conns_[slot]->serial != serial) return nullptr;
    return conns_[slot].get();
  }

  void AddTimer(const Conn& c, int64_t at_ns) { timers_.push({at_ns, c.slot, c.serial}); }

  void OnEvent(uint64_t key, uint32_t events) {
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

  void OnAccept() {
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

  // Out of descriptors: pending connections stay in the backlog; accepting resumes in 100 ms
  // rather than spinning on a listener that stays readable (or closing every waiting client).
  void PauseAccepting() {
    accept_paused_ = true;
    timers_.push({now_ + kAcceptPauseNs, UINT32_MAX, 0});
  }

  // The upstream of a new connection: the fixed one, or the original destination.
  bool UpstreamOf(int client_fd, sockaddr_storage* dst, socklen_t* len) {
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

  void Open(UniqueFd fd, const sockaddr_storage& peer) {
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

  void Close(Conn& c) {
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

  void StartDraining() {
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

  void CloseIdle() {
    const int64_t idle = static_cast<int64_t>(spec_.idle_timeout_ms) * kNsPerMs;
    for (size_t i = 0; i < conns_.size(); ++i) {  // by index: a close may accept (and grow conns_)
      Conn* conn = conns_[i].get();
      if (conn == nullptr) continue;
      const bool tunnel = conn->rs == RespState::kTunnel;
      if (now_ - conn->active_ns >= (tunnel ? idle * 10 : idle)) Close(*conn);
    }
  }

  // --- moving bytes ---------------------------------------------------------------------------

  // Reads what the side has into the flow's buffer; true when something happened.
  bool ReadInto(Conn& c, Side& side, Flow& flow, bool may_grow) {
    if (!side.can_read || flow.eof) return false;
    size_t room = flow.in.Room();
    if (room == 0 && may_grow && flow.in.Grow()) room = flow.in.Room();
    if (room == 0) return false;
    size_t n = 0;
    bool exhausted = false;
    switch (side.io->Read(flow.in.Tail(), room, &n, &exhausted)) {
      case Transport::Io::kOk:
        flow.in.Produced(n);
        if (exhausted && !side.hup) side.can_read = false;
        c.active_ns = now_;
        return true;
      case Transport::Io::kEof:
        flow.eof = true;
        return true;
      case Transport::Io::kAgain:
        side.can_read = false;
        side.read_waits = side.io->WaitsFor(true);
        return false;
      case Transport::Io::kError:
        c.abort = true;
        return true;
    }
    return false;
  }

  // Writes the flow's generated bytes, then its approved ones; true when something was written.
  bool Flush(Conn& c, Side& side, Flow& flow) {
    if (flow.Flushed() || !side.can_write) return false;
    const std::string_view in = flow.In();
    iovec iov[2];
    int count = 0;
    if (flow.out_off < flow.out.size()) iov[count++] = {flow.out.data() + flow.out_off, flow.out.size() - flow.out_off};
    if (flow.fwd > 0) iov[count++] = {const_cast<char*>(in.data()), flow.fwd};
    size_t n = 0;
    bool exhausted = false;
    switch (side.io->Writev(iov, count, &n, &exhausted)) {
      case Transport::Io::kOk: {
        const size_t from_out = std::min(n, flow.out.size() - flow.out_off);
        flow.out_off += from_out;
        if (flow.out_off == flow.out.size()) flow.out.clear(), flow.out_off = 0;
        flow.in.Consume(n - from_out);
        flow.fwd -= n - from_out;
        if (exhausted) side.can_write = false;
        c.active_ns = now_;
        return n > 0;
      }
      case Transport::Io::kAgain:
        side.can_write = false;
        side.write_waits = side.io->WaitsFor(false);
        return false;
      case Transport::Io::kEof:
      case Transport::Io::kError:
        c.abort = true;
        return true;
    }
    return false;
  }

  void Drive(Conn& c) {
    if (c.lingering) return Linger(c);
    if (c.tls && !c.tls_done && !AdvanceTls(c)) return;  // handshaking, or closed
    if (c.h2) return DriveH2(c);
    bool progress = true;
    for (int round = 0; round < 64 && progress && !c.abort; ++round) {
      progress = false;
      // The client is read while requests may still come (or a tunnel is open).
      const bool want_client = c.rq != ReqState::kStopped;
      if (want_client) progress |= ReadInto(c, c.client, c.up, c.rq == ReqState::kHead);
      progress |= ReadInto(c, c.upstream, c.down, c.rs == RespState::kHead);
      ProcessRequests(c);
      if (c.want_h2) return StartH2(c);
      ProcessResponses(c);
      OnEofs(c);
      if (c.abort) break;
      if (!c.connecting) progress |= Flush(c, c.upstream, c.up);
      progress |= Flush(c, c.client, c.down);
    }
    if (c.abort) return Close(c);
    // Still moving after 64 rounds: the other connections get their turn, this one continues on
    // the next pass (edge-triggered readiness would not announce it again).
    if (progress) AddTimer(c, now_);
    if (Finished(c)) return Linger(c);
  }

  // Ends a finished connection: at once when the client has sent everything, else after a
  // half-close and draining what it still sends (bounded by kLingerNs).
  void Linger(Conn& c) {
    if (!c.lingering) {
      if (c.up.eof) return Close(c);
      c.lingering = true;
      ++lingering_;
      c.linger_until_ns = now_ + kLingerNs;
      c.upstream.io.reset();
      c.client.io->ShutdownWrite();
      c.client.can_read = true;
      AddTimer(c, c.linger_until_ns);
    }
    char sink[16384];
    for (int i = 0; i < 16; ++i) {
      if (now_ >= c.linger_until_ns) return Close(c);
      size_t n = 0;
      bool exhausted = false;
      const Transport::Io io = c.client.io->Read(sink, sizeof(sink), &n, &exhausted);
      if (io == Transport::Io::kAgain) return;
      if (io != Transport::Io::kOk) return Close(c);  // the client's FIN (or reset): done
    }
    AddTimer(c, now_);  // still sending: drained further on the next pass
  }

  // End-of-stream rules; sets abort, or stops/finishes sides.
  void OnEofs(Conn& c) {
    const bool tunnel = c.rs == RespState::kTunnel;
    if (c.up.eof) {
      if (tunnel) {
        if (c.up.Flushed() && !c.up.shut && !c.connecting) c.up.shut = true, c.upstream.io->ShutdownWrite();
      } else if (c.rq == ReqState::kHead) {
        if (c.up.Unprocessed().empty()) {
          c.rq = ReqState::kStopped;  // a half-close after whole requests: their responses still come
        } else if (c.ring_count < kMaxPipelined) {
          c.abort = true;  // the client left in the middle of a request head
        }
      } else if (c.rq == ReqState::kBody && c.up.Unprocessed().empty()) {
        c.abort = true;  // ... or of a request body
      }
    }
    if (c.down.eof) {
      if (tunnel) {
        if (c.down.Flushed() && !c.down.shut) c.down.shut = true, c.client.io->ShutdownWrite();
      } else if (c.rs == RespState::kBody && c.rs_body == http::BodyKind::kUntilClose) {
        if (c.rs_discard) c.down.in.Consume(c.down.Unprocessed().size());
        else c.down.Forward(c.down.Unprocessed().size());
        FinishResponse(c);
      } else if (c.rs == RespState::kHead && c.down.Unprocessed().empty() && !AwaitsUpstream(c)) {
        // The upstream closed an idle connection: answers of our own may still be owed.
        if (c.rq != ReqState::kAwaitTunnel) c.rq = ReqState::kStopped;
      } else if (c.rs != RespState::kDelay && c.rs != RespState::kSendHead) {
        Bump(counters_.upstream_errors);
        c.abort = true;  // gone in the middle of a response, or with requests unanswered
      }
    }
  }

  // Whether any exchange in flight waits for the upstream's response.
  [[nodiscard]] bool AwaitsUpstream(const Conn& c) const {
    for (size_t i = 0; i < c.ring_count; ++i) {
      if (!c.ring[(c.ring_first + i) % kMaxPipelined].decision.respond_now) return true;
    }
    return c.rq == ReqState::kBody || c.rq == ReqState::kDelay || c.rq == ReqState::kSendHead;
  }

  bool Finished(Conn& c) {
    if (c.rs == RespState::kTunnel) return c.up.eof && c.down.eof && c.up.Flushed() && c.down.Flushed();
    return c.rq == ReqState::kStopped && c.ring_count == 0 && c.rs == RespState::kHead && c.down.Flushed();
  }

  // --- TLS and HTTP/2 --------------------------------------------------------------------------

  // Moves the two handshakes; true once both are done and the connection speaks HTTP/1.1
  // (false: still handshaking, or the connection went to HTTP/2 or was closed).
  bool AdvanceTls(Conn& c) {
    switch (c.tls->Advance(!c.connecting)) {
      case TlsHandshakes::Step::kPending: return false;
      case TlsHandshakes::Step::kFailed:
        if (c.tls->upstream_failed()) Bump(counters_.upstream_errors);
        Close(c);
        return false;
      case TlsHandshakes::Step::kDone: break;
    }
    c.tls_done = true;
    c.active_ns = now_;
    // The handshakes used up the edges; OpenSSL may already hold application bytes.
    c.client.can_read = c.client.can_write = true;
    c.upstream.can_read = c.upstream.can_write = true;
    if (c.tls->h2()) {
      StartH2(c);
      return false;
    }
    return true;
  }

  void StartH2(Conn& c) {
    c.want_h2 = false;
    auto h = std::make_unique<H2Conn>();
    h->to_client.side = &c.client;
    h->to_upstream.side = &c.upstream;
    h->to_upstream.connecting = &c.connecting;
    core::http::H2BridgeSpec spec;
    spec.policy = &policy_;
    spec.client = c.peer;
    spec.draw = [this] { return draw_(rng_); };
    spec.now_ms = [this] { return static_cast<uint64_t>(now_ / kNsPerMs); };
    spec.to_client = &h->to_client;
    spec.to_upstream = &h->to_upstream;
    auto made = core::http::H2Bridge::Create(std::move(spec));
    if (!made.ok()) return Close(c);
    h->bridge = std::move(made).value();
    c.h2 = std::move(h);
    // What the HTTP/1.1 path read already: the client's preface and whatever followed it, and
    // what an HTTP/2 upstream sent at once (its SETTINGS may come before the client's preface).
    for (auto [flow, side] :
         {std::pair{&c.up, core::http::H2Side::kClient}, std::pair{&c.down, core::http::H2Side::kUpstream}}) {
      const std::string_view read = flow->in.View();
      if (read.empty()) continue;
      const bool ok = c.h2->bridge->Receive(side, reinterpret_cast<const uint8_t*>(read.data()), read.size()).ok();
      flow->in.Consume(read.size());
      if (!ok) return Close(c);
    }
    DriveH2(c);
  }

  // Reads one side into the bridge; true when something happened.
  bool ReadH2(Conn& c, Side& side, core::http::H2Side which, bool& lost, bool& failed) {
    if (lost || !side.can_read) return false;
    size_t n = 0;
    bool exhausted = false;
    switch (side.io->Read(h2_buf_, sizeof h2_buf_, &n, &exhausted)) {
      case Transport::Io::kOk:
        c.active_ns = now_;
        if (exhausted && !side.hup) side.can_read = false;
        if (!c.h2->bridge->Receive(which, reinterpret_cast<const uint8_t*>(h2_buf_), n).ok()) failed = true;
        return true;
      case Transport::Io::kEof:
      case Transport::Io::kError:
        lost = true;
        c.h2->bridge->Lost(which);
        return true;
      case Transport::Io::kAgain:
        side.can_read = false;
        side.read_waits = side.io->WaitsFor(true);
        return false;
    }
    return false;
  }

  void DriveH2(Conn& c) {
    H2Conn& h = *c.h2;
    core::http::H2Bridge& bridge = *h.bridge;
    bool failed = false;  // a side broke the protocol: what the bridge queued is sent, then close
    for (int round = 0; round < 64 && !failed; ++round) {
      bool progress = ReadH2(c, c.client, core::http::H2Side::kClient, h.client_lost, failed);
      if (!c.connecting) progress |= ReadH2(c, c.upstream, core::http::H2Side::kUpstream, h.upstream_lost, failed);
      if (!progress) break;
    }
    if (c.draining && !h.shutdown) {
      h.shutdown = true;
      bridge.Shutdown();
    }
    const auto first_due = bridge.NextDeadlineMs();
    if (first_due && static_cast<int64_t>(*first_due) * kNsPerMs <= now_) bridge.OnTimer();
    bridge.Flush();
    const core::http::H2Stats& s = bridge.stats();
    Bump(counters_.requests, static_cast<int64_t>(s.requests - h.synced.requests));
    Bump(counters_.matched, static_cast<int64_t>(s.matched - h.synced.matched));
    Bump(counters_.faulted, static_cast<int64_t>(s.faulted - h.synced.faulted));
    Bump(counters_.passed, static_cast<int64_t>(s.passed - h.synced.passed));
    Bump(counters_.upstream_errors, static_cast<int64_t>(s.upstream_errors - h.synced.upstream_errors));
    h.synced = s;
    if (failed || bridge.Finished() || (h.client_lost && h.upstream_lost)) return Close(c);
    if (const auto due = bridge.NextDeadlineMs()) {
      const int64_t at = static_cast<int64_t>(*due) * kNsPerMs;
      if (at != h.timer_ns) {
        h.timer_ns = at;
        AddTimer(c, at);
      }
    }
  }

  // --- requests -----------------------------------------------------------------------------

  void ProcessRequests(Conn& c) {
    for (;;) {
      switch (c.rq) {
        case ReqState::kHead:
          if (c.draining) {
            c.rq = ReqState::kStopped;
            return;
          }
          if (!ParseRequest(c)) return;
          continue;
        case ReqState::kDelay:
          if (now_ < c.rq_wake_ns) return;
          c.rq = ReqState::kSendHead;
          continue;
        case ReqState::kSendHead:
          if (c.rq_rewrite) {
            if (c.up.fwd > 0) return;
            c.up.in.Consume(c.rq_head_len);
            c.up.Append(c.rq_head);
          } else {
            c.up.Forward(c.rq_head_len);
          }
          c.rq = c.rq_body == http::BodyKind::kNone ? AfterRequest(c) : ReqState::kBody;
          continue;
        case ReqState::kBody: {
          const std::string_view un = c.up.Unprocessed();
          if (un.empty()) return;
          size_t n = 0;
          bool done = false;
          if (c.rq_body == http::BodyKind::kLength) {
            n = static_cast<size_t>(std::min<uint64_t>(un.size(), c.rq_remaining));
            c.rq_remaining -= n;
            done = c.rq_remaining == 0;
          } else {
            const auto r = c.rq_chunks.Consume(un, &n);
            if (r == http::ChunkedFramer::Result::kBad) return void(c.abort = true);
            done = r == http::ChunkedFramer::Result::kDone;
          }
          if (c.rq_discard) {
            if (c.up.fwd > 0) return;  // bytes are dropped only behind what is approved
            c.up.in.Consume(n);
          } else {
            c.up.Forward(n);
          }
          if (done) c.rq = AfterRequest(c);
          continue;
        }
        case ReqState::kTunnel:
          c.up.Forward(c.up.Unprocessed().size());
          return;
        case ReqState::kAwaitTunnel:
        case ReqState::kStopped:
          return;
      }
    }
  }

  ReqState AfterRequest(const Conn& c) {
    if (c.rq_tunnel) return ReqState::kAwaitTunnel;
    return c.rq_keep && !c.draining ? ReqState::kHead : ReqState::kStopped;
  }

  // Answers the request at the front of the unprocessed bytes with `status` and stops reading.
  void Refuse(Conn& c, int status) {
    Exchange& ex = c.Push();
    ex = Exchange{};
    ex.close_after = true;
    ex.decision.respond_now = true;
    ex.decision.respond_status = status;
    ex.decision.respond_body = status == 431 ? "faultd: request head too large\n" : "faultd: malformed request\n";
    c.rq = ReqState::kStopped;
  }

  // Parses the next request head, decides, and queues its exchange; false when none is complete.
  bool ParseRequest(Conn& c) {
    if (c.ring_count == kMaxPipelined) return false;  // responses first
    const std::string_view un = c.up.Unprocessed();
    if (un.empty()) return false;
    if (c.first_bytes) {
      // HTTP/2 with prior knowledge: the connection goes to the HTTP/2 bridge (StartH2).
      const size_t n = std::min(un.size(), http::kH2Preface.size());
      if (un.substr(0, n) == http::kH2Preface.substr(0, n)) {
        if (n < http::kH2Preface.size()) return false;
        c.want_h2 = true;
        return false;
      }
      c.first_bytes = false;
      // A TLS record (a ClientHello) where no certificate is configured: TLS to a redirected port
      // (Harness's egress default 8443) is relayed untouched both ways, never answered in HTTP.
      if (!c.tls && static_cast<uint8_t>(un[0]) == kTlsHandshakeRecord) {
        c.rq = ReqState::kTunnel;
        c.rs = RespState::kTunnel;
        return true;
      }
    }
    const size_t end = http::FindHeadEnd(un.substr(0, std::min(un.size(), http::kMaxHeadBytes + 3)), &c.rq_scan);
    if (end == 0) {
      if (un.size() > http::kMaxHeadBytes) Refuse(c, 431);
      return false;
    }
    http::Head& h = head_;
    const http::ParseResult r = http::ParseRequest(un.substr(0, end), &h, end);
    c.rq_scan = 0;
    if (r != http::ParseResult::kOk) {
      Refuse(c, r == http::ParseResult::kTooLarge ? 431 : 400);
      return false;
    }
    Bump(counters_.requests);
    for (size_t i = 0; i < h.header_count; ++i) views_[i] = {h.headers[i].name, h.headers[i].value};
    const HttpRequestView view{h.method, h.target, std::span<const HttpHeaderView>(views_, h.header_count)};
    Exchange& ex = c.Push();
    ex.decision = Decide(policy_, view, c.peer, draw_(rng_));
    const HttpDecision& d = ex.decision;
    if (d.matched) Bump(counters_.matched);
    Bump(d.faulted ? counters_.faulted : counters_.passed);
    ex.head = h.method == "HEAD";
    ex.connect = h.method == "CONNECT";
    ex.upgrade = h.upgrade;
    ex.close_after = !h.keep_alive;
    ex.version_minor = h.version_minor;
    c.rq_head_len = end;
    c.rq_body = h.body;
    c.rq_remaining = h.content_length;
    c.rq_chunks.Reset();
    c.rq_keep = h.keep_alive;
    if (d.respond_now) {
      // Blocked: nothing of it goes upstream. A client that waits for 100-continue may never
      // send the body it announced, so the connection ends after the answer.
      if (h.expect_continue && h.body != http::BodyKind::kNone) ex.close_after = true, c.rq_keep = false;
      ex.connect = ex.upgrade = false;
      c.rq_tunnel = false;
      c.rq_discard = true;
      c.rq_rewrite = true;
      c.rq_head.clear();
      c.rq = ReqState::kSendHead;
      return true;
    }
    c.rq_tunnel = ex.connect || ex.upgrade;
    c.rq_discard = d.replace_request_body;
    c.rq_rewrite = d.edit_request_headers || d.replace_request_body;
    if (c.rq_rewrite) RewriteRequest(h, d, &c.rq_head);
    if (d.request_delay_ms > 0) {
      c.rq_wake_ns = now_ + static_cast<int64_t>(d.request_delay_ms) * kNsPerMs;
      AddTimer(c, c.rq_wake_ns);
      c.rq = ReqState::kDelay;
    } else {
      c.rq = ReqState::kSendHead;
    }
    return true;
  }

  void RewriteRequest(const http::Head& h, const HttpDecision& d, std::string* out) {
    std::vector<HttpHeader> fields;
    fields.reserve(h.header_count + 2);
    for (size_t i = 0; i < h.header_count; ++i) fields.push_back({std::string(h.headers[i].name), std::string(h.headers[i].value)});
    if (d.edit_request_headers) ApplyHeaderEdits(policy_, fields);
    if (d.replace_request_body) {
      ReframeForBody(fields, d.body.size());
      std::erase_if(fields, [](const HttpHeader& f) { return NameEquals(f.name, "expect"); });
    }
    out->clear();
    http::AppendRequestLine(*out, h.method, h.target, h.version_minor);
    http::AppendFields(*out, fields);
    out->append("\r\n");
    if (d.replace_request_body) out->append(d.body);
  }

  // --- responses ----------------------------------------------------------------------------

  void ProcessResponses(Conn& c) {
    for (;;) {
      switch (c.rs) {
        case RespState::kHead:
          if (!ParseResponse(c)) return;
          continue;
        case RespState::kDelay:
          if (now_ < c.rs_wake_ns) return;
          c.rs = RespState::kSendHead;
          continue;
        case RespState::kSendHead:
          if (c.rs_rewrite) {
            if (c.down.fwd > 0) return;
            c.down.in.Consume(c.rs_head_len);
            c.down.Append(c.rs_head);
          } else {
            c.down.Forward(c.rs_head_len);
          }
          if (c.rs_body == http::BodyKind::kTunnel) {
            c.Pop();
            c.rs = RespState::kTunnel;
            c.rq = ReqState::kTunnel;
            continue;
          }
          if (c.rs_body == http::BodyKind::kNone) {
            FinishResponse(c);
          } else {
            c.rs = RespState::kBody;
          }
          continue;
        case RespState::kBody: {
          const std::string_view un = c.down.Unprocessed();
          if (un.empty()) return;
          size_t n = 0;
          bool done = false;
          if (c.rs_body == http::BodyKind::kLength) {
            n = static_cast<size_t>(std::min<uint64_t>(un.size(), c.rs_remaining));
            c.rs_remaining -= n;
            done = c.rs_remaining == 0;
          } else if (c.rs_body == http::BodyKind::kChunked) {
            const auto r = c.rs_chunks.Consume(un, &n);
            if (r == http::ChunkedFramer::Result::kBad) {
              Bump(counters_.upstream_errors);
              return void(c.abort = true);
            }
            done = r == http::ChunkedFramer::Result::kDone;
          } else {
            n = un.size();  // until the upstream closes (OnEofs finishes it)
          }
          if (c.rs_discard) {
            if (c.down.fwd > 0) return;
            c.down.in.Consume(n);
          } else {
            c.down.Forward(n);
          }
          if (done) FinishResponse(c);
          continue;
        }
        case RespState::kTunnel:
          c.down.Forward(c.down.Unprocessed().size());
          return;
      }
    }
  }

  void FinishResponse(Conn& c) {
    const Exchange& ex = c.Front();
    const bool tunnel_refused = ex.connect || ex.upgrade;
    c.Pop();
    c.rs = RespState::kHead;
    if (!c.rs_keep) {
      c.rq = ReqState::kStopped;
      c.ring_count = 0;  // requests read ahead are not answered: the connection ends here
    } else if (tunnel_refused && c.rq == ReqState::kAwaitTunnel) {
      c.rq = c.rq_keep && !c.draining ? ReqState::kHead : ReqState::kStopped;
    }
  }

  // Whether this is the last response the connection will carry (so it says Connection: close).
  static bool LastOnConnection(const Conn& c, const Exchange& ex) {
    return ex.close_after || (c.ring_count == 1 && (c.rq == ReqState::kStopped || c.draining));
  }

  bool ParseResponse(Conn& c) {
    if (c.ring_count == 0) return false;  // bytes without a request wait (or end with EOF)
    Exchange& ex = c.Front();
    if (ex.decision.respond_now) {
      if (c.down.fwd > 0) return false;
      Answer(c, ex);
      const bool last = LastOnConnection(c, ex);
      c.Pop();
      if (last) {
        c.rq = ReqState::kStopped;
        c.ring_count = 0;
      }
      return true;
    }
    const std::string_view un = c.down.Unprocessed();
    if (un.empty()) return false;
    const size_t end = http::FindHeadEnd(un.substr(0, std::min(un.size(), http::kMaxHeadBytes + 3)), &c.rs_scan);
    if (end == 0) {
      if (un.size() > http::kMaxHeadBytes) Bump(counters_.upstream_errors), c.abort = true;
      return false;
    }
    http::Head& h = head_;
    const http::ParseResult r = http::ParseResponse(un.substr(0, end), {ex.head, ex.connect, ex.upgrade}, &h, end);
    c.rs_scan = 0;
    if (r != http::ParseResult::kOk) {
      Bump(counters_.upstream_errors);
      c.abort = true;
      return false;
    }
    c.rs_head_len = end;
    if (h.interim) {  // 100 Continue, 103 Early Hints: relayed as they are, the final one follows
      c.down.Forward(end);
      return true;
    }
    const HttpDecision& d = ex.decision;
    const bool close = LastOnConnection(c, ex) && h.body != http::BodyKind::kTunnel;
    c.rs_keep = h.keep_alive && !close;
    c.rs_body = h.body;
    c.rs_remaining = h.content_length;
    c.rs_chunks.Reset();
    c.rs_discard = false;
    c.rs_rewrite = false;
    const bool edits = d.replace_status != 0 || d.replace_response_body || d.edit_response_headers;
    // A close the upstream did not announce (faultd stopping, the client's request said so)
    // is told to the client.
    const bool add_close = close && h.keep_alive;
    if ((edits || add_close) && h.body != http::BodyKind::kTunnel) {
      c.rs_rewrite = true;
      RewriteResponse(c, ex, h, add_close);
    }
    if (d.response_delay_ms > 0) {
      c.rs_wake_ns = now_ + static_cast<int64_t>(d.response_delay_ms) * kNsPerMs;
      AddTimer(c, c.rs_wake_ns);
      c.rs = RespState::kDelay;
    } else {
      c.rs = RespState::kSendHead;
    }
    return true;
  }

  void RewriteResponse(Conn& c, const Exchange& ex, const http::Head& h, bool add_close) {
    const HttpDecision& d = ex.decision;
    std::vector<HttpHeader> fields;
    fields.reserve(h.header_count + 2);
    for (size_t i = 0; i < h.header_count; ++i) fields.push_back({std::string(h.headers[i].name), std::string(h.headers[i].value)});
    if (d.edit_response_headers) ApplyHeaderEdits(policy_, fields);
    const int status = d.replace_status != 0 ? d.replace_status : h.status;
    const bool had_body = h.body != http::BodyKind::kNone;
    const bool may_have_body = !ex.head && status >= 200 && status != 204 && status != 304;
    bool send_body = false;
    if (d.replace_response_body || (d.replace_status != 0 && had_body != may_have_body)) {
      // The original body is dropped; what replaces it (maybe nothing) is framed by length.
      c.rs_discard = had_body;
      if (may_have_body || ex.head) {
        ReframeForBody(fields, d.replace_response_body ? d.body.size() : 0);
        send_body = may_have_body && d.replace_response_body;
      } else {
        std::erase_if(fields, [](const HttpHeader& f) { return NameEquals(f.name, "content-length") || NameEquals(f.name, "transfer-encoding"); });
      }
    }
    if (add_close) {
      std::erase_if(fields, [](const HttpHeader& f) { return NameEquals(f.name, "connection") || NameEquals(f.name, "keep-alive"); });
      fields.push_back({"Connection", "close"});
    }
    std::string& out = c.rs_head;
    out.clear();
    http::AppendStatusLine(out, h.version_minor, status, d.replace_status != 0 ? ReasonPhrase(status) : h.reason);
    http::AppendFields(out, fields);
    out.append("\r\n");
    if (send_body) out.append(d.body);
  }

  // The interceptor's own answer to a blocked (or refused) request.
  void Answer(Conn& c, const Exchange& ex) {
    const HttpDecision& d = ex.decision;
    const bool last = LastOnConnection(c, ex);
    std::string head;
    http::AppendStatusLine(head, 1, d.respond_status, ReasonPhrase(d.respond_status));
    head.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    head.append(std::to_string(d.respond_body.size()));
    head.append(last ? "\r\nConnection: close\r\n\r\n" : ex.version_minor == 0 ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\n\r\n");
    if (!ex.head) head.append(d.respond_body);
    c.down.Append(head);
  }

  const HttpInterceptorSpec& spec_;
  int listener_;
  const HttpPolicy& policy_;
  LoopCounters& counters_;
  int wake_fd_;
  uint32_t max_connections_;
  UniqueFd epoll_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<uint32_t> free_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  uint32_t serial_ = 0;
  uint32_t open_ = 0;
  uint32_t lingering_ = 0;
  int64_t now_ = 0;
  bool accepting_ = true;
  bool accept_paused_ = false;
  bool at_capacity_ = false;
  bool draining_ = false;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> draw_{0.0, 1.0};
  http::Head head_;  // scratch: parsed and used within one call
  char h2_buf_[64 * 1024];  // scratch: bytes read for the HTTP/2 bridge (it copies what it keeps)
  HttpHeaderView views_[http::kMaxHeaders];
};

core::Result<UniqueFd> Listener(int family, uint16_t port) {
  UniqueFd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return core::ErrnoError("socket");
  const int one = 1, zero = 0;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) return core::ErrnoError("setsockopt", "SO_REUSEPORT");
  if (family == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  sockaddr_storage addr{};
  const socklen_t len = core::ListenAddress(family, core::BindScope::kAnyAddress, port, &addr);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return core::ErrnoError("bind");
  if (listen(fd.get(), 1024) != 0) return core::ErrnoError("listen");
  return fd;
}

using core::BoundPort;

}  // namespace

core::Result<HttpInterceptor> HttpInterceptor::Bind(const HttpInterceptorSpec& spec) noexcept {
  if (spec.threads < 1) return core::SysError{EINVAL, "bind", "threads must be at least 1"};
  std::vector<UniqueFd> listeners;
  // Dual-stack [::] where the kernel has IPv6, else 0.0.0.0; every thread on the same port.
  auto first = Listener(AF_INET6, spec.port);
  int family = AF_INET6;
  if (!first.ok() && (first.error().err == EAFNOSUPPORT || first.error().err == EADDRNOTAVAIL)) {
    family = AF_INET;
    first = Listener(AF_INET, spec.port);
  }
  if (!first.ok()) return first.error();
  const uint16_t port = BoundPort(first.value().get());
  listeners.push_back(std::move(first).value());
  for (int i = 1; i < spec.threads; ++i) {
    auto more = Listener(family, port);
    if (!more.ok()) return more.error();
    listeners.push_back(std::move(more).value());
  }
  // Two descriptors per connection: make room for max_connections if the hard limit allows.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  return HttpInterceptor(spec, std::move(listeners), port);
}

core::Status HttpInterceptor::Run(const HttpPolicy& policy, const sigset_t& stop_signals,
                                  const std::function<void(const HttpStats&)>& on_tick) noexcept {
  const size_t n = listeners_.size();
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return core::ErrnoError("eventfd");
  std::vector<LoopCounters> counters(n);
  const uint32_t per_loop = std::max<uint32_t>(1, spec_.max_connections / static_cast<uint32_t>(n));
  std::atomic<bool> stop{false};
  core::WorkerThreads threads;
  const core::Status started = threads.Start(static_cast<int>(n), "http-loop", [&](int index, const std::atomic<bool>&) {
    Loop loop(spec_, listeners_[static_cast<size_t>(index)].get(), policy, counters[static_cast<size_t>(index)], wake.get(), per_loop);
    loop.Run(stop);
  });
  if (!started.ok()) return started;
  auto snapshot = [&] {
    HttpStats s;
    for (const LoopCounters& c : counters) {
      s.connections += c.connections.load(std::memory_order_relaxed);
      s.open += c.open.load(std::memory_order_relaxed);
      s.requests += c.requests.load(std::memory_order_relaxed);
      s.matched += c.matched.load(std::memory_order_relaxed);
      s.faulted += c.faulted.load(std::memory_order_relaxed);
      s.passed += c.passed.load(std::memory_order_relaxed);
      s.upstream_errors += c.upstream_errors.load(std::memory_order_relaxed);
    }
    return s;
  };
  const timespec second{1, 0};
  for (;;) {
    const int sig = sigtimedwait(&stop_signals, nullptr, &second);
    if (sig > 0) break;
    if (sig < 0 && errno == EAGAIN) on_tick(snapshot());
  }
  stop.store(true, std::memory_order_relaxed);
  const uint64_t one = 1;
  (void)!write(wake.get(), &one, sizeof(one));
  threads.Join();
  on_tick(snapshot());
  return core::Ok{};
}

}  // namespace faultd::inj
