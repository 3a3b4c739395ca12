// SPDX-License-Identifier: Apache-2.0
#include "nfqueue_delayer.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <queue>
#include <random>

#include "../core/clock.h"
#include "../core/netlink/attr.h"
#include "../core/netlink/socket.h"

namespace faultd::inj {
namespace {

using core::nl::AttrWriter;

constexpr size_t kRecvBatch = 64;          // datagrams per recvmmsg
constexpr size_t kRecvBytes = 4096;        // one packet's metadata message is < 512 bytes
constexpr int kSocketBufferBytes = 16 << 20;
constexpr size_t kVerdictFlushBytes = 32 * 1024;
constexpr int64_t kTickNs = core::kNsPerSec;

uint16_t QueueType(int msg) { return static_cast<uint16_t>((NFNL_SUBSYS_QUEUE << 8) | msg); }

void BeginMessage(AttrWriter& w, uint16_t type, uint16_t flags, uint32_t seq, uint16_t queue) {
  nlmsghdr header{};
  header.nlmsg_type = type;
  header.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  header.nlmsg_seq = seq;
  w.AppendStruct(header);
  nfgenmsg gen{};
  gen.nfgen_family = AF_UNSPEC;
  gen.version = NFNETLINK_V0;
  gen.res_id = htons(queue);
  w.AppendStruct(gen);
}

void FinishMessage(std::vector<uint8_t>& bytes, size_t at) {
  const auto len = static_cast<uint32_t>(bytes.size() - at);
  std::memcpy(bytes.data() + at, &len, sizeof(len));
}

struct Held {
  int64_t release_ns;
  uint32_t id;
  bool operator>(const Held& other) const noexcept { return release_ns > other.release_ns; }
};

}  // namespace

std::vector<uint8_t> EncodeQueueBind(uint16_t queue, uint32_t max_len, uint32_t seq) noexcept {
  AttrWriter w(512);
  BeginMessage(w, QueueType(NFQNL_MSG_CONFIG), NLM_F_ACK, seq, queue);
  nfqnl_msg_config_cmd cmd{};
  cmd.command = NFQNL_CFG_CMD_BIND;
  cmd.pf = htons(AF_UNSPEC);
  w.PutStruct(NFQA_CFG_CMD, cmd);
  nfqnl_msg_config_params params{};
  params.copy_range = htonl(0);
  params.copy_mode = NFQNL_COPY_META;
  w.Put(NFQA_CFG_PARAMS, &params, sizeof(params));
  w.PutU32(NFQA_CFG_QUEUE_MAXLEN, htonl(max_len));
  const uint32_t flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;
  w.PutU32(NFQA_CFG_MASK, htonl(flags));
  w.PutU32(NFQA_CFG_FLAGS, htonl(flags));
  std::vector<uint8_t> bytes = w.bytes();
  FinishMessage(bytes, 0);
  return bytes;
}

void AppendAcceptVerdict(std::vector<uint8_t>& out, uint16_t queue, uint32_t id) noexcept {
  AttrWriter w(64);
  BeginMessage(w, QueueType(NFQNL_MSG_VERDICT), 0, 0, queue);
  nfqnl_msg_verdict_hdr verdict{};
  verdict.verdict = htonl(NF_ACCEPT);
  verdict.id = htonl(id);
  w.PutStruct(NFQA_VERDICT_HDR, verdict);
  const size_t at = out.size();
  out.insert(out.end(), w.bytes().begin(), w.bytes().end());
  FinishMessage(out, at);
}

bool ParsePacketId(std::span<const uint8_t> payload, uint32_t* id) noexcept {
  const size_t header = core::nl::Align(sizeof(nfgenmsg));
  if (payload.size() < header) return false;
  const auto attrs = core::nl::ParseAttrs(payload.subspan(header));
  const auto hdr = core::nl::FindAttr(attrs, NFQA_PACKET_HDR);
  if (!hdr) return false;
  const auto packet = hdr->As<nfqnl_msg_packet_hdr>();
  if (!packet) return false;
  *id = ntohl(packet->packet_id);
  return true;
}

core::Result<NfqueueDelayer> NfqueueDelayer::Bind(uint16_t queue, uint32_t max_len) noexcept {
  core::UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd.valid()) return core::ErrnoError("socket", "AF_NETLINK NETLINK_NETFILTER");
  const int one = 1;
  // A burst must not overflow the socket: the kernel drops (not bypasses) what it cannot queue
  // to us. RCVBUFFORCE needs CAP_NET_ADMIN, which the delayer has; fall back to the capped size.
  if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &kSocketBufferBytes, sizeof(kSocketBufferBytes)) != 0) {
    (void)setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &kSocketBufferBytes, sizeof(kSocketBufferBytes));
  }
  (void)setsockopt(fd.get(), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
  (void)setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return core::ErrnoError("bind", "netlink");
  const auto request = EncodeQueueBind(queue, max_len, 1);
  if (send(fd.get(), request.data(), request.size(), 0) < 0) return core::ErrnoError("sendmsg", "NFQNL_MSG_CONFIG");
  // The ACK (or error) comes before any packet: nothing is queued to us until the bind is done.
  std::array<uint8_t, 8192> reply{};
  for (;;) {
    const ssize_t n = recv(fd.get(), reply.data(), reply.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return core::ErrnoError("recvmsg", "NFQNL_MSG_CONFIG");
    const auto* header = reinterpret_cast<const nlmsghdr*>(reply.data());
    if (static_cast<size_t>(n) < sizeof(nlmsghdr) || header->nlmsg_type != NLMSG_ERROR) continue;
    const std::span<const uint8_t> payload(reply.data() + NLMSG_HDRLEN, static_cast<size_t>(n) - NLMSG_HDRLEN);
    core::SysError error = core::nl::DecodeError(payload, header->nlmsg_flags, "NFQNL_MSG_CONFIG");
    if (error.err == 0) break;
    if (error.err == EBUSY && error.detail.empty()) error.detail = "queue " + std::to_string(queue) + " is bound by another process";
    return error;
  }
  return NfqueueDelayer(std::move(fd), queue);
}

core::Status NfqueueDelayer::Run(DelaySampler& sampler, const sigset_t& stop_signals,
                                 const std::function<void(const DelayerStats&)>& on_tick) noexcept {
  (void)prctl(PR_SET_TIMERSLACK, 1UL);  // release times to the microsecond, not the default 50 µs
  core::UniqueFd signals(signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signals.valid()) return core::ErrnoError("signalfd");
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held;
  DelayerStats stats;
  std::vector<uint8_t> verdicts;
  verdicts.reserve(kVerdictFlushBytes + 64);
  std::vector<std::array<uint8_t, kRecvBytes>> buffers(kRecvBatch);
  std::array<iovec, kRecvBatch> iov{};
  std::array<mmsghdr, kRecvBatch> msgs{};
  const auto flush = [&]() -> core::Status {
    if (verdicts.empty()) return core::Ok{};
    const ssize_t sent = send(fd_.get(), verdicts.data(), verdicts.size(), 0);
    verdicts.clear();
    if (sent < 0) return core::ErrnoError("sendmsg", "NFQNL_MSG_VERDICT");
    return core::Ok{};
  };
  const auto release = [&](int64_t now, bool all) -> core::Status {
    while (!held.empty() && (all || held.top().release_ns <= now)) {
      const int64_t late = now - held.top().release_ns;
      if (!all && late > stats.max_late_ns) stats.max_late_ns = late;
      AppendAcceptVerdict(verdicts, queue_, held.top().id);
      held.pop();
      ++stats.delayed;
      if (verdicts.size() >= kVerdictFlushBytes) {
        if (auto sent = flush(); !sent.ok()) return sent;
      }
    }
    stats.held = held.size();
    return flush();
  };
  int64_t next_tick = core::MonotonicNs() + kTickNs;
  for (;;) {
    const int64_t now = core::MonotonicNs();
    const int64_t wake = held.empty() ? next_tick : std::min(next_tick, held.top().release_ns);
    const int64_t wait_ns = std::max<int64_t>(0, wake - now);
    const timespec timeout{static_cast<time_t>(wait_ns / core::kNsPerSec), static_cast<long>(wait_ns % core::kNsPerSec)};
    std::array<pollfd, 2> fds{{{fd_.get(), POLLIN, 0}, {signals.get(), POLLIN, 0}}};
    if (ppoll(fds.data(), fds.size(), &timeout, nullptr) < 0 && errno != EINTR) return core::ErrnoError("ppoll");
    const bool stopping = fds[1].revents != 0;
    // On stop, the packets still waiting in the socket are read too and released with the held
    // ones: closing the socket would make the kernel drop them.
    for (bool more = stopping || (fds[0].revents & POLLIN) != 0; more;) {
      for (size_t i = 0; i < kRecvBatch; ++i) {
        iov[i] = {buffers[i].data(), buffers[i].size()};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = recvmmsg(fd_.get(), msgs.data(), kRecvBatch, MSG_DONTWAIT, nullptr);
      if (n < 0 && errno != EAGAIN && errno != EINTR) ++stats.recv_errors;
      const int64_t arrived = core::MonotonicNs();
      for (int i = 0; i < n; ++i) {
        std::span<const uint8_t> datagram(buffers[i].data(), msgs[i].msg_len);
        while (datagram.size() >= sizeof(nlmsghdr)) {
          nlmsghdr header;
          std::memcpy(&header, datagram.data(), sizeof(header));
          if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > datagram.size()) break;
          uint32_t id = 0;
          if (header.nlmsg_type == QueueType(NFQNL_MSG_PACKET) &&
              ParsePacketId(datagram.subspan(NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN), &id)) {
            held.push({arrived + sampler.Next(), id});
          }
          datagram = datagram.subspan(std::min<size_t>(NLMSG_ALIGN(header.nlmsg_len), datagram.size()));
        }
      }
      if (held.size() > stats.peak_held) stats.peak_held = held.size();
      more = stopping && n == static_cast<int>(kRecvBatch);
    }
    if (stopping) return release(core::MonotonicNs(), true);
    const int64_t after = core::MonotonicNs();
    if (auto released = release(after, false); !released.ok()) return released;
    if (after >= next_tick) {
      on_tick(stats);
      next_tick = after + kTickNs;
    }
  }
}

}  // namespace faultd::inj
