// SPDX-License-Identifier: Apache-2.0
#include "match_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "js_args.h"

namespace faultd::js {

AddressArg AddressProp(const Napi::Object& obj) {
  AddressArg result;
  const std::string address = StringProp(obj, "address", "");
  if (address.empty()) return result;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
    result.ip_version = 4;
    result.bytes.resize(4);
    std::memcpy(result.bytes.data(), &v4, 4);
  } else if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
    result.ip_version = 6;
    result.bytes.resize(16);
    std::memcpy(result.bytes.data(), &v6, 16);
  } else {
    ThrowWithCode(Napi::TypeError::New(obj.Env(), "The \"address\" property must be an IPv4 or IPv6 address"),
                  "ERR_INVALID_ARG_VALUE");
  }
  const double max = result.ip_version == 4 ? 32 : 128;
  result.prefix_len = static_cast<uint8_t>(NumberProp(obj, "prefixLen", 1, max, max));
  return result;
}

uint8_t L4ProtoProp(const Napi::Object& obj) {
  const std::string proto = StringProp(obj, "l4proto", "");
  if (proto.empty()) return 0;
  if (proto == "tcp") return IPPROTO_TCP;
  if (proto == "udp") return IPPROTO_UDP;
  if (proto == "icmp") return IPPROTO_ICMP;
  if (proto == "icmpv6") return IPPROTO_ICMPV6;
  ThrowWithCode(Napi::TypeError::New(obj.Env(), "The \"l4proto\" property must be tcp, udp, icmp or icmpv6"), "ERR_INVALID_ARG_VALUE");
}

}  // namespace faultd::js
