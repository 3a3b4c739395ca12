// SPDX-License-Identifier: Apache-2.0
// Moving bytes between a connection's two sides (see http_loop.h).
#include "http_loop.h"

namespace faultd::inj::http_loop {

bool Loop::ReadInto(Conn& c, Side& side, Flow& flow, bool may_grow) {
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

bool Loop::Flush(Conn& c, Side& side, Flow& flow) {
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

void Loop::Drive(Conn& c) {
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

void Loop::Linger(Conn& c) {
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

void Loop::OnEofs(Conn& c) {
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

bool Loop::AwaitsUpstream(const Conn& c) const {
  for (size_t i = 0; i < c.ring_count; ++i) {
    if (!c.ring[(c.ring_first + i) % kMaxPipelined].decision.respond_now) return true;
  }
  return c.rq == ReqState::kBody || c.rq == ReqState::kDelay || c.rq == ReqState::kSendHead;
}

bool Loop::Finished(Conn& c) {
  if (c.rs == RespState::kTunnel) return c.up.eof && c.down.eof && c.up.Flushed() && c.down.Flushed();
  return c.rq == ReqState::kStopped && c.ring_count == 0 && c.rs == RespState::kHead && c.down.Flushed();
}

}  // namespace faultd::inj::http_loop
