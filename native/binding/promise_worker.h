// SPDX-License-Identifier: Apache-2.0
// Runs a core call that returns Result<T> on the libuv pool and settles a Promise with the
// converted value or the TS-made system error (STYLE.md D5/D6: kernel transactions may block on
// the rtnl lock, so they never run on the JS thread).
#pragma once

#include <napi.h>

#include <functional>
#include <optional>
#include <utility>

#include "../core/sys_result.h"
#include "js_error.h"

namespace faultd::js {

template <typename T>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<core::Result<T>()>;
  using Convert = std::function<Napi::Value(Napi::Env, const T&)>;

  /// Queues `work`; the returned promise settles on the JS thread. `name` shows in async_hooks.
  static Napi::Promise Run(Napi::Env env, const char* name, Work work, Convert convert) {
    auto* worker = new PromiseWorker(env, name, std::move(work), std::move(convert));
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();  // node-addon-api deletes the worker after OnOK
    return promise;
  }

 protected:
  void Execute() override { result_.emplace(work_()); }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      if (result_->ok()) {
        deferred_.Resolve(convert_(env, result_->value()));
      } else {
        deferred_.Reject(MakeSystemError(env, result_->error()));
      }
    } catch (const Napi::Error& error) {
      deferred_.Reject(error.Value());  // the error factory itself threw: that error wins
    }
  }

 private:
  PromiseWorker(Napi::Env env, const char* name, Work work, Convert convert)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        convert_(std::move(convert)) {}

  Napi::Promise::Deferred deferred_;
  Work work_;
  Convert convert_;
  std::optional<core::Result<T>> result_;
};

}  // namespace faultd::js
