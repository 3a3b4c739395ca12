// SPDX-License-Identifier: Apache-2.0
// Netlink attribute encoding and decoding over a byte buffer: the one place that knows the
// rtattr/nlattr layout (4-byte header, 4-byte alignment, zero padding). Used for whole netlink
// messages and for payloads such as TCA_OPTIONS that other code embeds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace faultd::core::nl {

constexpr size_t kAlign = 4;
constexpr size_t Align(size_t len) { return (len + kAlign - 1) & ~(kAlign - 1); }
constexpr size_t kAttrHeader = 4;
/// NLA_F_NESTED / NLA_F_NET_BYTEORDER live in the top bits of the type.
constexpr uint16_t kAttrTypeMask = 0x3fff;

/// Appends netlink attributes to a byte buffer, bounded by `max_bytes`. Once a write would
/// overflow, the writer refuses every further write and `ok()` turns false.
class AttrWriter {
 public:
  explicit AttrWriter(size_t max_bytes) noexcept : max_bytes_(max_bytes) {}

  /// Appends raw bytes (a fixed header such as tcmsg), padded to 4 bytes.
  bool AppendRaw(const void* data, size_t len) noexcept;
  template <typename T>
  bool AppendStruct(const T& value) noexcept {
    return AppendRaw(&value, sizeof(T));
  }

  bool Put(uint16_t type, const void* data, size_t len) noexcept;
  template <typename T>
  bool PutStruct(uint16_t type, const T& value) noexcept {
    return Put(type, &value, sizeof(T));
  }
  bool PutU32(uint16_t type, uint32_t value) noexcept { return Put(type, &value, sizeof(value)); }
  bool PutU64(uint16_t type, uint64_t value) noexcept { return Put(type, &value, sizeof(value)); }
  /// NUL-terminated string, as iproute2's addattr_l(…, strlen + 1).
  bool PutString(uint16_t type, std::string_view value) noexcept;

  /// Starts an attribute whose payload is everything written until NestEnd (iproute2's
  /// addattr_nest / the "tail" pattern of q_netem). Returns its offset, or SIZE_MAX on overflow.
  size_t NestBegin(uint16_t type) noexcept;
  void NestEnd(size_t offset) noexcept;

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  [[nodiscard]] const std::vector<uint8_t>& bytes() const noexcept { return buf_; }
  [[nodiscard]] std::vector<uint8_t>& mutable_bytes() noexcept { return buf_; }
  [[nodiscard]] size_t size() const noexcept { return buf_.size(); }

 private:
  bool Reserve(size_t len) noexcept;

  size_t max_bytes_;
  bool ok_ = true;
  std::vector<uint8_t> buf_;
};

/// One decoded attribute: type without flags, and its payload.
struct Attr {
  uint16_t type = 0;
  std::span<const uint8_t> payload;

  template <typename T>
  [[nodiscard]] std::optional<T> As() const noexcept {
    if (payload.size() < sizeof(T)) return std::nullopt;
    T value;
    std::memcpy(&value, payload.data(), sizeof(T));
    return value;
  }
  [[nodiscard]] std::string_view AsString() const noexcept;
};

/// Iterates the attributes of `bytes`; stops at the first malformed one.
std::vector<Attr> ParseAttrs(std::span<const uint8_t> bytes) noexcept;

/// First attribute of `type` in `attrs`.
std::optional<Attr> FindAttr(const std::vector<Attr>& attrs, uint16_t type) noexcept;

}  // namespace faultd::core::nl
