// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

namespace faultd::js {

/// systemdUnitState(unit): Promise<SystemdUnitState> — LoadUnit + its properties (libuv pool).
Napi::Value SystemdUnitState(const Napi::CallbackInfo& info);
/// systemdUnitPlanFacts(unit): Promise<SystemdUnitPlanFacts> — what a plan reads once (libuv pool).
Napi::Value SystemdUnitPlanFacts(const Napi::CallbackInfo& info);
/// systemdUnitAction(unit, 'start' | 'stop' | 'kill', waitMs?): Promise<{ result, state }> — the job's result and the unit after it (libuv pool).
Napi::Value SystemdUnitAction(const Napi::CallbackInfo& info);
/// systemdProbe(): { address, version, systemState } — synchronous (doctor and the run's pre-flight).
Napi::Value SystemdProbe(const Napi::CallbackInfo& info);

}  // namespace faultd::js
