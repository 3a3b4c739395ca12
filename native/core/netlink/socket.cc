// SPDX-License-Identifier: Apache-2.0
#include "socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG 1
#endif

namespace faultd::core::nl {
namespace {

constexpr size_t kRxBytes = 64 * 1024;

}  // namespace

Request::Request(uint16_t type, uint16_t flags) noexcept : type_(type), writer_(kMaxRequestBytes) {
  nlmsghdr header{};
  header.nlmsg_type = type;
  header.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  writer_.AppendStruct(header);
}

Result<Socket> Socket::Open(int protocol) noexcept {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
  if (!fd.valid()) return ErrnoError("socket");
  const int one = 1;
  // Both are best effort: kernels before 4.12 lack extack and still work.
  (void)::setsockopt(fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  (void)::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  // A reply that never comes must not hang faultd (calls are synchronous): give up after 5 s.
  const timeval timeout{5, 0};
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  // Room for the ACK of every message of a large nf_tables batch (FORCE works as root).
  const int rcvbuf = 4 * 1024 * 1024;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return ErrnoError("bind");
  return Socket(std::move(fd));
}

Status Socket::Send(Request& request, uint16_t extra_flags, uint32_t* seq) noexcept {
  if (!request.writer_.ok()) return SysError{EMSGSIZE, "netlink", "request larger than the builder's bound"};
  auto& bytes = request.writer_.mutable_bytes();
  auto* header = reinterpret_cast<nlmsghdr*>(bytes.data());
  header->nlmsg_len = static_cast<uint32_t>(bytes.size());
  header->nlmsg_flags = static_cast<uint16_t>(header->nlmsg_flags | extra_flags);
  header->nlmsg_seq = *seq = next_seq_++;
  return SendBytes(bytes);
}

Result<SocketLease> LeaseSocket(int protocol) noexcept {
  struct Shared {
    std::mutex mutex;
    std::optional<Socket> socket;
  };
  // Function-local statics: constructed on first use, thread-safe, never destroyed before use ends.
  static Shared route;
  static Shared netfilter;
  Shared* shared = protocol == NETLINK_ROUTE ? &route : protocol == NETLINK_NETFILTER ? &netfilter : nullptr;
  if (shared == nullptr) return SysError{EINVAL, "socket", "no shared socket for this netlink protocol"};
  std::unique_lock<std::mutex> lock(shared->mutex);
  if (!shared->socket) {
    auto opened = Socket::Open(protocol);
    if (!opened.ok()) return opened.error();
    shared->socket.emplace(std::move(opened).value());
  }
  return SocketLease(std::move(lock), &*shared->socket);
}

SysError DecodeError(std::span<const uint8_t> payload, uint16_t flags, const char* syscall) noexcept {
  nlmsgerr err{};
  if (payload.size() < sizeof(err)) return SysError{EBADMSG, syscall, "truncated NLMSG_ERROR"};
  std::memcpy(&err, payload.data(), sizeof(err));
  SysError result{-err.error, syscall, {}};
  if ((flags & NLM_F_ACK_TLVS) == 0) return result;
  // With NETLINK_CAP_ACK the original request is not echoed, only its header.
  size_t tlv_offset = sizeof(err);
  if ((flags & NLM_F_CAPPED) == 0) tlv_offset = sizeof(int) + Align(err.msg.nlmsg_len);
  if (tlv_offset > payload.size()) return result;
  const auto attrs = ParseAttrs(payload.subspan(tlv_offset));
  if (const auto msg = FindAttr(attrs, NLMSGERR_ATTR_MSG)) result.detail = std::string(msg->AsString());
  return result;
}

Status Socket::ReadMessages(const char* syscall, const MessageHandler& on_message) noexcept {
  rx_.resize(kRxBytes);
  for (;;) {
    ssize_t got = 0;
    do {
      got = ::recv(fd_.get(), rx_.data(), rx_.size(), 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return SysError{ETIMEDOUT, syscall, "no netlink reply within 5 s"};
    if (got < 0) return ErrnoError("recv");
    size_t at = 0;
    while (at + sizeof(nlmsghdr) <= static_cast<size_t>(got)) {
      nlmsghdr header{};
      std::memcpy(&header, rx_.data() + at, sizeof(header));
      if (header.nlmsg_len < sizeof(nlmsghdr) || at + header.nlmsg_len > static_cast<size_t>(got)) {
        return SysError{EBADMSG, syscall, "malformed netlink reply"};
      }
      const std::span<const uint8_t> payload(rx_.data() + at + sizeof(nlmsghdr), header.nlmsg_len - sizeof(nlmsghdr));
      at += Align(header.nlmsg_len);
      if (auto done = on_message(header, payload)) return *done;
    }
  }
}

Status Socket::Receive(uint32_t seq, const char* syscall, const std::function<void(const Reply&)>& on_reply) noexcept {
  return ReadMessages(syscall, [&](const nlmsghdr& header, std::span<const uint8_t> payload) -> std::optional<Status> {
    if (header.nlmsg_seq != seq) return std::nullopt;  // a stale reply of an earlier request
    if (header.nlmsg_type == NLMSG_ERROR) {
      SysError error = DecodeError(payload, header.nlmsg_flags, syscall);
      if (error.err == 0) return Status(Ok{});
      return Status(std::move(error));
    }
    if (header.nlmsg_type == NLMSG_DONE) return Status(Ok{});
    on_reply(Reply{header.nlmsg_type, payload});
    return std::nullopt;
  });
}

Status Socket::SendBytes(std::span<const uint8_t> bytes) noexcept {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent = 0;
  do {
    sent = ::sendto(fd_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return ErrnoError("sendto");
  return Ok{};
}

Status Socket::AwaitAcks(uint32_t first, uint32_t last, const char* syscall) noexcept {
  uint32_t acked = 0;
  const uint32_t wanted = last - first + 1;
  return ReadMessages(syscall, [&](const nlmsghdr& header, std::span<const uint8_t> payload) -> std::optional<Status> {
    // Errors about the batch as a whole (permission, missing subsystem, a failed commit) come
    // with the sequence number of the batch's begin or end message.
    if (header.nlmsg_type != NLMSG_ERROR || header.nlmsg_seq + 1 < first || header.nlmsg_seq > last + 1) return std::nullopt;
    SysError error = DecodeError(payload, header.nlmsg_flags, syscall);
    if (error.err != 0) return Status(std::move(error));
    if (header.nlmsg_seq >= first && header.nlmsg_seq <= last) ++acked;
    if (acked == wanted) return Status(Ok{});
    return std::nullopt;
  });
}

Status Socket::Transact(Request& request, const char* syscall) noexcept {
  uint32_t seq = 0;
  if (auto sent = Send(request, NLM_F_ACK, &seq); !sent.ok()) return sent;
  return Receive(seq, syscall, [](const Reply&) {});
}

Status Socket::Query(Request& request, const char* syscall, const std::function<void(const Reply&)>& on_reply) noexcept {
  uint32_t seq = 0;
  if (auto sent = Send(request, NLM_F_ACK, &seq); !sent.ok()) return sent;
  return Receive(seq, syscall, on_reply);
}

Status Socket::Dump(Request& request, const char* syscall, const std::function<void(const Reply&)>& on_reply) noexcept {
  uint32_t seq = 0;
  if (auto sent = Send(request, NLM_F_DUMP, &seq); !sent.ok()) return sent;
  return Receive(seq, syscall, on_reply);
}

}  // namespace faultd::core::nl
