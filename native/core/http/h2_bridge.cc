// SPDX-License-Identifier: Apache-2.0
#include "h2_bridge.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "h1_head.h"

namespace faultd::core::http {
namespace {

// Bytes received on one stream and not yet written to the other side.
struct Pipe {
  std::string buf;
  size_t off = 0;
  bool eof = false;      // the sender ended the stream (END_STREAM seen)
  bool discard = false;  // received DATA is acknowledged and dropped (body replaced, answered locally)
  bool deferred = false;  // the read callback said NGHTTP2_ERR_DEFERRED: resume on new bytes
  bool use_replacement = false;  // send `replacement` instead of what arrives
  std::string_view replacement;
  size_t replacement_off = 0;
  std::vector<inj::HttpHeader> trailers;
  [[nodiscard]] size_t size() const noexcept { return buf.size() - off; }
};

bool IsPseudo(const inj::HttpHeader& h) noexcept { return !h.name.empty() && h.name[0] == ':'; }

// Headers HTTP/2 forbids (RFC 9113 §8.2.2): a header edit may have set one; never send them.
bool ConnectionSpecific(std::string_view name) noexcept {
  for (std::string_view bad : {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"})
    if (inj::NameEquals(name, bad)) return true;
  return false;
}

nghttp2_nv Nv(const std::string& name, const std::string& value) noexcept {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

// Edited header lists: names lower-cased (HTTP/2 requires it), connection-specific fields dropped.
void NormalizeForH2(std::vector<inj::HttpHeader>& headers) {
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [](const inj::HttpHeader& h) { return ConnectionSpecific(h.name); }),
                headers.end());
  for (auto& h : headers)
    for (char& c : h.name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

}  // namespace

struct H2Bridge::Side {
  H2Bridge* bridge = nullptr;
  H2Side which = H2Side::kClient;
  nghttp2_session* session = nullptr;
  H2Transport* transport = nullptr;
  // Bytes nghttp2 handed over and the transport has not taken yet: the small frames of one
  // pump (written together, one send per side and pump instead of one per frame) and the rest
  // of a DATA frame the transport took only in part.
  std::string queued;
  size_t queued_off = 0;
  uint64_t written = 0;
  bool lost = false;
  bool goaway_received = false;
  bool goaway_sent = false;

  /// More than this queued: nghttp2 is told to wait (WOULDBLOCK) until it has been written.
  static constexpr size_t kQueueCap = 64 << 10;

  [[nodiscard]] size_t queued_size() const noexcept { return queued.size() - queued_off; }
  [[nodiscard]] bool has_queued() const noexcept { return queued_off < queued.size(); }
  // Counts `n` written bytes off the front of the queue.
  void Dequeue(size_t n) noexcept {
    queued_off += n;
    written += n;
    if (queued_off == queued.size()) {
      queued.clear();
      queued_off = 0;
    }
  }

  // Writes the queue. false: the transport broke.
  bool FlushQueued() noexcept {
    while (has_queued()) {
      iovec iov{queued.data() + queued_off, queued_size()};
      const ssize_t n = transport->Write(&iov, 1);
      if (n < 0) return false;
      if (n == 0) return true;
      Dequeue(static_cast<size_t>(n));
    }
    return true;
  }
};

struct H2Bridge::Stream {
  int32_t client_id = 0;
  int32_t upstream_id = 0;  // 0: not submitted upstream (yet, or ever)
  bool client_closed = false;
  bool upstream_closed = false;  // also true when it never will be opened
  bool request_head_done = false;
  bool response_head_done = false;
  inj::HttpRequestHead request;
  std::string scheme;
  std::vector<inj::HttpHeader> req_block;   // header block arriving from the client
  std::vector<inj::HttpHeader> resp_block;  // header block arriving from the upstream
  size_t req_block_bytes = 0;               // their sizes so far (bounded like an HTTP/1.1 head)
  size_t resp_block_bytes = 0;
  inj::HttpDecision decision;
  inj::HttpResponseHead response;
  std::string local_body;  // the body of a local answer (block)
  Pipe up;                 // client → upstream
  Pipe down;               // upstream → client
  uint64_t request_due_ms = 0;   // a delayed request: submit upstream then (0: none)
  uint64_t response_due_ms = 0;  // a delayed response head: relay then (0: none)
};

// The nghttp2 callbacks: each gets the Side as user_data.
struct H2Callbacks {
  static H2Bridge::Side* SideOf(void* user_data) { return static_cast<H2Bridge::Side*>(user_data); }
  static H2Bridge::Stream* StreamOf(nghttp2_session* session, int32_t id) {
    return static_cast<H2Bridge::Stream*>(nghttp2_session_get_stream_user_data(session, id));
  }

  // Frames other than DATA (HEADERS, SETTINGS, WINDOW_UPDATE...) are queued and leave with the
  // next write on this side.
  static ssize_t Send(nghttp2_session*, const uint8_t* data, size_t len, int, void* user_data) {
    H2Bridge::Side* side = SideOf(user_data);
    if (side->queued_size() >= H2Bridge::Side::kQueueCap) return NGHTTP2_ERR_WOULDBLOCK;
    if (!side->has_queued()) side->queued.clear(), side->queued_off = 0;
    side->queued.append(reinterpret_cast<const char*>(data), len);
    return static_cast<ssize_t>(len);
  }

  // A DATA frame whose payload is read straight from the stream's pipe (NO_COPY): the queue,
  // the frame header and the payload leave in one write; a part of the frame the transport did
  // not take is queued.
  static int SendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                      nghttp2_data_source* source, void* user_data) {
    H2Bridge::Side* side = SideOf(user_data);
    auto* st = static_cast<H2Bridge::Stream*>(source->ptr);
    if (side->queued_size() >= H2Bridge::Side::kQueueCap) return NGHTTP2_ERR_WOULDBLOCK;
    Pipe& pipe = side->which == H2Side::kUpstream ? st->up : st->down;
    const char* payload =
        pipe.use_replacement ? pipe.replacement.data() + pipe.replacement_off : pipe.buf.data() + pipe.off;
    const size_t padlen = frame->data.padlen;
    static const uint8_t kZeros[256] = {};
    uint8_t pad_len_byte = static_cast<uint8_t>(padlen > 0 ? padlen - 1 : 0);
    iovec iov[5];
    int n_iov = 0;
    const size_t queued = side->queued_size();
    if (queued > 0) iov[n_iov++] = {side->queued.data() + side->queued_off, queued};
    const int frame_first = n_iov;
    iov[n_iov++] = {const_cast<uint8_t*>(framehd), 9};
    if (padlen > 0) iov[n_iov++] = {&pad_len_byte, 1};  // Pad Length field
    iov[n_iov++] = {const_cast<char*>(payload), length};
    if (padlen > 1) iov[n_iov++] = {const_cast<uint8_t*>(kZeros), padlen - 1};
    const ssize_t n = side->transport->Write(iov, n_iov);
    if (n < 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
    // Nothing of the frame written: nghttp2 keeps it and offers it again.
    if (static_cast<size_t>(n) <= queued) {
      side->Dequeue(static_cast<size_t>(n));
      return NGHTTP2_ERR_WOULDBLOCK;
    }
    side->Dequeue(queued);
    side->written += static_cast<uint64_t>(n) - queued;
    size_t skip = static_cast<size_t>(n) - queued;
    for (int i = frame_first; i < n_iov; ++i) {
      if (skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        continue;
      }
      side->queued.append(static_cast<const char*>(iov[i].iov_base) + skip, iov[i].iov_len - skip);
      skip = 0;
    }
    H2Bridge* bridge = side->bridge;
    if (pipe.use_replacement) {
      pipe.replacement_off += length;
    } else {
      pipe.off += length;
      if (pipe.off == pipe.buf.size()) {
        pipe.buf.clear();
        pipe.off = 0;
      } else if (pipe.off >= (64u << 10) && pipe.off * 2 >= pipe.buf.size()) {
        pipe.buf.erase(0, pipe.off);
        pipe.off = 0;
      }
      // The bytes have left: let their sender send as many again.
      if (side->which == H2Side::kUpstream) {
        nghttp2_session_consume(bridge->client_->session, st->client_id, length);
      } else {
        nghttp2_session_consume(bridge->upstream_->session, st->upstream_id, length);
      }
    }
    return 0;
  }

  static ssize_t Read(nghttp2_session* session, int32_t stream_id, uint8_t*, size_t length, uint32_t* flags,
                      nghttp2_data_source* source, void* user_data) {
    H2Bridge::Side* side = SideOf(user_data);
    auto* st = static_cast<H2Bridge::Stream*>(source->ptr);
    Pipe& pipe = side->which == H2Side::kUpstream ? st->up : st->down;
    if (pipe.use_replacement) {
      const size_t left = pipe.replacement.size() - pipe.replacement_off;
      const size_t n = std::min(length, left);
      *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
      if (n == left) *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (n == left) EndOfBody(side, st);
      return static_cast<ssize_t>(n);
    }
    const size_t avail = pipe.size();
    if (avail == 0 && !pipe.eof) {
      pipe.deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    const size_t n = std::min(length, avail);
    if (n > 0) *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == avail && pipe.eof) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!pipe.trailers.empty()) {
        std::vector<nghttp2_nv> nva;
        for (const auto& h : pipe.trailers) nva.push_back(Nv(h.name, h.value));
        if (nghttp2_submit_trailer(session, stream_id, nva.data(), nva.size()) == 0)
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
      EndOfBody(side, st);
    }
    return static_cast<ssize_t>(n);
  }

  // The response to the client is complete while the client still sends a request body the
  // upstream no longer wants (it answered early and closed): end the client's stream too
  // (RFC 9113 §8.1: RST_STREAM NO_ERROR after a complete response).
  static void EndOfBody(H2Bridge::Side* side, H2Bridge::Stream* st) {
    if (side->which == H2Side::kClient && !st->up.eof && st->upstream_closed)
      nghttp2_submit_rst_stream(side->session, NGHTTP2_FLAG_NONE, st->client_id, NGHTTP2_NO_ERROR);
  }

  static int BeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    H2Bridge::Side* side = SideOf(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2Bridge::Stream* st = StreamOf(session, frame->hd.stream_id);
    if (side->which == H2Side::kClient && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      auto owned = std::make_unique<H2Bridge::Stream>();
      st = owned.get();
      st->client_id = frame->hd.stream_id;
      side->bridge->streams_[st->client_id] = std::move(owned);
      nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, st);
    }
    if (st != nullptr) {
      (side->which == H2Side::kClient ? st->req_block : st->resp_block).clear();
      (side->which == H2Side::kClient ? st->req_block_bytes : st->resp_block_bytes) = 0;
    }
    return 0;
  }

  static int Header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                    const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
    H2Bridge::Side* side = SideOf(user_data);
    H2Bridge::Stream* st = StreamOf(session, frame->hd.stream_id);
    if (st == nullptr) return 0;
    const bool from_client = side->which == H2Side::kClient;
    auto& block = from_client ? st->req_block : st->resp_block;
    // The same bounds as an HTTP/1.1 head (64 KiB, 128 fields; sizes counted as RFC 7541 §4.1
    // does): a larger block resets the stream instead of growing without end.
    size_t& bytes = from_client ? st->req_block_bytes : st->resp_block_bytes;
    bytes += namelen + valuelen + 32;
    if (bytes > kMaxHeadBytes || block.size() >= kMaxHeaders) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    block.push_back({std::string(reinterpret_cast<const char*>(name), namelen),
                     std::string(reinterpret_cast<const char*>(value), valuelen)});
    return 0;
  }

  static int DataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                       void* user_data) {
    H2Bridge::Side* side = SideOf(user_data);
    H2Bridge::Stream* st = StreamOf(session, stream_id);
    if (st == nullptr) {
      nghttp2_session_consume(session, stream_id, len);
      return 0;
    }
    const bool from_client = side->which == H2Side::kClient;
    Pipe& pipe = from_client ? st->up : st->down;
    const bool receiver_gone = from_client ? st->upstream_closed : st->client_closed;
    if (pipe.discard || receiver_gone) {
      nghttp2_session_consume(session, stream_id, len);
      return 0;
    }
    pipe.buf.append(reinterpret_cast<const char*>(data), len);
    side->bridge->Resume(st, from_client ? H2Side::kUpstream : H2Side::kClient);
    return 0;
  }

  static int FrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    H2Bridge::Side* side = SideOf(user_data);
    H2Bridge* bridge = side->bridge;
    const bool from_client = side->which == H2Side::kClient;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      side->goaway_received = true;
      bridge->RelayGoaway(from_client ? H2Side::kUpstream : H2Side::kClient, frame->goaway.error_code,
                          frame->goaway.opaque_data, frame->goaway.opaque_data_len);
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    H2Bridge::Stream* st = StreamOf(session, frame->hd.stream_id);
    if (st == nullptr) return 0;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      if (from_client) {
        if (!st->request_head_done) {
          st->up.eof = end_stream;
          bridge->OnRequestHead(st);
        } else {
          st->up.trailers = std::move(st->req_block);
        }
      } else {
        bridge->OnUpstreamHeaders(st, end_stream);
      }
    }
    if (end_stream) {
      Pipe& pipe = from_client ? st->up : st->down;
      pipe.eof = true;
      bridge->Resume(st, from_client ? H2Side::kUpstream : H2Side::kClient);
    }
    return 0;
  }

  static int StreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code, void* user_data) {
    H2Bridge::Side* side = SideOf(user_data);
    H2Bridge::Stream* st = StreamOf(session, stream_id);
    if (st == nullptr) return 0;
    side->bridge->OnStreamClose(st, side->which, error_code);
    return 0;
  }
};

H2Bridge::H2Bridge(H2BridgeSpec spec) noexcept
    : spec_(std::move(spec)), client_(std::make_unique<Side>()), upstream_(std::make_unique<Side>()) {}

H2Bridge::~H2Bridge() {
  nghttp2_session_del(client_->session);
  nghttp2_session_del(upstream_->session);
}

Result<std::unique_ptr<H2Bridge>> H2Bridge::Create(H2BridgeSpec spec) noexcept {
  std::unique_ptr<H2Bridge> b(new H2Bridge(std::move(spec)));
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return SysError{ENOMEM, "nghttp2_session_callbacks_new", ""};
  nghttp2_session_callbacks_set_send_callback(cbs, H2Callbacks::Send);
  nghttp2_session_callbacks_set_send_data_callback(cbs, H2Callbacks::SendData);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, H2Callbacks::BeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs, H2Callbacks::Header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, H2Callbacks::DataChunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, H2Callbacks::FrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, H2Callbacks::StreamClose);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);  // see the header: windows follow the other side

  b->client_->bridge = b.get();
  b->client_->which = H2Side::kClient;
  b->client_->transport = b->spec_.to_client;
  b->upstream_->bridge = b.get();
  b->upstream_->which = H2Side::kUpstream;
  b->upstream_->transport = b->spec_.to_upstream;
  int rv = nghttp2_session_server_new2(&b->client_->session, cbs, b->client_.get(), opt);
  if (rv == 0) rv = nghttp2_session_client_new2(&b->upstream_->session, cbs, b->upstream_.get(), opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return SysError{ENOMEM, "nghttp2_session_new", nghttp2_strerror(rv)};

  const nghttp2_settings_entry server_settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(kMaxHeadBytes)},
  };
  const nghttp2_settings_entry client_settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(kMaxHeadBytes)},
  };
  rv = nghttp2_submit_settings(b->client_->session, NGHTTP2_FLAG_NONE, server_settings, 3);
  if (rv == 0) rv = nghttp2_submit_settings(b->upstream_->session, NGHTTP2_FLAG_NONE, client_settings, 3);
  for (Side* s : {b->client_.get(), b->upstream_.get()})
    if (rv == 0) rv = nghttp2_session_set_local_window_size(s->session, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  if (rv != 0) return SysError{EINVAL, "nghttp2_submit_settings", nghttp2_strerror(rv)};
  return b;
}

H2Bridge::Side& H2Bridge::SideFor(H2Side side) const noexcept {
  return side == H2Side::kClient ? *client_ : *upstream_;
}

void H2Bridge::Resume(Stream* st, H2Side towards) noexcept {
  Pipe& pipe = towards == H2Side::kUpstream ? st->up : st->down;
  if (!pipe.deferred) return;
  const int32_t id = towards == H2Side::kUpstream ? st->upstream_id : st->client_id;
  if (id == 0) return;
  pipe.deferred = false;
  nghttp2_session_resume_data(SideFor(towards).session, id);
}

void H2Bridge::OnRequestHead(Stream* st) noexcept {
  st->request_head_done = true;
  ++stats_.requests;
  for (auto& h : st->req_block) {
    if (!IsPseudo(h)) {
      st->request.headers.push_back(std::move(h));
    } else if (h.name == ":method") {
      st->request.method = std::move(h.value);
    } else if (h.name == ":path") {
      st->request.target = std::move(h.value);
    } else if (h.name == ":authority") {
      st->request.authority = std::move(h.value);
    } else if (h.name == ":scheme") {
      st->scheme = std::move(h.value);
    }
  }
  st->req_block.clear();
  st->decision = inj::Decide(*spec_.policy, st->request, spec_.client, spec_.draw ? spec_.draw() : 0.0);
  const inj::HttpDecision& d = st->decision;
  if (d.matched) ++stats_.matched;
  if (d.faulted) {
    ++stats_.faulted;
  } else {
    ++stats_.passed;
  }
  if (d.respond_now) {
    st->up.discard = true;
    st->upstream_closed = true;
    SubmitLocalResponse(st);
    return;
  }
  if (d.replace_request_body) {
    st->up.discard = true;
    st->up.use_replacement = true;
    st->up.replacement = d.body;
  }
  if (d.request_delay_ms > 0) {
    st->request_due_ms = std::max<uint64_t>(1, spec_.now_ms() + d.request_delay_ms);
  } else {
    SubmitUpstream(st);
  }
}

void H2Bridge::SubmitUpstream(Stream* st) noexcept {
  if (st->client_closed) return;
  if (upstream_->lost || upstream_->goaway_received || upstream_->goaway_sent) {
    st->upstream_closed = true;
    ++stats_.upstream_errors;
    nghttp2_submit_rst_stream(client_->session, NGHTTP2_FLAG_NONE, st->client_id, NGHTTP2_REFUSED_STREAM);
    return;
  }
  const inj::HttpDecision& d = st->decision;
  std::vector<inj::HttpHeader> edited;
  const std::vector<inj::HttpHeader>* headers = &st->request.headers;
  if (d.edit_request_headers || d.replace_request_body) {
    edited = st->request.headers;
    if (d.edit_request_headers) inj::ApplyHeaderEdits(*spec_.policy, edited);
    if (d.replace_request_body) inj::ReframeForBody(edited, d.body.size());
    NormalizeForH2(edited);
    headers = &edited;
  }
  static const std::string kMethod = ":method", kScheme = ":scheme", kAuthority = ":authority", kPath = ":path";
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers->size() + 4);
  nva.push_back(Nv(kMethod, st->request.method));
  if (!st->scheme.empty()) nva.push_back(Nv(kScheme, st->scheme));
  if (!st->request.authority.empty()) nva.push_back(Nv(kAuthority, st->request.authority));
  if (!st->request.target.empty()) nva.push_back(Nv(kPath, st->request.target));
  for (const auto& h : *headers) nva.push_back(Nv(h.name, h.value));
  nghttp2_data_provider provider{};
  provider.source.ptr = st;
  provider.read_callback = H2Callbacks::Read;
  const bool has_body = !st->up.eof || st->up.use_replacement;
  const int32_t id =
      nghttp2_submit_request(upstream_->session, nullptr, nva.data(), nva.size(), has_body ? &provider : nullptr, st);
  if (id < 0) {
    st->upstream_closed = true;
    ++stats_.upstream_errors;
    nghttp2_submit_rst_stream(client_->session, NGHTTP2_FLAG_NONE, st->client_id, NGHTTP2_REFUSED_STREAM);
    return;
  }
  st->upstream_id = id;
}

void H2Bridge::SubmitLocalResponse(Stream* st) noexcept {
  const inj::HttpDecision& d = st->decision;
  st->local_body = d.respond_body;
  st->response.status = d.respond_status;
  st->response.headers = {{"content-type", "text/plain; charset=utf-8"},
                          {"content-length", std::to_string(st->local_body.size())}};
  st->down.use_replacement = true;
  st->down.replacement = st->local_body;
  st->down.eof = true;
  st->response_head_done = true;
  SubmitResponse(st);
}

void H2Bridge::OnUpstreamHeaders(Stream* st, bool end_stream) noexcept {
  int status = 0;
  std::vector<inj::HttpHeader> headers;
  headers.reserve(st->resp_block.size());
  for (auto& h : st->resp_block) {
    if (h.name == ":status") {
      status = std::atoi(h.value.c_str());
    } else if (!IsPseudo(h)) {
      headers.push_back(std::move(h));
    }
  }
  st->resp_block.clear();
  if (st->client_closed) return;
  if (status == 0) {  // trailers
    if (!st->down.use_replacement) st->down.trailers = std::move(headers);
    return;
  }
  if (status < 200) {  // informational (103, 100): relayed as they come
    std::vector<nghttp2_nv> nva;
    const std::string status_text = std::to_string(status);
    static const std::string kStatus = ":status";
    nva.push_back(Nv(kStatus, status_text));
    for (const auto& h : headers) nva.push_back(Nv(h.name, h.value));
    nghttp2_submit_headers(client_->session, NGHTTP2_FLAG_NONE, st->client_id, nullptr, nva.data(), nva.size(),
                           nullptr);
    return;
  }
  const inj::HttpDecision& d = st->decision;
  st->response_head_done = true;
  st->response.status = d.replace_status != 0 ? d.replace_status : status;
  st->response.headers = std::move(headers);
  st->down.eof = end_stream;
  if (d.replace_response_body) {
    st->down.discard = true;
    st->down.use_replacement = true;
    st->down.replacement = d.body;
    st->down.trailers.clear();
    // Bytes that came with an earlier frame are acknowledged and dropped.
    if (st->down.size() > 0) nghttp2_session_consume(upstream_->session, st->upstream_id, st->down.size());
    st->down.buf.clear();
    st->down.off = 0;
  }
  if (d.edit_response_headers || d.replace_response_body) {
    if (d.edit_response_headers) inj::ApplyHeaderEdits(*spec_.policy, st->response.headers);
    if (d.replace_response_body) inj::ReframeForBody(st->response.headers, d.body.size());
    NormalizeForH2(st->response.headers);
  }
  if (d.response_delay_ms > 0) {
    st->response_due_ms = std::max<uint64_t>(1, spec_.now_ms() + d.response_delay_ms);
  } else {
    SubmitResponse(st);
  }
}

void H2Bridge::SubmitResponse(Stream* st) noexcept {
  if (st->client_closed) return;
  static const std::string kStatus = ":status";
  const std::string status_text = std::to_string(st->response.status);
  std::vector<nghttp2_nv> nva;
  nva.reserve(st->response.headers.size() + 1);
  nva.push_back(Nv(kStatus, status_text));
  for (const auto& h : st->response.headers) nva.push_back(Nv(h.name, h.value));
  nghttp2_data_provider provider{};
  provider.source.ptr = st;
  provider.read_callback = H2Callbacks::Read;
  const bool has_body = !st->down.eof || st->down.use_replacement || st->down.size() > 0;
  nghttp2_submit_response(client_->session, st->client_id, nva.data(), nva.size(), has_body ? &provider : nullptr);
}

// Acknowledges to its sender what a pipe still holds and forgets it (its stream is gone).
void H2Bridge::DropPipe(Stream* st, H2Side towards) noexcept {
  Pipe& pipe = towards == H2Side::kUpstream ? st->up : st->down;
  Side& sender = towards == H2Side::kUpstream ? *client_ : *upstream_;
  const int32_t sender_id = towards == H2Side::kUpstream ? st->client_id : st->upstream_id;
  if (pipe.size() > 0 && !sender.lost && sender_id > 0)
    nghttp2_session_consume(sender.session, sender_id, pipe.size());
  pipe.buf.clear();
  pipe.off = 0;
  pipe.discard = true;
}

void H2Bridge::OnStreamClose(Stream* st, H2Side side, uint32_t error_code) noexcept {
  if (side == H2Side::kClient) {
    st->client_closed = true;
    st->request_due_ms = st->response_due_ms = 0;
    DropPipe(st, H2Side::kClient);
    DropPipe(st, H2Side::kUpstream);
    if (!st->upstream_closed) {
      if (st->upstream_id > 0 && !upstream_->lost) {
        // Reset by the client: relay its code. Ended normally while the upstream still sends
        // (a replaced response body): the rest is not wanted.
        nghttp2_submit_rst_stream(upstream_->session, NGHTTP2_FLAG_NONE, st->upstream_id,
                                  error_code != NGHTTP2_NO_ERROR ? error_code : static_cast<uint32_t>(NGHTTP2_CANCEL));
      } else {
        st->upstream_closed = true;  // never submitted: it never will be
      }
    }
  } else {
    st->upstream_closed = true;
    if (error_code != NGHTTP2_NO_ERROR) {
      // After the client went (a client that had its bytes may close before END_STREAM), the
      // reset is ours, not the upstream's fault.
      if (!st->client_closed) ++stats_.upstream_errors;
      DropPipe(st, H2Side::kClient);
      if (!st->client_closed && !client_->lost)
        nghttp2_submit_rst_stream(client_->session, NGHTTP2_FLAG_NONE, st->client_id, error_code);
    }
    DropPipe(st, H2Side::kUpstream);  // a request body the upstream no longer takes
  }
  if (st->client_closed && st->upstream_closed) {
    if (st->upstream_id > 0 && !upstream_->lost)
      nghttp2_session_set_stream_user_data(upstream_->session, st->upstream_id, nullptr);
    if (!client_->lost) nghttp2_session_set_stream_user_data(client_->session, st->client_id, nullptr);
    streams_.erase(st->client_id);
  }
}

void H2Bridge::RelayGoaway(H2Side towards, uint32_t error_code, const uint8_t* data, size_t len) noexcept {
  Side& to = SideFor(towards);
  if (to.lost || to.goaway_sent) return;
  to.goaway_sent = true;
  nghttp2_submit_goaway(to.session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(to.session),
                        error_code, data, len);
}

Status H2Bridge::Receive(H2Side side, const uint8_t* data, size_t len) noexcept {
  Side& s = SideFor(side);
  if (s.lost) return Ok{};
  const ssize_t rv = nghttp2_session_mem_recv(s.session, data, len);
  if (rv < 0) {
    const char* who = side == H2Side::kClient ? "client: " : "upstream: ";
    return SysError{EPROTO, "nghttp2_session_mem_recv", who + std::string(nghttp2_strerror(static_cast<int>(rv)))};
  }
  return Ok{};
}

Status H2Bridge::Flush() noexcept { return Pump(); }

Status H2Bridge::Pump() noexcept {
  // Sending on one side acknowledges DATA to the other (WINDOW_UPDATE), so go round until
  // neither side moves.
  for (int round = 0; round < 16; ++round) {
    bool moved = false;
    for (Side* s : {upstream_.get(), client_.get()}) {
      if (s->lost) continue;
      const uint64_t before = s->written;
      const size_t queued_before = s->queued_size();
      int rv = nghttp2_session_send(s->session);
      if (rv == 0 && !s->FlushQueued()) rv = NGHTTP2_ERR_CALLBACK_FAILURE;
      if (rv != 0) {
        Lost(s->which);
        moved = true;
        continue;
      }
      moved = moved || s->written != before || s->queued_size() != queued_before;
    }
    if (!moved) break;
  }
  return Ok{};
}

void H2Bridge::Lost(H2Side side) noexcept {
  Side& s = SideFor(side);
  if (s.lost) return;
  s.lost = true;
  const H2Side other = side == H2Side::kClient ? H2Side::kUpstream : H2Side::kClient;
  Side& o = SideFor(other);
  // An upstream that closes with nothing in flight (after a GOAWAY, or idle) is no error.
  bool cut_short = false;
  for (auto it = streams_.begin(); it != streams_.end();) {
    Stream* st = it->second.get();
    if (side == H2Side::kUpstream) {
      if (!st->upstream_closed) {
        cut_short = true;
        st->upstream_closed = true;
        st->request_due_ms = 0;
        if (!st->client_closed && !o.lost)
          nghttp2_submit_rst_stream(o.session, NGHTTP2_FLAG_NONE, st->client_id,
                                    st->upstream_id > 0 ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_REFUSED_STREAM);
      }
    } else {
      st->client_closed = true;
      st->request_due_ms = st->response_due_ms = 0;
      DropPipe(st, H2Side::kClient);
      if (!st->upstream_closed && st->upstream_id > 0 && !o.lost) {
        nghttp2_submit_rst_stream(o.session, NGHTTP2_FLAG_NONE, st->upstream_id, NGHTTP2_CANCEL);
      } else {
        st->upstream_closed = true;
      }
    }
    if (st->client_closed && st->upstream_closed) {
      if (st->upstream_id > 0 && !upstream_->lost)
        nghttp2_session_set_stream_user_data(upstream_->session, st->upstream_id, nullptr);
      if (!client_->lost) nghttp2_session_set_stream_user_data(client_->session, st->client_id, nullptr);
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
  if (cut_short) ++stats_.upstream_errors;
  RelayGoaway(other, cut_short ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_NO_ERROR, nullptr, 0);
}

void H2Bridge::Shutdown() noexcept {
  // Only the client is told: requests it already sent (a delayed one too) still go upstream.
  RelayGoaway(H2Side::kClient, NGHTTP2_NO_ERROR, nullptr, 0);
  Pump();
}

std::optional<uint64_t> H2Bridge::NextDeadlineMs() const noexcept {
  std::optional<uint64_t> next;
  for (const auto& [id, st] : streams_) {
    for (uint64_t due : {st->request_due_ms, st->response_due_ms})
      if (due != 0 && (!next || due < *next)) next = due;
  }
  return next;
}

Status H2Bridge::OnTimer() noexcept {
  const uint64_t now = spec_.now_ms();
  std::vector<Stream*> due_requests, due_responses;
  for (const auto& [id, st] : streams_) {
    if (st->request_due_ms != 0 && st->request_due_ms <= now) due_requests.push_back(st.get());
    if (st->response_due_ms != 0 && st->response_due_ms <= now) due_responses.push_back(st.get());
  }
  for (Stream* st : due_requests) {
    st->request_due_ms = 0;
    SubmitUpstream(st);
    Resume(st, H2Side::kUpstream);
  }
  for (Stream* st : due_responses) {
    st->response_due_ms = 0;
    SubmitResponse(st);
  }
  return Pump();
}

size_t H2Bridge::buffered_bytes() const noexcept {
  size_t n = 0;
  for (const auto& [id, st] : streams_) n += st->up.size() + st->down.size();
  return n;
}

bool H2Bridge::WantsWrite(H2Side side) const noexcept {
  const Side& s = SideFor(side);
  if (s.lost) return false;
  return s.has_queued() || nghttp2_session_want_write(s.session) != 0;
}

bool H2Bridge::Finished() const noexcept {
  // The client side is done when its session is (GOAWAY either way, no stream left) and all is
  // written; the upstream then only has to have nothing in flight.
  const Side& c = *client_;
  if (!c.lost && (c.has_queued() || nghttp2_session_want_read(c.session) || nghttp2_session_want_write(c.session)))
    return false;
  const Side& u = *upstream_;
  return u.lost || (streams_.empty() && !u.has_queued() && !nghttp2_session_want_write(u.session));
}

}  // namespace faultd::core::http
