// SPDX-License-Identifier: Apache-2.0
// systemd over D-Bus (injectors/systemd_unit.h). The unit calls block until systemd answers
// (a busy manager can take seconds), so they run on the libuv pool as AsyncWorkers that resolve
// a promise; each worker owns its own bus connection. A start or stop may wait for its job's
// JobRemoved signal, at most 10 s (kMaxJobWaitMs), so a pool thread is never held long. The probe is synchronous: doctor and the
// run's pre-flight ask it once, before anything runs.
#include "systemd_binding.h"

#include <optional>
#include <string>

#include "../injectors/systemd_unit.h"
#include "js_args.h"
#include "js_error.h"

namespace faultd::js {
namespace {

constexpr int64_t kMaxJobWaitMs = 10'000;

/// A unit name as systemd takes it: bounded, no NUL (systemd itself checks the rest).
std::string UnitArgument(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowWithCode(Napi::TypeError::New(info.Env(), "The \"unit\" argument must be a string"), "ERR_INVALID_ARG_TYPE");
  }
  std::string unit = info[0].As<Napi::String>().Utf8Value();
  if (unit.empty() || unit.size() > 256 || unit.find('\0') != std::string::npos) {
    ThrowWithCode(Napi::RangeError::New(info.Env(), "The \"unit\" argument must be a unit name of 1-256 characters"), "ERR_OUT_OF_RANGE");
  }
  return unit;
}

/// A SystemdUnitState (src/native/addon.d.ts).
Napi::Object StateObject(Napi::Env env, const inj::UnitState& state) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loadState", state.load_state);
  out.Set("activeState", state.active_state);
  out.Set("subState", state.sub_state);
  out.Set("jobId", Napi::Number::New(env, state.job_id));
  out.Set("restart", state.restart);
  out.Set("nRestarts", Napi::Number::New(env, state.n_restarts));
  out.Set("mainPid", Napi::Number::New(env, state.main_pid));
  // UINT64_MAX (infinity) and anything past 2^53 become null.
  out.Set("timeoutStartUs", state.timeout_start_us >= (uint64_t{1} << 53) ? env.Null() : Napi::Number::New(env, static_cast<double>(state.timeout_start_us)));
  out.Set("id", state.id);
  out.Set("startLimitBurst", Napi::Number::New(env, state.start_limit_burst));
  out.Set("startLimitIntervalUs", state.start_limit_interval_us >= (uint64_t{1} << 53) ? env.Null() : Napi::Number::New(env, static_cast<double>(state.start_limit_interval_us)));
  return out;
}

/// µs as a number, or null for UINT64_MAX (infinity) and anything past 2^53.
Napi::Value MicrosecondsOrNull(Napi::Env env, uint64_t us) {
  return us >= (uint64_t{1} << 53) ? env.Null() : Napi::Number::New(env, static_cast<double>(us));
}

/// A SystemdUnitPlanFacts (src/native/addon.d.ts).
Napi::Object PlanFactsObject(Napi::Env env, const inj::UnitPlanFacts& facts) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("canStart", Napi::Boolean::New(env, facts.can_start));
  out.Set("canStop", Napi::Boolean::New(env, facts.can_stop));
  out.Set("timeoutStopUs", MicrosecondsOrNull(env, facts.timeout_stop_us));
  out.Set("watchdogUs", MicrosecondsOrNull(env, facts.watchdog_us));
  Napi::Array dependents = Napi::Array::New(env, facts.stop_propagates_to.size());
  for (uint32_t i = 0; i < facts.stop_propagates_to.size(); ++i) dependents.Set(i, facts.stop_propagates_to[i]);
  out.Set("stopPropagatesTo", dependents);
  return out;
}

/// Resolves with OnValue(), or rejects with the factory's error for the stored SysError.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* name) : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  virtual Napi::Value OnValue(Napi::Env env) = 0;
  void Fail(core::SysError error) { error_ = std::move(error); }
  void OnOK() override {
    Napi::Env env = Env();
    if (error_) {
      deferred_.Reject(MakeSystemError(env, *error_));
    } else {
      deferred_.Resolve(OnValue(env));
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::optional<core::SysError> error_;
};

class UnitStateWorker final : public PromiseWorker {
 public:
  UnitStateWorker(Napi::Env env, std::string unit) : PromiseWorker(env, "faultd:systemdUnitState"), unit_(std::move(unit)) {}
  void Execute() override {
    auto state = inj::ReadUnitState(unit_);
    if (state.ok()) {
      state_ = std::move(state).value();
    } else {
      Fail(state.error());
    }
  }
  Napi::Value OnValue(Napi::Env env) override { return StateObject(env, state_); }

 private:
  std::string unit_;
  inj::UnitState state_;
};

class UnitPlanFactsWorker final : public PromiseWorker {
 public:
  UnitPlanFactsWorker(Napi::Env env, std::string unit) : PromiseWorker(env, "faultd:systemdUnitPlanFacts"), unit_(std::move(unit)) {}
  void Execute() override {
    auto facts = inj::ReadUnitPlanFacts(unit_);
    if (facts.ok()) {
      facts_ = std::move(facts).value();
    } else {
      Fail(facts.error());
    }
  }
  Napi::Value OnValue(Napi::Env env) override { return PlanFactsObject(env, facts_); }

 private:
  std::string unit_;
  inj::UnitPlanFacts facts_;
};

class UnitActionWorker final : public PromiseWorker {
 public:
  UnitActionWorker(Napi::Env env, std::string unit, inj::UnitAction action, int wait_ms)
      : PromiseWorker(env, "faultd:systemdUnitAction"), unit_(std::move(unit)), action_(action), wait_ms_(wait_ms) {}
  void Execute() override {
    auto done = inj::RunUnitAction(unit_, action_, wait_ms_);
    if (done.ok()) {
      result_ = std::move(done).value();
    } else {
      Fail(done.error());
    }
  }
  Napi::Value OnValue(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("result", result_.result);
    out.Set("state", result_.state ? Napi::Value(StateObject(env, *result_.state)) : env.Null());
    return out;
  }

 private:
  std::string unit_;
  inj::UnitAction action_;
  int wait_ms_;
  inj::ActionOutcome result_;
};

}  // namespace

Napi::Value SystemdUnitState(const Napi::CallbackInfo& info) {
  auto* worker = new UnitStateWorker(info.Env(), UnitArgument(info));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // deleted by node-addon-api after OnOK
  return promise;
}

Napi::Value SystemdUnitPlanFacts(const Napi::CallbackInfo& info) {
  auto* worker = new UnitPlanFactsWorker(info.Env(), UnitArgument(info));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value SystemdUnitAction(const Napi::CallbackInfo& info) {
  std::string unit = UnitArgument(info);
  const std::string action = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  inj::UnitAction parsed;
  if (action == "start") {
    parsed = inj::UnitAction::kStart;
  } else if (action == "stop") {
    parsed = inj::UnitAction::kStop;
  } else if (action == "kill") {
    parsed = inj::UnitAction::kKillMain;
  } else {
    ThrowWithCode(Napi::TypeError::New(info.Env(), "The \"action\" argument must be 'start', 'stop' or 'kill'"), "ERR_INVALID_ARG_TYPE");
  }
  // Bounded so that a slow job never holds a libuv pool thread long (the caller polls after).
  const auto wait_ms = info.Length() > 2 && !info[2].IsUndefined() ? static_cast<int>(IntegerArg(info, 2, "waitMs", 0, kMaxJobWaitMs)) : 0;
  auto* worker = new UnitActionWorker(info.Env(), std::move(unit), parsed, wait_ms);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value SystemdProbe(const Napi::CallbackInfo& info) {
  auto probed = inj::ProbeManager();
  if (!probed.ok()) ThrowSystemError(info.Env(), probed.error());
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("address", probed.value().address);
  out.Set("version", probed.value().version);
  out.Set("systemState", probed.value().system_state);
  return out;
}

}  // namespace faultd::js
