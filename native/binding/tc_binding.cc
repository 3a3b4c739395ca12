// SPDX-License-Identifier: Apache-2.0
// Traffic-control calls: pure encoders and qdisc transactions, all synchronous.
//
// Why not an AsyncWorker (STYLE.md D6 suggests one for kernel transactions): measured here, a
// qdisc transaction on the shared netlink socket takes 5–20 µs, while the hop to the libuv pool
// and back costs 20–90 µs and would be most of a fault's apply time. The only wait inside is the
// kernel's rtnl/nfnl mutex, held briefly by other netlink users; faultd's event loop tolerates
// that (heartbeats are seconds apart). Long work (stress load) stays off the JS thread.
#include "tc_binding.h"

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../core/netlink/link.h"
#include "../core/netlink/qdisc.h"
#include "../core/psched.h"
#include "../injectors/tc_dump.h"
#include "../injectors/tc_netem.h"
#include "../injectors/tc_steer.h"
#include "../injectors/tc_tbf.h"
#include "js_args.h"
#include "js_error.h"
#include "match_args.h"

namespace faultd::js {
namespace {

constexpr double kMaxU32 = 4294967295.0;
constexpr double kMaxSafe = 9007199254740991.0;
constexpr const char* kDefaultDistDir = "/usr/lib/x86_64-linux-gnu/tc";

Napi::Value Bytes(Napi::Env env, const std::vector<uint8_t>& bytes) {
  return Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size());
}

core::Psched Psched(Napi::Env env, const Napi::Object& spec) {
  const std::string path = StringProp(spec, "pschedPath", "/proc/net/psched");
  auto psched = core::ReadPsched(path.c_str());
  if (!psched.ok()) ThrowSystemError(env, psched.error());
  return psched.value();
}

std::vector<uint8_t> BufferProp(const Napi::Object& obj, const char* key) {
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return {};
  if (!value.IsTypedArray()) {
    ThrowWithCode(Napi::TypeError::New(obj.Env(), std::string("The \"") + key + "\" property must be a Uint8Array"),
                  "ERR_INVALID_ARG_TYPE");
  }
  const auto array = value.As<Napi::Uint8Array>();
  return std::vector<uint8_t>(array.Data(), array.Data() + array.ByteLength());
}

int Ifindex(Napi::Env env, const std::string& ifname) {
  const auto index = core::nl::InterfaceIndex(ifname);
  if (!index.ok()) ThrowSystemError(env, index.error());
  return index.value();
}

uint32_t U32Prop(const Napi::Object& o, const char* key) { return static_cast<uint32_t>(NumberProp(o, key, 0, kMaxU32, 0)); }

/// The part every tc object request shares: `{ ifname, parent, … }`.
struct TcRequest {
  Napi::Object o;
  int ifindex;
  uint32_t parent;
};

TcRequest ReadTcRequest(const Napi::CallbackInfo& info) {
  const Napi::Object o = ObjectArg(info, 0, "request");
  return {o, Ifindex(info.Env(), StringProp(o, "ifname", "")), U32Prop(o, "parent")};
}

/// Throws the system error of a failed transaction; undefined otherwise.
Napi::Value Done(Napi::Env env, const core::Status& status) {
  if (!status.ok()) ThrowSystemError(env, status.error());
  return env.Undefined();
}

}  // namespace

Napi::Value NetemOptions(const Napi::CallbackInfo& info) {
  const Napi::Object o = ObjectArg(info, 0, "spec");
  inj::NetemSpec spec;
  spec.delay_us = static_cast<uint32_t>(NumberProp(o, "delayUs", 0, kMaxU32, 0));
  spec.jitter_us = static_cast<uint32_t>(NumberProp(o, "jitterUs", 0, kMaxU32, 0));
  spec.delay_corr_pct = NumberProp(o, "delayCorrelationPct", 0, 100, 0);
  spec.loss_pct = NumberProp(o, "lossPct", 0, 100, 0);
  spec.loss_corr_pct = NumberProp(o, "lossCorrelationPct", 0, 100, 0);
  spec.duplicate_pct = NumberProp(o, "duplicatePct", 0, 100, 0);
  spec.duplicate_corr_pct = NumberProp(o, "duplicateCorrelationPct", 0, 100, 0);
  spec.corrupt_pct = NumberProp(o, "corruptPct", 0, 100, 0);
  spec.corrupt_corr_pct = NumberProp(o, "corruptCorrelationPct", 0, 100, 0);
  spec.reorder_pct = NumberProp(o, "reorderPct", 0, 100, 0);
  spec.reorder_corr_pct = NumberProp(o, "reorderCorrelationPct", 0, 100, 0);
  spec.gap = static_cast<uint32_t>(NumberProp(o, "gap", 0, kMaxU32, 0));
  spec.limit_packets = static_cast<uint32_t>(NumberProp(o, "limitPackets", 1, kMaxU32, 1000));
  const std::string distribution = StringProp(o, "distribution", "");
  if (!distribution.empty() && distribution != "uniform") {
    auto table = inj::ReadNetemDistribution(StringProp(o, "distributionDir", kDefaultDistDir), distribution);
    if (!table.ok()) ThrowSystemError(info.Env(), table.error());
    spec.distribution = std::move(table).value();
  }
  auto bytes = inj::EncodeNetemOptions(spec, Psched(info.Env(), o));
  if (!bytes.ok()) ThrowSystemError(info.Env(), bytes.error());
  return Bytes(info.Env(), bytes.value());
}

Napi::Value TbfOptions(const Napi::CallbackInfo& info) {
  const Napi::Object o = ObjectArg(info, 0, "spec");
  inj::TbfSpec spec;
  spec.rate_bytes_per_sec = static_cast<uint64_t>(NumberProp(o, "rateBytesPerSec", 1, kMaxSafe, 0));
  spec.burst_bytes = static_cast<uint32_t>(NumberProp(o, "burstBytes", 1, kMaxU32, 0));
  spec.limit_bytes = static_cast<uint32_t>(NumberProp(o, "limitBytes", 0, kMaxU32, 0));
  spec.latency_us = static_cast<uint32_t>(NumberProp(o, "latencyUs", 0, kMaxU32, 0));
  auto bytes = inj::EncodeTbfOptions(spec, Psched(info.Env(), o));
  if (!bytes.ok()) ThrowSystemError(info.Env(), bytes.error());
  return Bytes(info.Env(), bytes.value());
}

Napi::Value HtbQdiscOptions(const Napi::CallbackInfo& info) {
  const auto default_minor = static_cast<uint32_t>(IntegerArg(info, 0, "defaultMinor", 1, 0xffff));
  auto bytes = inj::EncodeHtbQdiscOptions(default_minor);
  if (!bytes.ok()) ThrowSystemError(info.Env(), bytes.error());
  return Bytes(info.Env(), bytes.value());
}

Napi::Value HtbClassOptions(const Napi::CallbackInfo& info) {
  const Napi::Object o = ObjectArg(info, 0, "spec");
  const auto rate = static_cast<uint64_t>(NumberProp(o, "rateBytesPerSec", 1, kMaxSafe, 0));
  auto bytes = inj::EncodeHtbClassOptions(rate, Psched(info.Env(), o));
  if (!bytes.ok()) ThrowSystemError(info.Env(), bytes.error());
  return Bytes(info.Env(), bytes.value());
}

Napi::Value U32Options(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const Napi::Object o = ObjectArg(info, 0, "match");
  const auto classid = static_cast<uint32_t>(IntegerArg(info, 1, "classid", 1, 0xffffffffLL));
  inj::U32Match m;
  m.ip_version = static_cast<int>(NumberProp(o, "ipVersion", 4, 6, 4));
  const AddressArg address = AddressProp(o);
  if (address.ip_version != 0) {
    m.ip_version = address.ip_version;
    m.address = address.bytes;
    m.prefix_len = address.prefix_len;
  }
  m.match_source_address = o.Get("matchSourceAddress").ToBoolean().Value();
  m.l4proto = L4ProtoProp(o);
  m.port = static_cast<uint16_t>(NumberProp(o, "port", 0, 65535, 0));
  m.match_source_port = o.Get("matchSourcePort").ToBoolean().Value();
  auto bytes = inj::EncodeU32Options(m, classid);
  if (!bytes.ok()) ThrowSystemError(env, bytes.error());
  Napi::Object result = Napi::Object::New(env);
  result.Set("options", Bytes(env, bytes.value()));
  result.Set("protocol", Napi::Number::New(env, m.ip_version == 4 ? 0x0800 : 0x86dd));
  return result;
}

Napi::Value U32RedirectOptions(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto bytes = inj::EncodeU32RedirectOptions(static_cast<int>(IntegerArg(info, 0, "ifindex", 1, 0x7fffffffLL)));
  if (!bytes.ok()) ThrowSystemError(env, bytes.error());
  Napi::Object result = Napi::Object::New(env);
  result.Set("options", Bytes(env, bytes.value()));
  result.Set("protocol", Napi::Number::New(env, 0x0003));  // ETH_P_ALL
  return result;
}

Napi::Value LinkIndex(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowWithCode(Napi::TypeError::New(info.Env(), "The \"name\" argument must be a string"), "ERR_INVALID_ARG_TYPE");
  }
  return Napi::Number::New(info.Env(), Ifindex(info.Env(), info[0].As<Napi::String>().Utf8Value()));
}

Napi::Value LinkAdd(const Napi::CallbackInfo& info) {
  const Napi::Object o = ObjectArg(info, 0, "request");
  const std::string kind = StringProp(o, "kind", "");
  if (kind != "ifb") ThrowWithCode(Napi::TypeError::New(info.Env(), "The \"kind\" property must be ifb"), "ERR_INVALID_ARG_VALUE");
  const std::string name = StringProp(o, "name", "");
  if (auto added = core::nl::AddLink(name, kind); !added.ok()) ThrowSystemError(info.Env(), added.error());
  return Done(info.Env(), core::nl::SetLinkUp(name));
}

Napi::Value LinkDelete(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowWithCode(Napi::TypeError::New(info.Env(), "The \"name\" argument must be a string"), "ERR_INVALID_ARG_TYPE");
  }
  const auto deleted = core::nl::DeleteLink(info[0].As<Napi::String>().Utf8Value());
  if (!deleted.ok()) ThrowSystemError(info.Env(), deleted.error());
  return Napi::Boolean::New(info.Env(), deleted.value());
}

Napi::Value ClassReplace(const Napi::CallbackInfo& info) {
  const TcRequest r = ReadTcRequest(info);
  return Done(info.Env(), core::nl::ReplaceClass(r.ifindex, r.parent, U32Prop(r.o, "classid"), StringProp(r.o, "kind", ""),
                                                 BufferProp(r.o, "options")));
}

Napi::Value FilterAdd(const Napi::CallbackInfo& info) {
  const TcRequest r = ReadTcRequest(info);
  const auto prio = static_cast<uint16_t>(NumberProp(r.o, "prio", 1, 0xffff, 1));
  const auto protocol = static_cast<uint16_t>(NumberProp(r.o, "protocol", 0, 0xffff, 0x0800));
  const auto handle = static_cast<uint32_t>(NumberProp(r.o, "handle", 0, 0xffffffffLL, 0));
  return Done(info.Env(), core::nl::AddFilter(r.ifindex, r.parent, prio, protocol, StringProp(r.o, "kind", ""),
                                              BufferProp(r.o, "options"), handle));
}

namespace {

/// `{ handle, parent, kind }`, the part every dumped tc object shares.
Napi::Object TcObjectBase(Napi::Env env, const core::nl::TcObject& object) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("handle", Napi::Number::New(env, object.handle));
  o.Set("parent", Napi::Number::New(env, object.parent));
  o.Set("kind", Napi::String::New(env, object.kind));
  return o;
}

/// Qdiscs and classes: their options as the kernel takes them back (see tc_dump.h).
Napi::Array TcObjects(Napi::Env env, const std::vector<core::nl::TcObject>& objects, bool qdiscs) {
  Napi::Array array = Napi::Array::New(env, objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    Napi::Object o = TcObjectBase(env, objects[i]);
    o.Set("options", Bytes(env, qdiscs ? inj::ReplayableQdiscOptions(objects[i].kind, objects[i].options) : objects[i].options));
    array.Set(static_cast<uint32_t>(i), o);
  }
  return array;
}

/// A dumped u32 entry as plain values (addon.d.ts U32Node).
Napi::Object U32NodeObject(Napi::Env env, const inj::U32Node& node) {
  Napi::Object o = Napi::Object::New(env);
  switch (node.kind) {
    case inj::U32Node::Kind::kHeader:
      o.Set("node", Napi::String::New(env, "header"));
      break;
    case inj::U32Node::Kind::kTable:
      o.Set("node", Napi::String::New(env, "table"));
      o.Set("divisor", Napi::Number::New(env, node.divisor));
      break;
    case inj::U32Node::Kind::kKey: {
      o.Set("node", Napi::String::New(env, "key"));
      Napi::Array actions = Napi::Array::New(env, node.actions.size());
      for (size_t i = 0; i < node.actions.size(); ++i) actions.Set(static_cast<uint32_t>(i), Napi::String::New(env, node.actions[i]));
      o.Set("actions", actions);
      Napi::Array extra = Napi::Array::New(env, node.extra_attributes.size());
      for (size_t i = 0; i < node.extra_attributes.size(); ++i) extra.Set(static_cast<uint32_t>(i), Napi::Number::New(env, node.extra_attributes[i]));
      o.Set("extraAttributes", extra);
      if (!node.replay.empty()) o.Set("replayOptions", Bytes(env, node.replay));
      break;
    }
  }
  return o;
}

Napi::Array FilterObjects(Napi::Env env, const std::vector<core::nl::TcObject>& filters) {
  Napi::Array array = Napi::Array::New(env, filters.size());
  for (size_t i = 0; i < filters.size(); ++i) {
    Napi::Object o = TcObjectBase(env, filters[i]);
    o.Set("prio", Napi::Number::New(env, filters[i].info >> 16));
    o.Set("protocol", Napi::Number::New(env, ntohs(static_cast<uint16_t>(filters[i].info & 0xffff))));
    o.Set("chain", Napi::Number::New(env, filters[i].chain));
    if (filters[i].kind == "u32") o.Set("u32", U32NodeObject(env, inj::DecodeU32Node(filters[i].options)));
    array.Set(static_cast<uint32_t>(i), o);
  }
  return array;
}

std::string IfnameArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowWithCode(Napi::TypeError::New(info.Env(), "The \"ifname\" argument must be a string"), "ERR_INVALID_ARG_TYPE");
  }
  return info[0].As<Napi::String>().Utf8Value();
}

template <typename T>
const T& ValueOrThrow(Napi::Env env, const core::Result<T>& result) {
  if (!result.ok()) ThrowSystemError(env, result.error());
  return result.value();
}

}  // namespace

Napi::Value QdiscList(const Napi::CallbackInfo& info) {
  const int ifindex = Ifindex(info.Env(), IfnameArg(info));
  const auto listed = core::nl::ListQdiscs(ifindex);
  return TcObjects(info.Env(), ValueOrThrow(info.Env(), listed), true);
}

Napi::Value ClassList(const Napi::CallbackInfo& info) {
  const int ifindex = Ifindex(info.Env(), IfnameArg(info));
  const auto listed = core::nl::ListClasses(ifindex);
  return TcObjects(info.Env(), ValueOrThrow(info.Env(), listed), false);
}

Napi::Value FilterList(const Napi::CallbackInfo& info) {
  const int ifindex = Ifindex(info.Env(), IfnameArg(info));
  const auto parent = static_cast<uint32_t>(IntegerArg(info, 1, "parent", 0, 0xffffffffLL));
  const auto listed = core::nl::ListFilters(ifindex, parent);
  return FilterObjects(info.Env(), ValueOrThrow(info.Env(), listed));
}

Napi::Value QdiscReplace(const Napi::CallbackInfo& info) {
  const TcRequest r = ReadTcRequest(info);
  return Done(info.Env(), core::nl::ReplaceQdisc(r.ifindex, r.parent, U32Prop(r.o, "handle"), StringProp(r.o, "kind", ""),
                                                 BufferProp(r.o, "options"), r.o.Get("exclusive").ToBoolean().Value()));
}

Napi::Value QdiscDelete(const Napi::CallbackInfo& info) {
  const TcRequest r = ReadTcRequest(info);
  return Done(info.Env(), core::nl::DeleteQdisc(r.ifindex, r.parent, U32Prop(r.o, "handle")));
}

}  // namespace faultd::js
