// SPDX-License-Identifier: Apache-2.0
#include "tcp_stream.h"

#include <algorithm>

namespace faultd::core::dns {

void ByteQueue::Append(std::span<const uint8_t> bytes) {
  if (head_ > 0 && head_ >= buf_.size() - head_) Compact();
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

void ByteQueue::Consume(size_t n) noexcept {
  head_ += std::min(n, size());
  if (head_ == buf_.size()) {
    if (buf_.capacity() > kKeptCapacity) std::vector<uint8_t>().swap(buf_);  // a burst's memory goes back
    buf_.clear();
    head_ = 0;
  }
}

void ByteQueue::Compact() {
  moved_ += buf_.size() - head_;
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
  head_ = 0;
}

bool TakeFrame(ByteQueue& queue, std::vector<uint8_t>* message) {
  const auto bytes = queue.Unread();
  if (bytes.size() < 2) return false;
  const size_t len = (static_cast<size_t>(bytes[0]) << 8) | bytes[1];
  if (bytes.size() < 2 + len) return false;
  message->assign(bytes.begin() + 2, bytes.begin() + 2 + static_cast<std::ptrdiff_t>(len));
  queue.Consume(2 + len);
  return true;
}

void PutFrame(ByteQueue& queue, std::span<const uint8_t> message) {
  const size_t len = std::min<size_t>(message.size(), 0xffff);
  const uint8_t prefix[2] = {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
  queue.Append(prefix);
  queue.Append(message.first(len));
}

}  // namespace faultd::core::dns
