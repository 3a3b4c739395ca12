// SPDX-License-Identifier: Apache-2.0
#include "dns_policy.h"

#include "../core/dns/message.h"

namespace faultd::inj {
namespace {

namespace dns = core::dns;

bool IsSpared(const DnsPolicy& p, const std::string& name) {
  for (const std::string& s : p.spared) {
    if (name == s || (name.size() > s.size() && name.ends_with(s) && name[name.size() - s.size() - 1] == '.')) return true;
  }
  return false;
}

bool Targeted(const DnsPolicy& p, const std::string& name) {
  if (p.action == DnsAction::kSpoof) return p.spoof.contains(name);
  if (p.names.empty()) return true;
  for (const std::string& n : p.names) {
    if (dns::NameMatches(name, n, p.substring)) return true;
  }
  return false;
}

}  // namespace

DnsVerdict Decide(const DnsPolicy& policy, std::span<const uint8_t> message, double draw_pct) {
  const dns::ParsedQuery parsed = dns::ParseQuery(message);
  if (!parsed.query) return {};
  const dns::Query& q = *parsed.query;
  if (IsSpared(policy, q.name) || !Targeted(policy, q.name) || !(draw_pct < policy.percentage)) return {};
  switch (policy.action) {
    case DnsAction::kTimeout: return {DnsDecision::kDrop, {}};
    case DnsAction::kNxDomain: return {DnsDecision::kAnswer, dns::BuildErrorResponse(q, message, dns::Rcode::kNxDomain)};
    case DnsAction::kServFail: return {DnsDecision::kAnswer, dns::BuildErrorResponse(q, message, dns::Rcode::kServFail)};
    case DnsAction::kRefused: return {DnsDecision::kAnswer, dns::BuildErrorResponse(q, message, dns::Rcode::kRefused)};
    case DnsAction::kSpoof:
      return {DnsDecision::kAnswer, dns::BuildAddressResponse(q, message, policy.spoof.at(q.name), policy.spoof_ttl_s)};
  }
  return {};
}

}  // namespace faultd::inj
