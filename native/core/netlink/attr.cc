// SPDX-License-Identifier: Apache-2.0
#include "attr.h"

namespace faultd::core::nl {

bool AttrWriter::Reserve(size_t len) noexcept {
  if (!ok_ || buf_.size() + len > max_bytes_) {
    ok_ = false;
    return false;
  }
  return true;
}

bool AttrWriter::AppendRaw(const void* data, size_t len) noexcept {
  const size_t padded = Align(len);
  if (!Reserve(padded)) return false;
  const size_t at = buf_.size();
  buf_.resize(at + padded, 0);
  if (len > 0) std::memcpy(buf_.data() + at, data, len);
  return true;
}

bool AttrWriter::Put(uint16_t type, const void* data, size_t len) noexcept {
  const size_t total = kAttrHeader + len;
  if (total > UINT16_MAX || !Reserve(Align(total))) return ok_ = false;
  const size_t at = buf_.size();
  buf_.resize(at + Align(total), 0);
  const auto rta_len = static_cast<uint16_t>(total);
  std::memcpy(buf_.data() + at, &rta_len, 2);
  std::memcpy(buf_.data() + at + 2, &type, 2);
  if (len > 0) std::memcpy(buf_.data() + at + kAttrHeader, data, len);
  return true;
}

bool AttrWriter::PutString(uint16_t type, std::string_view value) noexcept {
  std::vector<char> text(value.begin(), value.end());
  text.push_back('\0');
  return Put(type, text.data(), text.size());
}

size_t AttrWriter::NestBegin(uint16_t type) noexcept {
  const size_t at = buf_.size();
  return Put(type, nullptr, 0) ? at : SIZE_MAX;
}

void AttrWriter::NestEnd(size_t offset) noexcept {
  if (offset == SIZE_MAX || offset >= buf_.size()) return;
  const size_t len = buf_.size() - offset;
  if (len > UINT16_MAX) {
    ok_ = false;
    return;
  }
  const auto rta_len = static_cast<uint16_t>(len);
  std::memcpy(buf_.data() + offset, &rta_len, 2);
}

std::string_view Attr::AsString() const noexcept {
  std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  const size_t nul = text.find('\0');
  return nul == std::string_view::npos ? text : text.substr(0, nul);
}

std::vector<Attr> ParseAttrs(std::span<const uint8_t> bytes) noexcept {
  std::vector<Attr> attrs;
  size_t at = 0;
  while (at + kAttrHeader <= bytes.size()) {
    uint16_t len = 0;
    uint16_t type = 0;
    std::memcpy(&len, bytes.data() + at, 2);
    std::memcpy(&type, bytes.data() + at + 2, 2);
    if (len < kAttrHeader || at + len > bytes.size()) break;
    attrs.push_back(Attr{static_cast<uint16_t>(type & kAttrTypeMask), bytes.subspan(at + kAttrHeader, len - kAttrHeader)});
    at += Align(len);
  }
  return attrs;
}

std::optional<Attr> FindAttr(const std::vector<Attr>& attrs, uint16_t type) noexcept {
  for (const Attr& attr : attrs) {
    if (attr.type == type) return attr;
  }
  return std::nullopt;
}

}  // namespace faultd::core::nl
