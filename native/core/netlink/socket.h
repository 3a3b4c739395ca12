// SPDX-License-Identifier: Apache-2.0
// A netlink socket that asks the kernel for extended ACKs, so every failure carries errno and
// the kernel's own explanation (e.g. RTM_NEWQDISC ENOENT: "Specified qdisc kind is unknown").
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "../sys_result.h"
#include "../unique_fd.h"
#include "attr.h"

namespace faultd::core::nl {

/// Largest request we build; large enough for a netem delay distribution table (8 KiB).
constexpr size_t kMaxRequestBytes = 64 * 1024;

/// A request: nlmsghdr + family header + attributes. Length and sequence are set on send.
class Request {
 public:
  Request(uint16_t type, uint16_t flags) noexcept;
  AttrWriter& body() noexcept { return writer_; }
  [[nodiscard]] uint16_t type() const noexcept { return type_; }

 private:
  friend class Socket;
  uint16_t type_;
  AttrWriter writer_;
};

/// One message of a reply: its type and everything after the nlmsghdr.
struct Reply {
  uint16_t type = 0;
  std::span<const uint8_t> payload;
};

class Socket {
 public:
  /// Opens a NETLINK_<protocol> socket with NETLINK_EXT_ACK and NETLINK_CAP_ACK set.
  static Result<Socket> Open(int protocol) noexcept;

  /// Sends `request` with NLM_F_ACK and waits for its ACK. On failure the SysError carries the
  /// errno, `syscall` (a literal naming the request, e.g. "RTM_NEWQDISC") and the extack text.
  Status Transact(Request& request, const char* syscall) noexcept;

  /// Sends a plain request (no dump) and calls `on_reply` for its reply messages; the kernel
  /// ends with an ACK (NLM_F_ACK is set) or an error.
  Status Query(Request& request, const char* syscall, const std::function<void(const Reply&)>& on_reply) noexcept;

  /// Sends a NLM_F_DUMP request and calls `on_reply` for every message until NLMSG_DONE.
  Status Dump(Request& request, const char* syscall, const std::function<void(const Reply&)>& on_reply) noexcept;

  /// Reserves `count` consecutive sequence numbers (for a batch built by the caller).
  uint32_t ReserveSeqs(uint32_t count) noexcept {
    const uint32_t first = next_seq_;
    next_seq_ += count;
    return first;
  }
  /// Sends prebuilt messages (a batch) in one datagram.
  Status SendBytes(std::span<const uint8_t> bytes) noexcept;
  /// Waits until every sequence number in [first, last] is acknowledged, or the first error.
  Status AwaitAcks(uint32_t first, uint32_t last, const char* syscall) noexcept;

 private:
  explicit Socket(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  Status Send(Request& request, uint16_t extra_flags, uint32_t* seq) noexcept;
  /// Reads datagrams and hands each message to `on_message` until it returns a status.
  using MessageHandler = std::function<std::optional<Status>(const nlmsghdr&, std::span<const uint8_t>)>;
  Status ReadMessages(const char* syscall, const MessageHandler& on_message) noexcept;
  /// Reads replies for `seq`; `on_reply` sees data messages; returns at ACK/DONE or error.
  Status Receive(uint32_t seq, const char* syscall, const std::function<void(const Reply&)>& on_reply) noexcept;

  UniqueFd fd_;
  uint32_t next_seq_ = 1;
  std::vector<uint8_t> rx_;
};

/// Exclusive use of the process-wide socket of one protocol, opened on first use and kept open:
/// closing a netfilter socket waits for an RCU grace period (milliseconds), which would otherwise
/// dominate every fault's apply and revert. Requests carry sequence numbers, so a stale reply of
/// an earlier, interrupted request is skipped.
class SocketLease {
 public:
  SocketLease(std::unique_lock<std::mutex> lock, Socket* socket) noexcept : lock_(std::move(lock)), socket_(socket) {}
  Socket& operator*() const noexcept { return *socket_; }
  Socket* operator->() const noexcept { return socket_; }

 private:
  std::unique_lock<std::mutex> lock_;
  Socket* socket_;
};

/// Leases the shared NETLINK_ROUTE or NETLINK_NETFILTER socket (EINVAL for others).
Result<SocketLease> LeaseSocket(int protocol) noexcept;

/// Decodes an NLMSG_ERROR payload: errno (positive, 0 for an ACK) and the extack message.
SysError DecodeError(std::span<const uint8_t> payload, uint16_t flags, const char* syscall) noexcept;

}  // namespace faultd::core::nl
