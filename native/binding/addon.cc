// SPDX-License-Identifier: Apache-2.0
// Module entry: registers the binding functions. Only files in native/binding include napi.h.
#include <napi.h>

#include "clock_binding.h"
#include "conntrack_binding.h"
#include "host_binding.h"
#include "js_args.h"
#include "js_error.h"
#include "nft_binding.h"
#include "xtables_binding.h"
#include "process_binding.h"
#include "systemd_binding.h"
#include "tc_binding.h"

namespace faultd::js {

Napi::Object RegisterModule(Napi::Env env, Napi::Object exports);

namespace {

/// Version of the JS-visible surface; src/native/load.ts refuses any other.
constexpr int kAbiVersion = 1;

Napi::Value Init(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject() || !info[0].As<Napi::Object>().Get("makeSystemError").IsFunction()) {
    ThrowWithCode(Napi::TypeError::New(info.Env(), "init() needs { makeSystemError: function }"), "ERR_INVALID_ARG_TYPE");
  }
  SetErrorFactory(info.Env(), info[0].As<Napi::Object>().Get("makeSystemError").As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

Napi::Object RegisterModule(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("processStartTime", Napi::Function::New(env, ProcessStartTime, "processStartTime"));
  exports.Set("killProcess", Napi::Function::New(env, KillProcess, "killProcess"));
  exports.Set("signalPath", Napi::Function::New(env, KernelSignalPath, "signalPath"));
  exports.Set("dieWithParent", Napi::Function::New(env, DieWithParent, "dieWithParent"));
  exports.Set("memlockLimit", Napi::Function::New(env, MemlockLimit, "memlockLimit"));
  exports.Set("tryLock", Napi::Function::New(env, TryLock, "tryLock"));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
  exports.Set("pageSize", Napi::Function::New(env, PageSize, "pageSize"));
  exports.Set("clockRead", Napi::Function::New(env, ClockRead, "clockRead"));
  exports.Set("clockStep", Napi::Function::New(env, ClockStep, "clockStep"));
  exports.Set("ntpState", Napi::Function::New(env, NtpState, "ntpState"));
  exports.Set("netemOptions", Napi::Function::New(env, NetemOptions, "netemOptions"));
  exports.Set("tbfOptions", Napi::Function::New(env, TbfOptions, "tbfOptions"));
  exports.Set("qdiscList", Napi::Function::New(env, QdiscList, "qdiscList"));
  exports.Set("htbQdiscOptions", Napi::Function::New(env, HtbQdiscOptions, "htbQdiscOptions"));
  exports.Set("htbClassOptions", Napi::Function::New(env, HtbClassOptions, "htbClassOptions"));
  exports.Set("u32Options", Napi::Function::New(env, U32Options, "u32Options"));
  exports.Set("u32RedirectOptions", Napi::Function::New(env, U32RedirectOptions, "u32RedirectOptions"));
  exports.Set("linkIndex", Napi::Function::New(env, LinkIndex, "linkIndex"));
  exports.Set("linkAdd", Napi::Function::New(env, LinkAdd, "linkAdd"));
  exports.Set("linkDelete", Napi::Function::New(env, LinkDelete, "linkDelete"));
  exports.Set("classReplace", Napi::Function::New(env, ClassReplace, "classReplace"));
  exports.Set("filterAdd", Napi::Function::New(env, FilterAdd, "filterAdd"));
  exports.Set("classList", Napi::Function::New(env, ClassList, "classList"));
  exports.Set("filterList", Napi::Function::New(env, FilterList, "filterList"));
  exports.Set("qdiscReplace", Napi::Function::New(env, QdiscReplace, "qdiscReplace"));
  exports.Set("qdiscDelete", Napi::Function::New(env, QdiscDelete, "qdiscDelete"));
  exports.Set("nftAddChain", Napi::Function::New(env, NftAddChain, "nftAddChain"));
  exports.Set("nftDeleteChain", Napi::Function::New(env, NftDeleteChain, "nftDeleteChain"));
  exports.Set("nftListChains", Napi::Function::New(env, NftListChains, "nftListChains"));
  exports.Set("xtablesAddChain", Napi::Function::New(env, XtablesAddChain, "xtablesAddChain"));
  exports.Set("xtablesDeleteChain", Napi::Function::New(env, XtablesDeleteChain, "xtablesDeleteChain"));
  exports.Set("xtablesListChains", Napi::Function::New(env, XtablesListChains, "xtablesListChains"));
  exports.Set("conntrackDeleteFlows", Napi::Function::New(env, ConntrackDeleteFlows, "conntrackDeleteFlows"));
  exports.Set("systemdProbe", Napi::Function::New(env, SystemdProbe, "systemdProbe"));
  exports.Set("systemdUnitState", Napi::Function::New(env, SystemdUnitState, "systemdUnitState"));
  exports.Set("systemdUnitPlanFacts", Napi::Function::New(env, SystemdUnitPlanFacts, "systemdUnitPlanFacts"));
  exports.Set("systemdUnitAction", Napi::Function::New(env, SystemdUnitAction, "systemdUnitAction"));
  return exports;
}

}  // namespace faultd::js

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return faultd::js::RegisterModule(env, exports);
}

NODE_API_MODULE(faultd_native, InitModule)
