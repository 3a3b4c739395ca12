// SPDX-License-Identifier: Apache-2.0
#include "js_error.h"

namespace faultd::js {
namespace {

struct ErrorFactory {
  Napi::FunctionReference ref;
};

}  // namespace

void SetErrorFactory(Napi::Env env, Napi::Function factory) {
  auto* holder = env.GetInstanceData<ErrorFactory>();
  if (holder == nullptr) {
    holder = new ErrorFactory();
    env.SetInstanceData(holder);  // deleted by node-addon-api when the environment exits
  }
  holder->ref = Napi::Persistent(factory);
}

Napi::Value MakeSystemError(Napi::Env env, const core::SysError& error) {
  auto* holder = env.GetInstanceData<ErrorFactory>();
  if (holder == nullptr || holder->ref.IsEmpty()) {
    throw Napi::Error::New(env, "faultd native addon used before init()");
  }
  // If the factory throws, node-addon-api rethrows that exception here (it wins).
  return holder->ref.Call({Napi::Number::New(env, error.err), Napi::String::New(env, error.syscall),
                           error.detail.empty() ? env.Undefined() : Napi::String::New(env, error.detail)});
}

void ThrowSystemError(Napi::Env env, const core::SysError& error) {
  throw Napi::Error(env, MakeSystemError(env, error));
}

}  // namespace faultd::js
