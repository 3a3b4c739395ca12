// SPDX-License-Identifier: Apache-2.0
// Turns core::SysError into the JS error made by the TS-supplied factory
// (src/native/system-error.ts), so every native failure has Node's shape: code, errno, syscall.
#pragma once

#include <napi.h>

#include "../core/sys_result.h"

namespace faultd::js {

/// Stores the factory given to `init()`; one per environment (no globals).
void SetErrorFactory(Napi::Env env, Napi::Function factory);

/// Builds the JS error for `error`. If the factory is missing or throws, that exception wins.
Napi::Value MakeSystemError(Napi::Env env, const core::SysError& error);

/// Throws the JS error for `error` (as a C++ exception carrying the JS value).
[[noreturn]] void ThrowSystemError(Napi::Env env, const core::SysError& error);

}  // namespace faultd::js
