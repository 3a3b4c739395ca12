// SPDX-License-Identifier: Apache-2.0
// TLS handshakes and the switch to the HTTP/2 bridge (see http_loop.h).
#include "http_loop.h"

#include <utility>

namespace faultd::inj::http_loop {

bool Loop::AdvanceTls(Conn& c) {
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

void Loop::StartH2(Conn& c) {
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

bool Loop::ReadH2(Conn& c, Side& side, core::http::H2Side which, bool& lost, bool& failed) {
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

void Loop::DriveH2(Conn& c) {
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

}  // namespace faultd::inj::http_loop
