// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

namespace faultd::js {

/// clockRead(): { realtimeNs, monotonicNs, boottimeNs: bigint; bracketNs: number }.
Napi::Value ClockRead(const Napi::CallbackInfo& info);
/// clockStep(offsetNs: bigint): void — adds the offset to CLOCK_REALTIME atomically.
Napi::Value ClockStep(const Napi::CallbackInfo& info);
/// ntpState(): { clockState, status, maxErrorUs, estErrorUs, offsetNs } — adjtimex, read only.
Napi::Value NtpState(const Napi::CallbackInfo& info);

}  // namespace faultd::js
