// SPDX-License-Identifier: Apache-2.0
// What the DNS interceptor does with one query: answer it itself (an error rcode, or spoofed
// addresses), drop it (a timeout), or forward it unchanged to the upstream server. Pure: no
// sockets, the random draw is passed in, so every decision is testable.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace faultd::inj {

enum class DnsAction { kNxDomain, kServFail, kRefused, kTimeout, kSpoof };

struct DnsPolicy {
  /// Names the fault targets (CanonicalName form); empty = every name (kSpoof uses `spoof`).
  std::vector<std::string> names;
  /// Match a name containing one of `names` rather than equal to it.
  bool substring = false;
  /// Names never touched, whatever `names` says: the control plane's (exact, or a sub-name).
  std::vector<std::string> spared;
  DnsAction action = DnsAction::kNxDomain;
  /// Share of matching queries acted on, 0–100 (the rest are forwarded).
  double percentage = 100;
  /// kSpoof: name → addresses (4 or 16 bytes each) answered for it.
  std::map<std::string, std::vector<std::vector<uint8_t>>> spoof;
  /// TTL of spoofed records.
  uint32_t spoof_ttl_s = 30;
};

enum class DnsDecision { kForward, kAnswer, kDrop };

struct DnsVerdict {
  DnsDecision decision = DnsDecision::kForward;
  /// With kAnswer: the whole response message.
  std::vector<uint8_t> answer;
};

/// The verdict for `message` (a DNS message as received, without a TCP length prefix).
/// `draw_pct` is a uniform random number in [0, 100): the query is acted on when below
/// `percentage`. Anything that is not a plain one-question query is forwarded.
DnsVerdict Decide(const DnsPolicy& policy, std::span<const uint8_t> message, double draw_pct);

}  // namespace faultd::inj
