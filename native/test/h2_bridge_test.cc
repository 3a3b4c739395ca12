// SPDX-License-Identifier: Apache-2.0
// The HTTP/2 bridge between an nghttp2 client (the test's "client") and an nghttp2 server (the
// test's "upstream"), over non-blocking socketpairs, one thread: pass-through of headers, body
// and trailers; each policy action; RST_STREAM and GOAWAY both ways; 1 MiB bodies with flow
// control and a bound on what the bridge holds while the client does not read.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <map>
#include <string>
#include <vector>

#include "../core/http/h2_bridge.h"
#include "../core/unique_fd.h"

namespace faultd::core::http {
namespace {

using inj::HttpAction;
using inj::HttpDirection;
using inj::HttpHeader;
using inj::HttpPolicy;

struct Message {
  std::vector<HttpHeader> headers;  // incl. pseudo-headers, as received
  std::vector<HttpHeader> trailers;
  std::string body;
  bool head_done = false;
  bool complete = false;  // END_STREAM received
  bool closed = false;
  uint32_t close_code = 0;
  std::string Get(const std::string& name) const {
    for (const auto& h : headers)
      if (h.name == name) return h.value;
    return "<absent>";
  }
};

// An outgoing body served by the test peers (they copy: only the bridge is measured).
struct Outgoing {
  std::string body;
  size_t off = 0;
  std::vector<HttpHeader> trailers;
  bool hold_open = false;  // after the body, the stream stays open (DEFERRED)
};

// One nghttp2 endpoint of the test over a socket: a client or a server session.
class Peer {
 public:
  Peer(int fd, bool server) : fd_(fd), server_(server) {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
      auto* p = static_cast<Peer*>(u);
      Message& m = p->msgs[f->hd.stream_id];
      if (m.head_done) m.trailers.clear();
      return 0;
    });
    nghttp2_session_callbacks_set_on_header_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl, const uint8_t* v, size_t vl,
                uint8_t, void* u) {
          auto* p = static_cast<Peer*>(u);
          Message& m = p->msgs[f->hd.stream_id];
          HttpHeader h{std::string(reinterpret_cast<const char*>(n), nl),
                       std::string(reinterpret_cast<const char*>(v), vl)};
          const bool informational = !m.head_done && h.name == ":status" && h.value[0] == '1';
          if (informational) p->informational.push_back(h.value);
          (m.head_done ? m.trailers : m.headers).push_back(std::move(h));
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* u) {
          static_cast<Peer*>(u)->msgs[id].body.append(reinterpret_cast<const char*>(d), n);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
      auto* p = static_cast<Peer*>(u);
      if (f->hd.type == NGHTTP2_GOAWAY) {
        p->goaway = true;
        p->goaway_code = f->goaway.error_code;
        p->goaway_last = f->goaway.last_stream_id;
        return 0;
      }
      if (f->hd.type == NGHTTP2_HEADERS) {
        Message& m = p->msgs[f->hd.stream_id];
        // A 1xx head is followed by the final one.
        const bool interim = !m.headers.empty() && m.Get(":status")[0] == '1' && !m.head_done &&
                             !(f->hd.flags & NGHTTP2_FLAG_END_STREAM);
        if (!interim) {
          m.head_done = true;
        } else {
          m.headers.clear();
        }
      }
      if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        p->msgs[f->hd.stream_id].complete = true;
        if (p->server_ && p->on_request) p->on_request(*p, f->hd.stream_id);
      }
      return 0;
    });
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, [](nghttp2_session*, int32_t id, uint32_t code,
                                                                   void* u) {
      Message& m = static_cast<Peer*>(u)->msgs[id];
      m.closed = true;
      m.close_code = code;
      return 0;
    });
    if (server) {
      nghttp2_session_server_new(&session_, cbs, this);
    } else {
      nghttp2_session_client_new(&session_, cbs, this);
    }
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Peer() { nghttp2_session_del(session_); }

  nghttp2_session* session() { return session_; }

  // Sends what it can and reads what there is (unless paused). Returns whether bytes moved.
  bool Step() {
    bool moved = false;
    for (;;) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    while (!out_.empty()) {
      ssize_t w = ::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w <= 0) break;
      out_.erase(0, static_cast<size_t>(w));
      moved = true;
    }
    if (paused) return moved;
    char buf[65536];
    for (;;) {
      ssize_t r = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0) {
        eof = true;
        break;
      }
      if (r < 0) break;
      nghttp2_session_mem_recv(session_, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(r));
      moved = true;
    }
    return moved;
  }

  int32_t Request(const std::vector<HttpHeader>& headers, const std::string* body,
                  const std::vector<HttpHeader>& trailers = {}, bool hold_open = false) {
    std::vector<nghttp2_nv> nva = Nva(headers);
    if (body == nullptr) return nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), nullptr, nullptr);
    auto* o = new Outgoing{*body, 0, trailers, hold_open};
    const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), Provider(o), o);
    outgoing_.emplace_back(o);
    return id;
  }

  void Respond(int32_t id, const std::vector<HttpHeader>& headers, const std::string* body,
               const std::vector<HttpHeader>& trailers = {}) {
    std::vector<nghttp2_nv> nva = Nva(headers);
    if (body == nullptr) {
      nghttp2_submit_response(session_, id, nva.data(), nva.size(), nullptr);
      return;
    }
    auto* o = new Outgoing{*body, 0, trailers};
    outgoing_.emplace_back(o);
    nghttp2_submit_response(session_, id, nva.data(), nva.size(), Provider(o));
  }

  std::map<int32_t, Message> msgs;
  std::vector<std::string> informational;
  std::function<void(Peer&, int32_t)> on_request;
  bool paused = false;
  bool eof = false;
  bool goaway = false;
  uint32_t goaway_code = 0;
  int32_t goaway_last = -1;

 private:
  static std::vector<nghttp2_nv> Nva(const std::vector<HttpHeader>& headers) {
    std::vector<nghttp2_nv> nva;
    for (const auto& h : headers)
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(h.name.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(h.value.data())), h.name.size(), h.value.size(),
                     NGHTTP2_NV_FLAG_NONE});
    return nva;
  }
  nghttp2_data_provider* Provider(Outgoing* o) {
    provider_.source.ptr = o;
    provider_.read_callback = [](nghttp2_session* s, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                                 nghttp2_data_source* src, void*) -> ssize_t {
      auto* o = static_cast<Outgoing*>(src->ptr);
      const size_t n = std::min(len, o->body.size() - o->off);
      std::memcpy(buf, o->body.data() + o->off, n);
      o->off += n;
      if (n == 0 && o->hold_open) return NGHTTP2_ERR_DEFERRED;
      if (o->off == o->body.size() && !o->hold_open) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!o->trailers.empty()) {
          std::vector<nghttp2_nv> nva = Nva(o->trailers);
          nghttp2_submit_trailer(s, id, nva.data(), nva.size());
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
      return static_cast<ssize_t>(n);
    };
    return &provider_;
  }

  int fd_;
  bool server_;
  nghttp2_session* session_ = nullptr;
  std::string out_;
  nghttp2_data_provider provider_{};
  std::vector<std::unique_ptr<Outgoing>> outgoing_;
};

// client Peer <-> [a|b] <-> bridge <-> [c|d] <-> upstream Peer
class H2BridgeTest : public ::testing::Test {
 protected:
  void Start(const HttpPolicy& policy) {
    policy_ = policy;
    int p[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
    client_fd_.Reset(p[0]);
    bridge_client_fd_.Reset(p[1]);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
    bridge_up_fd_.Reset(p[0]);
    upstream_fd_.Reset(p[1]);
    to_client_ = std::make_unique<FdTransport>(bridge_client_fd_.get());
    to_upstream_ = std::make_unique<FdTransport>(bridge_up_fd_.get());
    H2BridgeSpec spec;
    spec.policy = &policy_;
    auto* sin = reinterpret_cast<sockaddr_in*>(&spec.client);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(0x7f000001);
    spec.draw = [this] { return draw_; };
    spec.now_ms = [this] { return now_ms_; };
    spec.to_client = to_client_.get();
    spec.to_upstream = to_upstream_.get();
    auto made = H2Bridge::Create(std::move(spec));
    ASSERT_TRUE(made.ok());
    bridge_ = std::move(made).value();
    client_ = std::make_unique<Peer>(client_fd_.get(), false);
    upstream_ = std::make_unique<Peer>(upstream_fd_.get(), true);
  }

  // Feeds the bridge from one of its sockets; false at EOF.
  bool Feed(int fd, H2Side side) {
    char buf[32768];
    for (;;) {
      ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0) {
        bridge_->Lost(side);
        return false;
      }
      if (r < 0) return true;
      const Status s = bridge_->Receive(side, reinterpret_cast<uint8_t*>(buf), static_cast<size_t>(r));
      EXPECT_TRUE(s.ok()) << s.error().detail;
    }
  }

  // Runs every party until nothing moves (or `until` holds).
  void Run(const std::function<bool()>& until = {}) {
    for (int i = 0; i < 20000; ++i) {
      bool moved = client_->Step();
      moved = upstream_->Step() || moved;
      if (!client_gone_ && !Feed(bridge_client_fd_.get(), H2Side::kClient)) client_gone_ = true;
      if (!upstream_gone_ && !Feed(bridge_up_fd_.get(), H2Side::kUpstream)) upstream_gone_ = true;
      EXPECT_TRUE(bridge_->Flush().ok());
      moved = client_->Step() || moved;
      moved = upstream_->Step() || moved;
      if (until && until()) return;
      if (!moved && !bridge_->WantsWrite(H2Side::kClient) && !bridge_->WantsWrite(H2Side::kUpstream)) {
        // One more round in case the last feed queued something.
        if (!client_->Step() && !upstream_->Step()) return;
      }
    }
    ADD_FAILURE() << "Run did not settle";
  }

  static std::vector<HttpHeader> Get(const std::string& path) {
    return {{":method", "GET"}, {":scheme", "http"}, {":authority", "svc.test"}, {":path", path},
            {"user-agent", "gtest"}, {"x-order", "a"}, {"x-order", "b"}};
  }
  static std::vector<HttpHeader> Post(const std::string& path, size_t len) {
    return {{":method", "POST"}, {":scheme", "http"}, {":authority", "svc.test"}, {":path", path},
            {"content-length", std::to_string(len)}};
  }

  // The upstream answers every complete request: 200, "x-up: 1", body "hello" + its path.
  void EchoUpstream() {
    upstream_->on_request = [](Peer& p, int32_t id) {
      const std::string body = "hello " + p.msgs[id].Get(":path");
      p.Respond(id, {{":status", "200"}, {"content-type", "text/plain"}, {"x-up", "1"},
                     {"content-length", std::to_string(body.size())}}, &body);
    };
  }

  HttpPolicy policy_;
  double draw_ = 0.5;
  uint64_t now_ms_ = 1000;
  UniqueFd client_fd_, bridge_client_fd_, bridge_up_fd_, upstream_fd_;
  std::unique_ptr<FdTransport> to_client_, to_upstream_;
  std::unique_ptr<H2Bridge> bridge_;
  std::unique_ptr<Peer> client_, upstream_;
  bool client_gone_ = false, upstream_gone_ = false;
};

HttpPolicy Policy(HttpAction action, const std::string& path_prefix = "/fault") {
  HttpPolicy p;
  p.action = action;
  p.path_prefix = path_prefix;
  return p;
}

TEST_F(H2BridgeTest, NonMatchingStreamPassesHeadersBodyAndTrailersUnchanged) {
  Start(Policy(HttpAction::kBlock));
  upstream_->on_request = [](Peer& p, int32_t id) {
    const std::string body = "response body";
    p.Respond(id, {{":status", "201"}, {"x-b", "2"}, {"x-a", "1"}, {"x-b", "3"}}, &body, {{"grpc-status", "0"}});
  };
  const std::string upload = "request body";
  const int32_t id = client_->Request(Post("/pass?q=1", upload.size()), &upload, {{"x-trailer", "t"}});
  Run([&] { return client_->msgs[id].complete; });
  const Message& req = upstream_->msgs[1];
  EXPECT_EQ(req.Get(":method"), "POST");
  EXPECT_EQ(req.Get(":path"), "/pass?q=1");
  EXPECT_EQ(req.Get(":authority"), "svc.test");
  EXPECT_EQ(req.Get(":scheme"), "http");
  EXPECT_EQ(req.body, upload);
  ASSERT_EQ(req.trailers.size(), 1u);
  EXPECT_EQ(req.trailers[0].name, "x-trailer");
  const Message& resp = client_->msgs[id];
  EXPECT_EQ(resp.Get(":status"), "201");
  // Order and repeats kept.
  ASSERT_EQ(resp.headers.size(), 4u);
  EXPECT_EQ(resp.headers[1].name + "=" + resp.headers[1].value, "x-b=2");
  EXPECT_EQ(resp.headers[2].name + "=" + resp.headers[2].value, "x-a=1");
  EXPECT_EQ(resp.headers[3].name + "=" + resp.headers[3].value, "x-b=3");
  EXPECT_EQ(resp.body, "response body");
  ASSERT_EQ(resp.trailers.size(), 1u);
  EXPECT_EQ(resp.trailers[0].value, "0");
  EXPECT_EQ(bridge_->stats().requests, 1u);
  EXPECT_EQ(bridge_->stats().passed, 1u);
  EXPECT_EQ(bridge_->stats().matched, 0u);
}

TEST_F(H2BridgeTest, BlockAnswersLocallyAndNothingReachesTheUpstream) {
  HttpPolicy p = Policy(HttpAction::kBlock);
  p.status = 503;
  Start(p);
  EchoUpstream();
  const int32_t blocked = client_->Request(Get("/fault/x"), nullptr);
  const int32_t passed = client_->Request(Get("/ok"), nullptr);
  Run([&] { return client_->msgs[blocked].complete && client_->msgs[passed].complete; });
  EXPECT_EQ(client_->msgs[blocked].Get(":status"), "503");
  EXPECT_EQ(client_->msgs[blocked].body, "faultd: request blocked (HTTP 503)\n");
  EXPECT_EQ(client_->msgs[passed].Get(":status"), "200");
  EXPECT_EQ(client_->msgs[passed].body, "hello /ok");
  ASSERT_EQ(upstream_->msgs.size(), 1u);
  EXPECT_EQ(upstream_->msgs.begin()->second.Get(":path"), "/ok");
  EXPECT_EQ(bridge_->stats().faulted, 1u);
  EXPECT_EQ(bridge_->stats().passed, 1u);
}

TEST_F(H2BridgeTest, PercentageDrawLeavesTheLosersUntouched) {
  HttpPolicy p = Policy(HttpAction::kBlock);
  p.percentage = 30;
  Start(p);
  EchoUpstream();
  draw_ = 0.31;  // 31 ≥ 30: not faulted
  const int32_t id = client_->Request(Get("/fault/x"), nullptr);
  Run([&] { return client_->msgs[id].complete; });
  EXPECT_EQ(client_->msgs[id].Get(":status"), "200");
  EXPECT_EQ(bridge_->stats().matched, 1u);
  EXPECT_EQ(bridge_->stats().faulted, 0u);
}

TEST_F(H2BridgeTest, RequestLatencyHoldsTheRequestUntilTheTimer) {
  HttpPolicy p = Policy(HttpAction::kLatency);
  p.latency_ms = 250;
  p.direction = HttpDirection::kRequest;
  Start(p);
  EchoUpstream();
  const int32_t id = client_->Request(Get("/fault/slow"), nullptr);
  Run();
  EXPECT_TRUE(upstream_->msgs.empty()) << "sent upstream before the delay";
  ASSERT_TRUE(bridge_->NextDeadlineMs().has_value());
  EXPECT_EQ(*bridge_->NextDeadlineMs(), 1250u);
  now_ms_ = 1249;
  ASSERT_TRUE(bridge_->OnTimer().ok());
  Run();
  EXPECT_TRUE(upstream_->msgs.empty());
  now_ms_ = 1250;
  ASSERT_TRUE(bridge_->OnTimer().ok());
  Run([&] { return client_->msgs[id].complete; });
  EXPECT_EQ(client_->msgs[id].body, "hello /fault/slow");
  EXPECT_FALSE(bridge_->NextDeadlineMs().has_value());
}

TEST_F(H2BridgeTest, ResponseLatencyHoldsTheResponseHead) {
  HttpPolicy p = Policy(HttpAction::kLatency);
  p.latency_ms = 100;
  p.direction = HttpDirection::kResponse;
  Start(p);
  EchoUpstream();
  const int32_t id = client_->Request(Get("/fault/slow"), nullptr);
  Run();
  EXPECT_TRUE(upstream_->msgs[1].complete) << "the request went upstream at once";
  EXPECT_FALSE(client_->msgs[id].head_done);
  now_ms_ += 100;
  ASSERT_TRUE(bridge_->OnTimer().ok());
  Run([&] { return client_->msgs[id].complete; });
  EXPECT_EQ(client_->msgs[id].Get(":status"), "200");
  EXPECT_EQ(client_->msgs[id].body, "hello /fault/slow");
}

TEST_F(H2BridgeTest, StatusReplacedWithAndWithoutBody) {
  HttpPolicy p = Policy(HttpAction::kStatus);
  p.status = 418;
  Start(p);
  EchoUpstream();
  const int32_t id = client_->Request(Get("/fault/s"), nullptr);
  Run([&] { return client_->msgs[id].complete; });
  EXPECT_EQ(client_->msgs[id].Get(":status"), "418");
  EXPECT_EQ(client_->msgs[id].body, "hello /fault/s");
  EXPECT_EQ(client_->msgs[id].Get("x-up"), "1");
}

TEST_F(H2BridgeTest, StatusWithBodyReframesTheResponse) {
  HttpPolicy p = Policy(HttpAction::kStatus);
  p.status = 500;
  p.has_body = true;
  p.body = "{\"error\":\"injected\"}";
  Start(p);
  upstream_->on_request = [](Peer& peer, int32_t id) {
    const std::string body(100000, 'u');  // longer than the windows' first round
    peer.Respond(id, {{":status", "200"}, {"content-encoding", "gzip"}, {"content-length", "100000"}}, &body,
                 {{"x-t", "1"}});
  };
  const int32_t id = client_->Request(Get("/fault/s"), nullptr);
  Run([&] { return client_->msgs[id].closed && upstream_->msgs[1].closed; });
  const Message& m = client_->msgs[id];
  EXPECT_EQ(m.Get(":status"), "500");
  EXPECT_EQ(m.body, p.body);
  EXPECT_EQ(m.Get("content-length"), std::to_string(p.body.size()));
  EXPECT_EQ(m.Get("content-encoding"), "<absent>");
  EXPECT_TRUE(m.trailers.empty());
  EXPECT_EQ(m.close_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(bridge_->buffered_bytes(), 0u);
}

TEST_F(H2BridgeTest, BodyReplacedOnRequestAndResponse) {
  HttpPolicy p = Policy(HttpAction::kBody);
  p.body = "replaced";
  p.direction = HttpDirection::kBoth;
  Start(p);
  EchoUpstream();
  const std::string upload(70000, 'x');
  const int32_t id = client_->Request(Post("/fault/b", upload.size()), &upload);
  Run([&] { return client_->msgs[id].complete; });
  const Message& req = upstream_->msgs[1];
  EXPECT_EQ(req.body, "replaced");
  EXPECT_EQ(req.Get("content-length"), "8");
  EXPECT_EQ(client_->msgs[id].body, "replaced");
  EXPECT_EQ(client_->msgs[id].Get("content-length"), "8");
}

TEST_F(H2BridgeTest, HeaderEditsOnBothSidesLowerCasedAndConnectionFieldsDropped) {
  HttpPolicy p = Policy(HttpAction::kHeader);
  p.direction = HttpDirection::kBoth;
  p.set_headers = {{"X-Fault", "yes"}, {"User-Agent", "faultd"}, {"Connection", "close"}};
  p.remove_headers = {"x-order", "x-up"};
  Start(p);
  EchoUpstream();
  const int32_t id = client_->Request(Get("/fault/h"), nullptr);
  Run([&] { return client_->msgs[id].complete; });
  const Message& req = upstream_->msgs[1];
  EXPECT_EQ(req.Get("x-fault"), "yes");
  EXPECT_EQ(req.Get("user-agent"), "faultd");
  EXPECT_EQ(req.Get("x-order"), "<absent>");
  EXPECT_EQ(req.Get("connection"), "<absent>");
  const Message& resp = client_->msgs[id];
  EXPECT_EQ(resp.Get("x-fault"), "yes");
  EXPECT_EQ(resp.Get("x-up"), "<absent>");
  EXPECT_EQ(resp.body, "hello /fault/h");
}

TEST_F(H2BridgeTest, ClientResetIsRelayedUpstreamWithItsCode) {
  Start(Policy(HttpAction::kBlock));
  const std::string part = "partial";
  const int32_t id = client_->Request(Post("/slow-upload", 1000), &part, {}, true);  // the body never ends
  Run([&] { return upstream_->msgs[1].body == part; });
  EXPECT_FALSE(upstream_->msgs[1].closed);
  nghttp2_submit_rst_stream(client_->session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  Run([&] { return upstream_->msgs[1].closed; });
  EXPECT_TRUE(upstream_->msgs[1].closed);
  EXPECT_EQ(upstream_->msgs[1].close_code, NGHTTP2_CANCEL);
  Run();
  EXPECT_EQ(bridge_->streams(), 0u);
  EXPECT_EQ(bridge_->stats().upstream_errors, 0u) << "the reset was the client's, relayed by us";
}

TEST_F(H2BridgeTest, UpstreamResetIsRelayedToTheClientWithItsCode) {
  Start(Policy(HttpAction::kBlock));
  upstream_->on_request = [](Peer& p, int32_t id) {
    nghttp2_submit_rst_stream(p.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_ENHANCE_YOUR_CALM);
  };
  const int32_t id = client_->Request(Get("/x"), nullptr);
  Run([&] { return client_->msgs[id].closed; });
  EXPECT_EQ(client_->msgs[id].close_code, NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(bridge_->stats().upstream_errors, 1u);
}

TEST_F(H2BridgeTest, UpstreamGoawayRefusesLaterStreamsAndReachesTheClient) {
  Start(Policy(HttpAction::kBlock));
  // The upstream answers stream 1, then says GOAWAY with last stream 1 while 3 is in flight.
  upstream_->on_request = [](Peer& p, int32_t id) {
    if (id == 1) {
      const std::string body = "one";
      p.Respond(id, {{":status", "200"}}, &body);
    }
  };
  const int32_t first = client_->Request(Get("/1"), nullptr);
  Run([&] { return client_->msgs[first].complete; });
  const int32_t second = client_->Request(Get("/2"), nullptr);
  Run([&] { return upstream_->msgs[3].complete; });
  nghttp2_submit_goaway(upstream_->session(), NGHTTP2_FLAG_NONE, 1, NGHTTP2_NO_ERROR, nullptr, 0);
  Run([&] { return client_->goaway && client_->msgs[second].closed; });
  EXPECT_TRUE(client_->goaway);
  EXPECT_EQ(client_->goaway_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(client_->msgs[second].close_code, NGHTTP2_REFUSED_STREAM) << "the client may retry it elsewhere";
  EXPECT_EQ(client_->msgs[first].body, "one");
}

TEST_F(H2BridgeTest, ClientGoawayReachesTheUpstreamAndTheBridgeFinishes) {
  Start(Policy(HttpAction::kBlock));
  EchoUpstream();
  const int32_t id = client_->Request(Get("/a"), nullptr);
  Run([&] { return client_->msgs[id].complete; });
  nghttp2_submit_goaway(client_->session(), NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
  Run([&] { return upstream_->goaway; });
  EXPECT_TRUE(upstream_->goaway);
  Run();
  EXPECT_TRUE(bridge_->Finished());
}

TEST_F(H2BridgeTest, ShutdownSendsGoawayAndLetsTheStreamsInFlightFinish) {
  HttpPolicy p = Policy(HttpAction::kLatency);
  p.latency_ms = 50;
  p.direction = HttpDirection::kRequest;
  Start(p);
  EchoUpstream();
  const int32_t delayed = client_->Request(Get("/fault/late"), nullptr);
  const std::string two = "ab";
  const int32_t answered_later = client_->Request(Post("/slow", 2), &two);
  Run();
  bridge_->Shutdown();
  Run([&] { return client_->goaway; });
  EXPECT_EQ(client_->goaway_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(client_->goaway_last, answered_later);
  EXPECT_FALSE(bridge_->Finished()) << "a request is still delayed";
  now_ms_ += 50;
  ASSERT_TRUE(bridge_->OnTimer().ok());
  Run([&] { return client_->msgs[delayed].complete && client_->msgs[answered_later].complete; });
  EXPECT_EQ(client_->msgs[delayed].body, "hello /fault/late");
  EXPECT_EQ(client_->msgs[answered_later].body, "hello /slow");
  EXPECT_FALSE(upstream_->goaway) << "the upstream is not told to stop";
  Run();
  EXPECT_TRUE(bridge_->Finished());
}

TEST_F(H2BridgeTest, PingIsAnsweredByTheBridgeItself) {
  Start(Policy(HttpAction::kBlock));
  Run();
  const uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  nghttp2_submit_ping(client_->session(), NGHTTP2_FLAG_NONE, payload);
  // The client session counts no unacknowledged ping once the ACK arrived; observe via stats of
  // bytes: simplest oracle is that the session stays healthy and the upstream saw no PING
  // (nghttp2 answers on the receiving session).
  Run();
  EXPECT_FALSE(client_->goaway);
  EXPECT_TRUE(upstream_->msgs.empty());
}

TEST_F(H2BridgeTest, OneMebibyteEachWayWithFlowControlAndBoundedBuffering) {
  Start(Policy(HttpAction::kBlock));
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 24);
  const int32_t id = client_->Request(Post("/upload", big.size()), &big);
  Run([&] { return upstream_->msgs[1].complete; });
  EXPECT_TRUE(upstream_->msgs[1].body == big) << "upload of " << upstream_->msgs[1].body.size() << " bytes";
  // The client stops reading, then the upstream answers 1 MiB: the bridge may hold no more
  // than a connection window; the rest waits at the upstream.
  client_->paused = true;
  upstream_->Respond(1, {{":status", "200"}, {"content-length", std::to_string(big.size())}}, &big);
  size_t most = 0;
  for (int i = 0; i < 300; ++i) {
    Run([&] { return true; });
    most = std::max(most, bridge_->buffered_bytes());
  }
  EXPECT_FALSE(client_->msgs[id].complete);
  EXPECT_LE(most, static_cast<size_t>(H2Bridge::kConnectionWindow));
  EXPECT_GT(most, 0u);
  EXPECT_GT(nghttp2_session_get_outbound_queue_size(upstream_->session()) +
                (nghttp2_session_get_stream_remote_window_size(upstream_->session(), 1) == 0 ? 1 : 0),
            0u)
      << "the upstream was not held back";
  client_->paused = false;
  Run([&] { return client_->msgs[id].complete; });
  EXPECT_EQ(client_->msgs[id].body.size(), big.size());
  EXPECT_TRUE(client_->msgs[id].body == big);
  EXPECT_EQ(bridge_->buffered_bytes(), 0u);
}

TEST_F(H2BridgeTest, ManyConcurrentStreamsEachGetTheirOwnAnswer) {
  Start(Policy(HttpAction::kBlock));
  EchoUpstream();
  std::vector<int32_t> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(client_->Request(Get("/s" + std::to_string(i)), nullptr));
  Run([&] {
    for (int32_t id : ids)
      if (!client_->msgs[id].complete) return false;
    return true;
  });
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(client_->msgs[ids[i]].body, "hello /s" + std::to_string(i));
  EXPECT_EQ(bridge_->stats().requests, 50u);
}

TEST_F(H2BridgeTest, UpstreamConnectionLostResetsOpenStreams) {
  Start(Policy(HttpAction::kBlock));
  const int32_t id = client_->Request(Get("/hang"), nullptr);
  Run([&] { return upstream_->msgs[1].complete; });
  upstream_fd_.Reset();  // the upstream goes away
  Run([&] { return client_->msgs[id].closed; });
  EXPECT_EQ(client_->msgs[id].close_code, NGHTTP2_INTERNAL_ERROR);
  EXPECT_TRUE(client_->goaway);
  EXPECT_EQ(client_->goaway_code, NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(bridge_->stats().upstream_errors, 1u);
}

TEST_F(H2BridgeTest, UpstreamClosingWithNothingInFlightIsNoError) {
  Start(Policy(HttpAction::kBlock));
  EchoUpstream();
  const int32_t id = client_->Request(Get("/done"), nullptr);
  Run([&] { return client_->msgs[id].complete; });
  nghttp2_submit_goaway(upstream_->session(), NGHTTP2_FLAG_NONE, 1, NGHTTP2_NO_ERROR, nullptr, 0);
  Run([&] { return client_->goaway; });
  upstream_fd_.Reset();
  Run();
  EXPECT_EQ(bridge_->stats().upstream_errors, 0u);
  EXPECT_EQ(client_->goaway_code, NGHTTP2_NO_ERROR);
  EXPECT_TRUE(bridge_->Finished());
}

TEST_F(H2BridgeTest, HeaderBlocksOverTheHeadBoundsResetTheStreamAndNotTheConnection) {
  Start(Policy(HttpAction::kBlock));
  EchoUpstream();
  std::vector<HttpHeader> huge = Get("/huge");
  for (int i = 0; i < 80; ++i) huge.push_back({"x-pad-" + std::to_string(i), std::string(1000, 'p')});  // ~82 KiB
  std::vector<HttpHeader> many = Get("/many");
  for (int i = 0; i < 130; ++i) many.push_back({"x-n" + std::to_string(i), "1"});
  const int32_t a = client_->Request(huge, nullptr);
  const int32_t b = client_->Request(many, nullptr);
  const int32_t ok = client_->Request(Get("/fine"), nullptr);
  Run([&] { return client_->msgs[a].closed && client_->msgs[b].closed && client_->msgs[ok].complete; });
  EXPECT_NE(client_->msgs[a].close_code, NGHTTP2_NO_ERROR);
  EXPECT_NE(client_->msgs[b].close_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(client_->msgs[ok].body, "hello /fine");
  ASSERT_EQ(upstream_->msgs.size(), 1u) << "only the bounded request went upstream";
  EXPECT_FALSE(client_->goaway);
}

TEST_F(H2BridgeTest, ClientGarbageIsAProtocolError) {
  Start(Policy(HttpAction::kBlock));
  const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const Status s = bridge_->Receive(H2Side::kClient, reinterpret_cast<const uint8_t*>(junk), sizeof junk - 1);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace faultd::core::http
