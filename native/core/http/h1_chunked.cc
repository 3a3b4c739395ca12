// SPDX-License-Identifier: Apache-2.0
#include "h1_chunked.h"

#include <algorithm>

namespace faultd::core::http {
namespace {

int Hex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ChunkedFramer::Result ChunkedFramer::Consume(std::string_view data, size_t* used) noexcept {
  size_t i = 0;
  const size_t n = data.size();
  while (i < n) {
    if (state_ == State::kData) {
      const uint64_t take = std::min<uint64_t>(remaining_, n - i);
      i += take;
      remaining_ -= take;
      payload_ += take;
      if (remaining_ == 0) state_ = State::kDataCr;
      continue;
    }
    const char c = data[i++];
    if (++line_ > kMaxLine) return *used = i, Result::kBad;
    switch (state_) {
      case State::kSize: {
        const int h = Hex(c);
        if (h >= 0) {
          if (++digits_ > 15) return *used = i, Result::kBad;  // below 2^60: no overflow
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(h);
        } else if (digits_ == 0) {
          return *used = i, Result::kBad;
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::kExtension;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == '\n') {
          state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
          line_ = 0;
        } else {
          return *used = i, Result::kBad;
        }
        break;
      }
      case State::kExtension:
        if (c == '\n') {
          state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
          line_ = 0;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        }
        break;
      case State::kSizeLf:
        if (c != '\n') return *used = i, Result::kBad;
        state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
        line_ = 0;
        break;
      case State::kDataCr:
        if (c == '\n') {
          state_ = State::kSize;
          digits_ = 0;
          line_ = 0;
        } else if (c == '\r') {
          state_ = State::kDataLf;
        } else {
          return *used = i, Result::kBad;
        }
        break;
      case State::kDataLf:
        if (c != '\n') return *used = i, Result::kBad;
        state_ = State::kSize;
        digits_ = 0;
        line_ = 0;
        break;
      case State::kTrailerStart:  // the trailer section's size counts as one line
        if (c == '\n') return *used = i, Result::kDone;
        state_ = c == '\r' ? State::kFinalLf : State::kTrailerLine;
        break;
      case State::kFinalLf:
        if (c != '\n') return *used = i, Result::kBad;
        return *used = i, Result::kDone;
      case State::kTrailerLine:
        if (c == '\n') state_ = State::kTrailerStart;
        break;
      case State::kData:
        break;
    }
  }
  *used = i;
  return Result::kMore;
}

}  // namespace faultd::core::http
