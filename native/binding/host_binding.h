// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

namespace faultd::js {

/// sdNotify(socketPath, state): void — one sd_notify(3) datagram ("READY=1\nSTATUS=…").
Napi::Value SdNotify(const Napi::CallbackInfo& info);
/// fallocate(fd, length): void — reserves `length` bytes of the open file.
Napi::Value Fallocate(const Napi::CallbackInfo& info);
/// pageSize(): number — sysconf(_SC_PAGESIZE), the bytes of one page (4096 on x86-64, 16384 or 65536 on some arm64 and ppc64le kernels).
Napi::Value PageSize(const Napi::CallbackInfo& info);

}  // namespace faultd::js
