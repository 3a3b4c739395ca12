// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

namespace faultd::js {

/// netemOptions(spec): Uint8Array — the TCA_OPTIONS attribute for a netem qdisc.
Napi::Value NetemOptions(const Napi::CallbackInfo& info);
/// tbfOptions(spec): Uint8Array — the TCA_OPTIONS attribute for a tbf qdisc.
Napi::Value TbfOptions(const Napi::CallbackInfo& info);
/// htbQdiscOptions(defaultMinor): Uint8Array.
Napi::Value HtbQdiscOptions(const Napi::CallbackInfo& info);
/// htbClassOptions({ rateBytesPerSec }): Uint8Array.
Napi::Value HtbClassOptions(const Napi::CallbackInfo& info);
/// u32Options(match, classid): { options: Uint8Array, protocol: number }.
Napi::Value U32Options(const Napi::CallbackInfo& info);
/// u32RedirectOptions(ifindex): { options, protocol } — match-all u32 + mirred redirect to ifindex.
Napi::Value U32RedirectOptions(const Napi::CallbackInfo& info);
/// linkIndex(name): number — the interface index (ENODEV error if absent).
Napi::Value LinkIndex(const Napi::CallbackInfo& info);
/// linkAdd({ name, kind: 'ifb' }): undefined — creates the device and brings it up.
Napi::Value LinkAdd(const Napi::CallbackInfo& info);
/// linkDelete(name): boolean — false if there was no such device.
Napi::Value LinkDelete(const Napi::CallbackInfo& info);
/// classReplace({ ifname, parent, classid, kind, options }): undefined.
Napi::Value ClassReplace(const Napi::CallbackInfo& info);
/// filterAdd({ ifname, parent, prio, protocol, kind, options }): undefined.
Napi::Value FilterAdd(const Napi::CallbackInfo& info);
/// qdiscList(ifname): { handle, parent, kind, options }[] (options as the kernel takes them back).
Napi::Value QdiscList(const Napi::CallbackInfo& info);
/// classList(ifname): { handle, parent, kind, options }[].
Napi::Value ClassList(const Napi::CallbackInfo& info);
/// filterList(ifname, parent): { handle, parent, prio, protocol, chain, kind, u32? }[] (u32 entries decoded).
Napi::Value FilterList(const Napi::CallbackInfo& info);
/// qdiscReplace({ ifname, parent, handle, kind, options?, exclusive? }): undefined.
Napi::Value QdiscReplace(const Napi::CallbackInfo& info);
/// qdiscDelete({ ifname, parent, handle? }): undefined.
Napi::Value QdiscDelete(const Napi::CallbackInfo& info);

}  // namespace faultd::js
