// SPDX-License-Identifier: Apache-2.0
// DNS over TCP streams (RFC 1035 §4.2.2: each message with a 2-byte length prefix) as the DNS
// interceptor buffers them: a byte queue that takes from its front by moving a read offset and
// compacts only when the consumed part is the larger half, so taking n small messages out of one
// buffer costs O(n) rather than the O(n²) of erasing the front of a vector per message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace faultd::core::dns {

class ByteQueue {
 public:
  /// An emptied queue keeps an allocation up to this size for the next bytes; a larger one is freed.
  static constexpr size_t kKeptCapacity = 16 * 1024;

  void Append(std::span<const uint8_t> bytes);
  /// The bytes not yet consumed.
  [[nodiscard]] std::span<const uint8_t> Unread() const noexcept { return {buf_.data() + head_, buf_.size() - head_}; }
  /// Drops `n` bytes (at most size()) from the front.
  void Consume(size_t n) noexcept;
  [[nodiscard]] size_t size() const noexcept { return buf_.size() - head_; }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  /// Bytes of memory it holds (its allocation: unread, consumed but not compacted away, spare).
  [[nodiscard]] size_t held() const noexcept { return buf_.capacity(); }
  /// Bytes moved by compaction since construction (for tests of the cost).
  [[nodiscard]] size_t bytes_moved() const noexcept { return moved_; }

 private:
  void Compact();

  std::vector<uint8_t> buf_;
  size_t head_ = 0;
  size_t moved_ = 0;
};

/// Takes one whole length-prefixed message off the front of `queue` into `message`; false (and
/// nothing taken) until a whole one is there.
bool TakeFrame(ByteQueue& queue, std::vector<uint8_t>* message);

/// Appends `message` with its length prefix (at most 65535 bytes; a longer one is cut).
void PutFrame(ByteQueue& queue, std::span<const uint8_t> message);

}  // namespace faultd::core::dns
