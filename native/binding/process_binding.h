// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

namespace faultd::js {

/// processStartTime(pid): number | null — field 22 of /proc/<pid>/stat; null when gone.
Napi::Value ProcessStartTime(const Napi::CallbackInfo& info);
/// killProcess(pid, startTime, signal, path?: 'pidfd' | 'pid-start-checked'):
/// 'signalled' | 'absent' | 'mismatch' | 'reused'.
Napi::Value KillProcess(const Napi::CallbackInfo& info);
/// signalPath(): 'pidfd' | 'pid-start-checked' — which path this kernel allows (pidfd_open probe).
Napi::Value KernelSignalPath(const Napi::CallbackInfo& info);
/// tryLock(fd, 'shared' | 'exclusive' | 'unlock'): boolean — flock without blocking.
Napi::Value TryLock(const Napi::CallbackInfo& info);
/// dieWithParent(parentPid): boolean — SIGKILLed by the kernel when the parent exits; false when
/// that could not be set or `parentPid` is no longer the parent.
Napi::Value DieWithParent(const Napi::CallbackInfo& info);
/// memlockLimit(): { soft: number | null, hard: number | null } in bytes; null = unlimited.
Napi::Value MemlockLimit(const Napi::CallbackInfo& info);

}  // namespace faultd::js
