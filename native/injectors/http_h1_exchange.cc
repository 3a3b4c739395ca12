// SPDX-License-Identifier: Apache-2.0
// The HTTP/1.1 exchange: requests and responses parsed, decided, rewritten or answered (see http_loop.h).
#include "http_loop.h"

#include <string>
#include <vector>

namespace faultd::inj::http_loop {

void Loop::ProcessRequests(Conn& c) {
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

ReqState Loop::AfterRequest(const Conn& c) {
  if (c.rq_tunnel) return ReqState::kAwaitTunnel;
  return c.rq_keep && !c.draining ? ReqState::kHead : ReqState::kStopped;
}

void Loop::Refuse(Conn& c, int status) {
  Exchange& ex = c.Push();
  ex = Exchange{};
  ex.close_after = true;
  ex.decision.respond_now = true;
  ex.decision.respond_status = status;
  ex.decision.respond_body = status == 431 ? "faultd: request head too large\n" : "faultd: malformed request\n";
  c.rq = ReqState::kStopped;
}

bool Loop::ParseRequest(Conn& c) {
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

void Loop::RewriteRequest(const http::Head& h, const HttpDecision& d, std::string* out) {
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

void Loop::ProcessResponses(Conn& c) {
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

void Loop::FinishResponse(Conn& c) {
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

bool Loop::LastOnConnection(const Conn& c, const Exchange& ex) {
  return ex.close_after || (c.ring_count == 1 && (c.rq == ReqState::kStopped || c.draining));
}

bool Loop::ParseResponse(Conn& c) {
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

void Loop::RewriteResponse(Conn& c, const Exchange& ex, const http::Head& h, bool add_close) {
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

void Loop::Answer(Conn& c, const Exchange& ex) {
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

}  // namespace faultd::inj::http_loop
