// SPDX-License-Identifier: Apache-2.0
// The HTTP/2 side of the HTTP interceptor: a libnghttp2 server session facing the client and a
// client session facing the upstream, each client stream mapped to one upstream stream. Every
// request head is given to the policy (inj::Decide, the same as for HTTP/1.1); a faulted stream
// is answered locally, delayed, or has its status, body or headers rewritten; every other stream
// is relayed with its headers, DATA and trailers unchanged.
//
// Flow control is end to end: the windows are updated by hand (no automatic WINDOW_UPDATE), and
// received DATA is acknowledged to its sender only once the other side has taken it, so each
// direction buffers at most one connection window (kConnectionWindow) whatever the peers' speed.
// Relayed DATA is copied once, from the receive buffer into the stream's pipe; it is written
// from there with its frame header in one sendmsg (NGHTTP2_DATA_FLAG_NO_COPY).
//
// SETTINGS and PING are answered by each session for its own peer; RST_STREAM is relayed to the
// peer stream with its code; GOAWAY is relayed both ways (streams the upstream refused are reset
// REFUSED_STREAM towards the client, so it can retry them).
//
// The bridge owns no socket and no clock: the caller feeds received bytes (Receive), says when
// a side can be written again (Flush) and runs timers (NextDeadlineMs / OnTimer). The policy
// types come from injectors/http_policy.h: plain data, wire-independent, no sockets.
#pragma once

#include <netinet/in.h>
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "../../injectors/http_policy.h"
#include "../sys_result.h"
#include "h2_transport.h"

namespace faultd::core::http {

enum class H2Side : uint8_t { kClient, kUpstream };

struct H2Stats {
  uint64_t requests = 0;
  uint64_t matched = 0;
  uint64_t faulted = 0;
  uint64_t passed = 0;
  uint64_t upstream_errors = 0;  // upstream resets, refusals, a lost upstream connection
};

struct H2BridgeSpec {
  const inj::HttpPolicy* policy = nullptr;  // outlives the bridge
  sockaddr_storage client{};                 // the client's address (source filters)
  std::function<double()> draw;              // uniform in [0, 1), per request
  std::function<uint64_t()> now_ms;          // a monotonic clock in milliseconds
  H2Transport* to_client = nullptr;          // not owned
  H2Transport* to_upstream = nullptr;        // not owned
};

class H2Bridge {
 public:
  /// Bytes each direction may hold per connection before its sender is told to wait.
  static constexpr int32_t kConnectionWindow = 1 << 20;
  /// Per stream (HTTP/2 INITIAL_WINDOW_SIZE advertised to both peers).
  static constexpr int32_t kStreamWindow = 256 << 10;
  static constexpr uint32_t kMaxConcurrentStreams = 128;

  /// Creates both sessions and queues their SETTINGS (and the client preface to the upstream).
  static Result<std::unique_ptr<H2Bridge>> Create(H2BridgeSpec spec) noexcept;
  ~H2Bridge();
  H2Bridge(const H2Bridge&) = delete;
  H2Bridge& operator=(const H2Bridge&) = delete;

  /// Bytes read from one side (for the client side: starting with the connection preface).
  /// What they cause is written by the next Flush (so the reads of one wake-up leave in one
  /// write per side). An error means that side broke the protocol (a GOAWAY may be queued).
  Status Receive(H2Side side, const uint8_t* data, size_t len) noexcept;
  /// Writes what is queued for both sides, as far as they take it: after Receive, and when a
  /// side is writable again.
  Status Flush() noexcept;
  /// The side's connection is gone (EOF or error): its streams are reset on the other side.
  void Lost(H2Side side) noexcept;
  /// Graceful stop: GOAWAY to the client; the streams in flight finish (Finished() then holds).
  void Shutdown() noexcept;

  /// The earliest timer (a delayed request or response), if any.
  [[nodiscard]] std::optional<uint64_t> NextDeadlineMs() const noexcept;
  /// Runs the timers that are due and writes what they queued.
  Status OnTimer() noexcept;

  /// Whether bytes wait for the side's transport to take them (poll it for writability).
  [[nodiscard]] bool WantsWrite(H2Side side) const noexcept;
  /// Done (the client side's session ended by GOAWAY either way or lost, no stream left, all
  /// written): close both connections.
  [[nodiscard]] bool Finished() const noexcept;
  [[nodiscard]] const H2Stats& stats() const noexcept { return stats_; }
  /// Relayed bytes held in the streams' pipes (bounded by the windows; tests check it).
  [[nodiscard]] size_t buffered_bytes() const noexcept;
  /// Streams in flight.
  [[nodiscard]] size_t streams() const noexcept { return streams_.size(); }

  struct Stream;  // one client stream and its upstream stream (h2_bridge.cc)
  struct Side;    // one session with its transport and unsent bytes

 private:
  explicit H2Bridge(H2BridgeSpec spec) noexcept;
  Status Pump() noexcept;
  Side& SideFor(H2Side side) const noexcept;
  void Resume(Stream* st, H2Side towards) noexcept;
  void OnRequestHead(Stream* st) noexcept;
  void SubmitUpstream(Stream* st) noexcept;
  void SubmitLocalResponse(Stream* st) noexcept;
  void OnUpstreamHeaders(Stream* st, bool end_stream) noexcept;
  void SubmitResponse(Stream* st) noexcept;
  void DropPipe(Stream* st, H2Side towards) noexcept;
  void OnStreamClose(Stream* st, H2Side side, uint32_t error_code) noexcept;
  void RelayGoaway(H2Side towards, uint32_t error_code, const uint8_t* data, size_t len) noexcept;

  H2BridgeSpec spec_;
  std::unique_ptr<Side> client_;
  std::unique_ptr<Side> upstream_;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;  // by client stream id
  H2Stats stats_;

  friend struct H2Callbacks;
};

}  // namespace faultd::core::http
