// SPDX-License-Identifier: Apache-2.0
// Finds where a chunked body (RFC 9112 §7.1) ends, without copying it: fed the bytes after the
// head as they arrive, it says how many of them belong to the body (chunk sizes, extensions,
// data, the last chunk, trailers and the final CRLF) so the caller can forward or drop them
// straight from its read buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace faultd::core::http {

class ChunkedFramer {
 public:
  enum class Result { kMore, kDone, kBad };

  /// Consumes the front of `data`; `*used` is how many bytes of it belong to the body. kDone once
  /// the body has ended (the rest of `data` is the next message), kBad on a malformed body.
  Result Consume(std::string_view data, size_t* used) noexcept;

  /// Ready for a new body.
  void Reset() noexcept { *this = ChunkedFramer(); }

  /// Bytes of chunk data seen so far (for tests and statistics).
  [[nodiscard]] uint64_t payload_bytes() const noexcept { return payload_; }

 private:
  enum class State { kSize, kExtension, kSizeLf, kData, kDataCr, kDataLf, kTrailerStart, kTrailerLine, kFinalLf };
  /// Longest chunk-size line and trailer section accepted.
  static constexpr size_t kMaxLine = 64 * 1024;

  State state_ = State::kSize;
  uint64_t remaining_ = 0;
  uint64_t payload_ = 0;
  size_t line_ = 0;
  int digits_ = 0;
};

}  // namespace faultd::core::http
