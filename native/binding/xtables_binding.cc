// SPDX-License-Identifier: Apache-2.0
// x_tables (iptables-legacy) calls, synchronous like the nf_tables ones: each is one read and one
// replacement of a table of a few kilobytes, in µs.
#include "xtables_binding.h"

#include <linux/netfilter/x_tables.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include "../core/xtables/ipt_socket.h"
#include "js_args.h"
#include "js_error.h"
#include "match_args.h"

namespace faultd::js {
namespace {

std::string TableName(Napi::Env env, const Napi::Value& value) {
  if (!value.IsString()) ThrowWithCode(Napi::TypeError::New(env, "The \"table\" argument must be a string"), "ERR_INVALID_ARG_TYPE");
  const std::string table = value.As<Napi::String>().Utf8Value();
  if (table.empty() || table.size() >= XT_TABLE_MAXNAMELEN) BadArg(env, "The \"table\" argument must be a table name of 1..31 bytes");
  return table;
}

std::string ChainName(Napi::Env env, const Napi::Value& value) {
  if (!value.IsString()) ThrowWithCode(Napi::TypeError::New(env, "The \"chain\" argument must be a string"), "ERR_INVALID_ARG_TYPE");
  const std::string chain = value.As<Napi::String>().Utf8Value();
  if (chain.empty() || chain.size() > 28) BadArg(env, "The \"chain\" property must be a chain name of 1..28 bytes");
  return chain;
}

// The optional family argument or property: 4 (ip_tables, default) or 6 (ip6_tables).
core::xt::Family FamilyFrom(Napi::Env env, const Napi::Value& value) {
  if (value.IsUndefined()) return core::xt::Family::kIpv4;
  const double n = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0;
  if (n == 4) return core::xt::Family::kIpv4;
  if (n == 6) return core::xt::Family::kIpv6;
  BadArg(env, "The \"family\" must be 4 (ip_tables) or 6 (ip6_tables)");
}

int HookFrom(Napi::Env env, const Napi::Value& value) {
  const std::string hook = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (hook == "prerouting") return core::xt::kHookPrerouting;
  if (hook == "input") return core::xt::kHookInput;
  if (hook == "forward") return core::xt::kHookForward;
  if (hook == "output") return core::xt::kHookOutput;
  BadArg(env, "every hook must be one of prerouting, input, forward, output");
}

core::xt::Rule RuleFrom(Napi::Env env, const Napi::Object& r, core::xt::Family family) {
  const bool v6 = family == core::xt::Family::kIpv6;
  core::xt::Rule rule;
  const AddressArg address = AddressProp(r);
  if (address.ip_version != 0 && address.ip_version != (v6 ? 6 : 4)) {
    BadArg(env, v6 ? "The \"address\" property must be an IPv6 address in an ip6_tables chain" : "The \"address\" property must be an IPv4 address in an ip_tables chain");
  }
  if (address.ip_version != 0) {
    std::memcpy(rule.address.data(), address.bytes.data(), address.bytes.size());
    rule.prefix_len = address.prefix_len;
  }
  rule.match_source_address = r.Get("matchSourceAddress").ToBoolean().Value();
  rule.l4proto = L4ProtoProp(r);
  if (rule.l4proto == (v6 ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6))) BadArg(env, v6 ? "The \"l4proto\" property must be tcp, udp or icmpv6" : "The \"l4proto\" property must be tcp, udp or icmp");
  rule.port = static_cast<uint16_t>(NumberProp(r, "port", 0, 65535, 0));
  if (rule.port != 0 && rule.l4proto != IPPROTO_TCP && rule.l4proto != IPPROTO_UDP) BadArg(env, "The \"port\" property needs l4proto tcp or udp");
  rule.match_source_port = r.Get("matchSourcePort").ToBoolean().Value();
  rule.in_interface = StringProp(r, "inInterface", "");
  rule.out_interface = StringProp(r, "outInterface", "");
  if (rule.in_interface.size() >= 16 || rule.out_interface.size() >= 16) BadArg(env, "The \"inInterface\" and \"outInterface\" properties must be interface names (< 16 bytes)");
  rule.percent = static_cast<uint8_t>(NumberProp(r, "percent", 1, 100, 100));
  const std::string verdict = StringProp(r, "verdict", "drop");
  if (verdict == "drop") rule.verdict = core::xt::kVerdictDrop;
  else if (verdict == "accept") rule.verdict = core::xt::kVerdictAccept;
  else if (verdict == "queue") rule.queue_num = static_cast<uint16_t>(NumberProp(r, "queueNum", 0, 65535, 0));
  else BadArg(env, "The \"verdict\" property must be one of drop, accept, queue");
  return rule;
}

}  // namespace

Napi::Value XtablesAddChain(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const Napi::Object o = ObjectArg(info, 0, "spec");
  const std::string table = o.Get("table").IsUndefined() ? std::string("filter") : TableName(env, o.Get("table"));
  const core::xt::Family family = FamilyFrom(env, o.Get("family"));
  core::xt::ChainSpec spec;
  spec.chain = ChainName(env, o.Get("chain"));
  const Napi::Value hooks = o.Get("hooks");
  if (!hooks.IsArray()) BadArg(env, "The \"hooks\" property must be an array");
  const auto hook_array = hooks.As<Napi::Array>();
  if (hook_array.Length() == 0 || hook_array.Length() > 4) BadArg(env, "The \"hooks\" property must name 1..4 hooks");
  for (uint32_t i = 0; i < hook_array.Length(); ++i) spec.hooks.push_back(HookFrom(env, hook_array.Get(i)));
  spec.rules = RulesFrom(env, o, [&](const Napi::Object& rule) { return RuleFrom(env, rule, family); });
  const auto added = core::xt::AddChainToKernel(family, table, spec);
  if (!added.ok()) ThrowSystemError(env, added.error());
  return env.Undefined();
}

Napi::Value XtablesDeleteChain(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string table = TableName(env, info[0]);
  const std::string chain = ChainName(env, info[1]);
  const auto deleted = core::xt::RemoveChainFromKernel(FamilyFrom(env, info[2]), table, chain);
  if (!deleted.ok()) ThrowSystemError(env, deleted.error());
  return Napi::Boolean::New(env, deleted.value());
}

Napi::Value XtablesListChains(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string table = TableName(env, info[0]);
  const auto listed = core::xt::ListChains(FamilyFrom(env, info[1]), table);
  if (!listed.ok()) ThrowSystemError(env, listed.error());
  Napi::Array array = Napi::Array::New(env, listed.value().size());
  for (size_t i = 0; i < listed.value().size(); ++i) array.Set(static_cast<uint32_t>(i), Napi::String::New(env, listed.value()[i]));
  return array;
}

}  // namespace faultd::js
