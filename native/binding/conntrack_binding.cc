// SPDX-License-Identifier: Apache-2.0
// conntrack calls, synchronous as the nf_tables ones (a dump and a few deletes: µs to ms).
#include "conntrack_binding.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "../core/netlink/conntrack.h"
#include "js_args.h"
#include "js_error.h"
#include "match_args.h"

namespace faultd::js {

Napi::Value ConntrackDeleteFlows(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const Napi::Object o = ObjectArg(info, 0, "filter");
  core::nl::CtFlowFilter filter;
  filter.l4proto = L4ProtoProp(o);
  if (filter.l4proto != IPPROTO_UDP && filter.l4proto != IPPROTO_TCP) {
    ThrowWithCode(Napi::TypeError::New(env, "The \"l4proto\" property must be udp or tcp"), "ERR_INVALID_ARG_VALUE");
  }
  filter.dst_port = static_cast<uint16_t>(NumberProp(o, "port", 1, 65535, 0));
  const Napi::Value addresses = o.Get("addresses");
  if (!addresses.IsArray() || addresses.As<Napi::Array>().Length() == 0 || addresses.As<Napi::Array>().Length() > 64) {
    ThrowWithCode(Napi::TypeError::New(env, "The \"addresses\" property must be an array of 1..64 IPv4/IPv6 addresses"), "ERR_INVALID_ARG_VALUE");
  }
  const auto array = addresses.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const std::string text = array.Get(i).ToString().Utf8Value();
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
      const auto* b = reinterpret_cast<const uint8_t*>(&v4);
      filter.dsts.emplace_back(b, b + 4);
    } else if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
      filter.dsts.emplace_back(v6.s6_addr, v6.s6_addr + 16);
    } else {
      ThrowWithCode(Napi::TypeError::New(env, "The \"addresses\" property must be an array of 1..64 IPv4/IPv6 addresses"), "ERR_INVALID_ARG_VALUE");
    }
  }
  const auto deleted = core::nl::DeleteCtFlows(filter);
  if (!deleted.ok()) ThrowSystemError(env, deleted.error());
  return Napi::Number::New(env, deleted.value());
}

}  // namespace faultd::js
