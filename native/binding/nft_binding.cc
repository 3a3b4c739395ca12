// SPDX-License-Identifier: Apache-2.0
// nf_tables calls, synchronous for the reason given in tc_binding.cc (µs-scale transactions).
#include "nft_binding.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <initializer_list>
#include <utility>
#include <string>
#include <vector>

#include "../injectors/nft_rules.h"
#include "js_args.h"
#include "js_error.h"
#include "match_args.h"

namespace faultd::js {
namespace {

std::string Name(const Napi::Object& o, const char* key, Napi::Env env) {
  const std::string name = StringProp(o, key, "");
  if (name.empty() || name.size() > 255) BadArg(env, std::string("The \"") + key + "\" property must be a name of 1..255 bytes");
  return name;
}

// The enum value named by a string property, or a TypeError naming the allowed values.
template <typename E>
E EnumProp(Napi::Env env, const Napi::Object& o, const char* key, const char* fallback,
           std::initializer_list<std::pair<const char*, E>> values) {
  const std::string value = StringProp(o, key, fallback);
  std::string allowed;
  for (const auto& [name, e] : values) {
    if (value == name) return e;
    allowed += allowed.empty() ? name : std::string(", ") + name;
  }
  BadArg(env, std::string("The \"") + key + "\" property must be one of " + allowed);
}

inj::NftRule RuleFrom(Napi::Env env, const Napi::Object& r) {
  inj::NftRule rule;
  const AddressArg address = AddressProp(r);
  if (address.ip_version != 0) {
    rule.match.ip_version = address.ip_version;
    rule.match.address = address.bytes;
    rule.match.prefix_len = address.prefix_len;
  } else {
    rule.match.ip_version = static_cast<int>(NumberProp(r, "ipVersion", 0, 6, 0));
  }
  rule.match.match_source_address = r.Get("matchSourceAddress").ToBoolean().Value();
  rule.match.l4proto = L4ProtoProp(r);
  rule.match.port = static_cast<uint16_t>(NumberProp(r, "port", 0, 65535, 0));
  rule.match.match_source_port = r.Get("matchSourcePort").ToBoolean().Value();
  rule.match.ifname = StringProp(r, "ifname", "");
  if (rule.match.ifname.size() >= 16) BadArg(env, "The \"ifname\" property must be an interface name (< 16 bytes)");
  if (!r.Get("mark").IsUndefined()) rule.match.mark = static_cast<uint32_t>(NumberProp(r, "mark", 0, 4294967295.0, 0));
  if (!r.Get("skuid").IsUndefined()) rule.match.skuid = static_cast<uint32_t>(NumberProp(r, "skuid", 0, 4294967294.0, 0));
  rule.percent = static_cast<uint32_t>(NumberProp(r, "percent", 1, 100, 100));
  rule.verdict = EnumProp<inj::NftVerdict>(env, r, "verdict", "drop",
                                           {{"drop", inj::NftVerdict::kDrop},
                                            {"accept", inj::NftVerdict::kAccept},
                                            {"queue", inj::NftVerdict::kQueue},
                                            {"redirect", inj::NftVerdict::kRedirect}});
  if (rule.verdict == inj::NftVerdict::kQueue) rule.queue_num = static_cast<uint16_t>(NumberProp(r, "queueNum", 0, 65535, 0));
  if (rule.verdict == inj::NftVerdict::kRedirect) rule.redirect_port = static_cast<uint16_t>(NumberProp(r, "redirectPort", 1, 65535, 0));
  if (rule.verdict == inj::NftVerdict::kRedirect && rule.redirect_port == 0) BadArg(env, "The \"redirectPort\" property must be a port (1..65535) with verdict redirect");
  return rule;
}

}  // namespace

Napi::Value NftAddChain(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const Napi::Object o = ObjectArg(info, 0, "spec");
  inj::NftChainSpec spec;
  spec.table = StringProp(o, "table", "faultd");
  spec.chain = Name(o, "chain", env);
  spec.type = EnumProp<inj::NftChainType>(env, o, "type", "filter", {{"filter", inj::NftChainType::kFilter}, {"nat", inj::NftChainType::kNat}});
  spec.hook = EnumProp<inj::NftHook>(env, o, "hook", "",
                                     {{"prerouting", inj::NftHook::kPrerouting}, {"input", inj::NftHook::kInput}, {"output", inj::NftHook::kOutput}});
  spec.priority = static_cast<int32_t>(NumberProp(o, "priority", -1000, 1000, 0));
  spec.rules = RulesFrom(env, o, [env](const Napi::Object& rule) { return RuleFrom(env, rule); });
  const auto added = inj::AddNftChain(spec);
  if (!added.ok()) ThrowSystemError(env, added.error());
  return env.Undefined();
}

Napi::Value NftDeleteChain(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    ThrowWithCode(Napi::TypeError::New(info.Env(), "nftDeleteChain(table, chain) takes two strings"), "ERR_INVALID_ARG_TYPE");
  }
  const std::string table = info[0].As<Napi::String>().Utf8Value();
  const std::string chain = info[1].As<Napi::String>().Utf8Value();
  const auto deleted = inj::DeleteNftChain(table, chain);
  if (!deleted.ok()) ThrowSystemError(info.Env(), deleted.error());
  return Napi::Boolean::New(info.Env(), deleted.value());
}

Napi::Value NftListChains(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowWithCode(Napi::TypeError::New(info.Env(), "The \"table\" argument must be a string"), "ERR_INVALID_ARG_TYPE");
  }
  const std::string table = info[0].As<Napi::String>().Utf8Value();
  const auto listed = inj::ListNftChains(table);
  if (!listed.ok()) ThrowSystemError(info.Env(), listed.error());
  Napi::Array array = Napi::Array::New(info.Env(), listed.value().size());
  for (size_t i = 0; i < listed.value().size(); ++i) array.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), listed.value()[i]));
  return array;
}

}  // namespace faultd::js
