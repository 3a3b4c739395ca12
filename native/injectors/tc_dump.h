// SPDX-License-Identifier: Apache-2.0
// Decoding of the tc objects the kernel dumps, for what faultd replays or recognises: a u32
// filter entry (header, hash table or key; its actions; the options that re-add it) and a
// qdisc's options in the form the kernel takes back. With the encoders (tc_netem, tc_tbf,
// tc_steer) this is the only code that knows the layout of TCA_OPTIONS; JavaScript sees plain
// values and opaque bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace faultd::inj {

/// One entry of a u32 filter dump.
struct U32Node {
  enum class Kind { kHeader, kTable, kKey };
  /// kHeader: the per-priority entry (no TCA_OPTIONS); kTable: a hash table (TCA_U32_DIVISOR);
  /// kKey: a key node.
  Kind kind = Kind::kHeader;
  uint32_t divisor = 0;
  /// Kinds of the key's actions (TCA_U32_ACT), in order: "mirred", "gact", ….
  std::vector<std::string> actions;
  /// Attribute types of the key other than classid, hash, selector, pcnt and flags (actions,
  /// police, link, indev, mark): a key with any of them is not a plain classify filter.
  std::vector<uint16_t> extra_attributes;
  /// The TCA_OPTIONS that add the key again as `tc filter add … u32 <sel> flowid <classid>`
  /// (selector, classid, and the skip_hw/skip_sw flags; dump-only state such as not_in_hw is
  /// dropped). Empty when the key has no selector.
  std::vector<uint8_t> replay;
};

/// Decodes a dumped u32 entry from its whole TCA_OPTIONS attribute (empty for the header).
U32Node DecodeU32Node(std::span<const uint8_t> options_attr) noexcept;

/// A dumped qdisc's TCA_OPTIONS as the kernel accepts it back: htb dumps its full version
/// (HTB_VER, 0x30011) in TCA_HTB_INIT but accepts only the major (3), as `tc` sends it. Other
/// kinds are returned unchanged.
std::vector<uint8_t> ReplayableQdiscOptions(const std::string& kind, std::vector<uint8_t> options_attr) noexcept;

}  // namespace faultd::inj
