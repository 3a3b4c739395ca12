// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

namespace faultd::js {

/// conntrackDeleteFlows({ l4proto, port, addresses }): number — entries deleted.
Napi::Value ConntrackDeleteFlows(const Napi::CallbackInfo& info);

}  // namespace faultd::js
