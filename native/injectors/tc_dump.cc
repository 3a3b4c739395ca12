// SPDX-License-Identifier: Apache-2.0
#include "tc_dump.h"

#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <cstring>

#include "../core/netlink/attr.h"

namespace faultd::inj {
namespace {

/// TCA_CLS_FLAGS_SKIP_HW | TCA_CLS_FLAGS_SKIP_SW: configuration; in_hw / not_in_hw are reported state.
constexpr uint32_t kSkipFlags = TCA_CLS_FLAGS_SKIP_HW | TCA_CLS_FLAGS_SKIP_SW;

bool PlainU32Attribute(uint16_t type) noexcept {
  return type == TCA_U32_CLASSID || type == TCA_U32_HASH || type == TCA_U32_SEL || type == TCA_U32_PCNT || type == TCA_U32_FLAGS;
}

/// The payload of the TCA_OPTIONS attribute at the start of `options_attr`, if there is one.
std::optional<core::nl::Attr> OptionsOf(std::span<const uint8_t> options_attr) noexcept {
  return core::nl::FindAttr(core::nl::ParseAttrs(options_attr), TCA_OPTIONS);
}

}  // namespace

U32Node DecodeU32Node(std::span<const uint8_t> options_attr) noexcept {
  U32Node node;
  const auto options = OptionsOf(options_attr);
  if (!options) return node;  // the per-priority header entry
  const auto attrs = core::nl::ParseAttrs(options->payload);
  if (const auto divisor = core::nl::FindAttr(attrs, TCA_U32_DIVISOR)) {
    node.kind = U32Node::Kind::kTable;
    node.divisor = divisor->As<uint32_t>().value_or(0);
    return node;
  }
  node.kind = U32Node::Kind::kKey;
  for (const core::nl::Attr& attr : attrs) {
    if (!PlainU32Attribute(attr.type)) node.extra_attributes.push_back(attr.type);
  }
  if (const auto actions = core::nl::FindAttr(attrs, TCA_U32_ACT)) {
    for (const core::nl::Attr& action : core::nl::ParseAttrs(actions->payload)) {
      if (const auto kind = core::nl::FindAttr(core::nl::ParseAttrs(action.payload), TCA_ACT_KIND)) {
        node.actions.emplace_back(kind->AsString());
      }
    }
  }
  const auto sel = core::nl::FindAttr(attrs, TCA_U32_SEL);
  if (!sel) return node;
  const auto classid = core::nl::FindAttr(attrs, TCA_U32_CLASSID);
  const auto dumped_flags = core::nl::FindAttr(attrs, TCA_U32_FLAGS);
  const uint32_t flags = (dumped_flags ? dumped_flags->As<uint32_t>().value_or(0) : 0) & kSkipFlags;
  core::nl::AttrWriter w(UINT16_MAX);
  const size_t at = w.NestBegin(TCA_OPTIONS);
  if (classid) w.Put(TCA_U32_CLASSID, classid->payload.data(), classid->payload.size());
  w.Put(TCA_U32_SEL, sel->payload.data(), sel->payload.size());
  if (flags != 0) w.PutU32(TCA_U32_FLAGS, flags);
  w.NestEnd(at);
  if (w.ok()) node.replay = w.bytes();
  return node;
}

std::vector<uint8_t> ReplayableQdiscOptions(const std::string& kind, std::vector<uint8_t> options_attr) noexcept {
  if (kind != "htb") return options_attr;
  const auto options = OptionsOf(options_attr);
  if (!options) return options_attr;
  const auto init = core::nl::FindAttr(core::nl::ParseAttrs(options->payload), TCA_HTB_INIT);
  const auto version = init ? init->As<uint32_t>() : std::nullopt;
  if (!version || *version <= 0xffff) return options_attr;
  // `init->payload` points into `options_attr`: fix the version in place.
  const size_t offset = static_cast<size_t>(init->payload.data() - options_attr.data());
  const uint32_t major = *version >> 16;
  std::memcpy(options_attr.data() + offset, &major, sizeof(major));
  return options_attr;
}

}  // namespace faultd::inj
