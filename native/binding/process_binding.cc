// SPDX-License-Identifier: Apache-2.0
// Process identity, safe signalling and limits. All synchronous: each is a few syscalls.
#include "process_binding.h"

#include <cerrno>
#include <csignal>

#include "../core/file_lock.h"
#include "../core/parent_death.h"
#include "../core/process_kill.h"
#include "../core/proc_stat.h"
#include "../core/rlimit.h"
#include "js_args.h"
#include "js_error.h"

namespace faultd::js {
namespace {

constexpr int64_t kMaxPid = 4'194'304;  // PID_MAX_LIMIT on 64-bit kernels
constexpr int64_t kMaxSafeInteger = 9'007'199'254'740'991;

Napi::Value LimitValue(Napi::Env env, const std::optional<uint64_t>& value) {
  if (!value) return env.Null();
  return Napi::Number::New(env, static_cast<double>(*value));
}

// The optional fourth argument of killProcess: 'pidfd' (default; falls back where the kernel
// lacks pidfds) or 'pid-start-checked' (kill(2) between two start-time checks, forced).
core::SignalPath SignalPathArg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined()) return core::SignalPath::kPidfd;
  const std::string path = info[index].IsString() ? info[index].As<Napi::String>().Utf8Value() : "";
  if (path == "pidfd") return core::SignalPath::kPidfd;
  if (path == "pid-start-checked") return core::SignalPath::kPidStartChecked;
  ThrowWithCode(Napi::TypeError::New(info.Env(), "The \"path\" argument must be 'pidfd' or 'pid-start-checked'"),
                "ERR_INVALID_ARG_TYPE");
}

const char* SignalPathName(core::SignalPath path) {
  return path == core::SignalPath::kPidfd ? "pidfd" : "pid-start-checked";
}

const char* OutcomeName(core::KillOutcome outcome) {
  switch (outcome) {
    case core::KillOutcome::kSignalled:
      return "signalled";
    case core::KillOutcome::kAbsent:
      return "absent";
    case core::KillOutcome::kMismatch:
      return "mismatch";
    case core::KillOutcome::kReused:
      return "reused";
  }
  return "absent";
}

}  // namespace

Napi::Value ProcessStartTime(const Napi::CallbackInfo& info) {
  const auto pid = static_cast<pid_t>(IntegerArg(info, 0, "pid", 1, kMaxPid));
  const auto stat = core::ReadProcStat(pid);
  if (!stat.ok()) {
    if (stat.error().err == ENOENT || stat.error().err == ESRCH) return info.Env().Null();
    ThrowSystemError(info.Env(), stat.error());
  }
  return Napi::Number::New(info.Env(), static_cast<double>(stat.value().start_ticks));
}

Napi::Value KillProcess(const Napi::CallbackInfo& info) {
  const auto pid = static_cast<pid_t>(IntegerArg(info, 0, "pid", 1, kMaxPid));
  const auto start_ticks = static_cast<uint64_t>(IntegerArg(info, 1, "startTime", 0, kMaxSafeInteger));
  const auto signal = static_cast<int>(IntegerArg(info, 2, "signal", 0, SIGRTMAX));
  const auto path = SignalPathArg(info, 3);
  const auto outcome = core::KillIfSameProcess(pid, start_ticks, signal, path);
  if (!outcome.ok()) ThrowSystemError(info.Env(), outcome.error());
  return Napi::String::New(info.Env(), OutcomeName(outcome.value()));
}

Napi::Value KernelSignalPath(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), SignalPathName(core::DetectSignalPath()));
}

Napi::Value DieWithParent(const Napi::CallbackInfo& info) {
  const auto parent = static_cast<pid_t>(IntegerArg(info, 0, "parentPid", 1, kMaxPid));
  return Napi::Boolean::New(info.Env(), core::DieWithParent(parent));
}

Napi::Value TryLock(const Napi::CallbackInfo& info) {
  const auto fd = static_cast<int>(IntegerArg(info, 0, "fd", 0, 1 << 30));
  const std::string mode = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  core::LockMode lock_mode;
  if (mode == "shared") {
    lock_mode = core::LockMode::kShared;
  } else if (mode == "exclusive") {
    lock_mode = core::LockMode::kExclusive;
  } else if (mode == "unlock") {
    lock_mode = core::LockMode::kUnlock;
  } else {
    ThrowWithCode(Napi::TypeError::New(info.Env(), "The \"mode\" argument must be 'shared', 'exclusive' or 'unlock'"),
                  "ERR_INVALID_ARG_TYPE");
  }
  const auto taken = core::TryLock(fd, lock_mode);
  if (!taken.ok()) ThrowSystemError(info.Env(), taken.error());
  return Napi::Boolean::New(info.Env(), taken.value());
}

Napi::Value MemlockLimit(const Napi::CallbackInfo& info) {
  const auto limit = core::MemlockLimit();
  if (!limit.ok()) ThrowSystemError(info.Env(), limit.error());
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("soft", LimitValue(info.Env(), limit.value().soft));
  result.Set("hard", LimitValue(info.Env(), limit.value().hard));
  return result;
}

}  // namespace faultd::js
