// SPDX-License-Identifier: Apache-2.0
// The system clock for linux-time-chaos: paired reads, an atomic relative step, the kernel's NTP
// state. All synchronous: each is one or a few syscalls (vDSO reads), and a step must not wait
// for a libuv pool thread (its delay would not matter, but nothing is gained by it).
#include "clock_binding.h"

#include <string>

#include "../core/clock.h"
#include "js_args.h"
#include "js_error.h"

namespace faultd::js {
namespace {

/// A step larger than this is refused by the binding (the TS params bound it far below: 7 days).
constexpr int64_t kMaxStepNs = 400LL * 24 * 3600 * core::kNsPerSec;

}  // namespace

Napi::Value ClockRead(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const core::ClockPair pair = core::ReadClockPair();
  Napi::Object out = Napi::Object::New(env);
  out.Set("realtimeNs", Napi::BigInt::New(env, pair.realtime_ns));
  out.Set("monotonicNs", Napi::BigInt::New(env, pair.monotonic_ns));
  out.Set("boottimeNs", Napi::BigInt::New(env, pair.boottime_ns));
  out.Set("bracketNs", Napi::Number::New(env, static_cast<double>(pair.bracket_ns)));
  return out;
}

Napi::Value ClockStep(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBigInt()) {
    ThrowWithCode(Napi::TypeError::New(env, "The \"offsetNs\" argument must be a bigint"), "ERR_INVALID_ARG_TYPE");
  }
  bool lossless = false;
  const int64_t offset_ns = info[0].As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless || offset_ns < -kMaxStepNs || offset_ns > kMaxStepNs) {
    ThrowWithCode(Napi::RangeError::New(env, "The value of \"offsetNs\" is out of range. It must be within ±400 days"), "ERR_OUT_OF_RANGE");
  }
  const auto stepped = core::StepRealtime(offset_ns);
  if (!stepped.ok()) ThrowSystemError(env, stepped.error());
  return env.Undefined();
}

Napi::Value NtpState(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const auto state = core::ReadNtpState();
  if (!state.ok()) ThrowSystemError(env, state.error());
  const core::NtpState& s = state.value();
  Napi::Object out = Napi::Object::New(env);
  out.Set("clockState", Napi::Number::New(env, s.clock_state));
  out.Set("status", Napi::Number::New(env, s.status));
  out.Set("maxErrorUs", Napi::Number::New(env, static_cast<double>(s.max_error_us)));
  out.Set("estErrorUs", Napi::Number::New(env, static_cast<double>(s.est_error_us)));
  out.Set("offsetNs", Napi::Number::New(env, static_cast<double>(s.offset_ns)));
  return out;
}

}  // namespace faultd::js
