// SPDX-License-Identifier: Apache-2.0
#include "http_interceptor.h"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <vector>

#include "../core/socket_address.h"
#include "../core/worker_threads.h"
#include "http_loop.h"

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

using core::UniqueFd;
using http_loop::Loop;
using http_loop::LoopCounters;

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
