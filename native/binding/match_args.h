// SPDX-License-Identifier: Apache-2.0
// Readers for the packet-match properties shared by the nf_tables and u32 bindings: an address
// with its prefix, and the transport protocol.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

namespace faultd::js {

struct AddressArg {
  int ip_version = 0;            // 0 when no address was given
  std::vector<uint8_t> bytes;    // network order, 4 or 16 bytes
  uint8_t prefix_len = 0;
};

/// obj.address (IPv4/IPv6 text) and obj.prefixLen (default: a single host).
AddressArg AddressProp(const Napi::Object& obj);

/// obj.l4proto: 'tcp' | 'udp' | 'icmp' | 'icmpv6' → IPPROTO_*, 0 when absent.
uint8_t L4ProtoProp(const Napi::Object& obj);

}  // namespace faultd::js
