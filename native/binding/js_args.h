// SPDX-License-Identifier: Apache-2.0
// Argument readers that throw TypeError/RangeError with Node's codes.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>

namespace faultd::js {

[[noreturn]] inline void ThrowWithCode(Napi::Error error, const char* code) {
  error.Set("code", Napi::String::New(error.Env(), code));
  throw error;
}

/// Reads info[index] as an integer within [min, max].
inline int64_t IntegerArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max) {
  const Napi::Env env = info.Env();
  if (info.Length() <= index || !info[index].IsNumber()) {
    ThrowWithCode(Napi::TypeError::New(env, std::string("The \"") + name + "\" argument must be a number"),
                  "ERR_INVALID_ARG_TYPE");
  }
  const double value = info[index].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(value) || std::trunc(value) != value || value < static_cast<double>(min) ||
      value > static_cast<double>(max)) {
    ThrowWithCode(Napi::RangeError::New(env, std::string("The value of \"") + name + "\" is out of range. It must be an integer >= " +
                                                 std::to_string(min) + " and <= " + std::to_string(max)),
                  "ERR_OUT_OF_RANGE");
  }
  return static_cast<int64_t>(value);
}

}  // namespace faultd::js

namespace faultd::js {

/// Reads obj[key] as a number within [min, max]; `fallback` when absent.
inline double NumberProp(const Napi::Object& obj, const char* key, double min, double max, double fallback) {
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber()) {
    ThrowWithCode(Napi::TypeError::New(obj.Env(), std::string("The \"") + key + "\" property must be a number"),
                  "ERR_INVALID_ARG_TYPE");
  }
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= min && number <= max)) {
    ThrowWithCode(Napi::RangeError::New(obj.Env(), std::string("The value of \"") + key + "\" is out of range. It must be >= " +
                                                       std::to_string(min) + " and <= " + std::to_string(max)),
                  "ERR_OUT_OF_RANGE");
  }
  return number;
}

/// Reads obj[key] as a string; `fallback` when absent.
inline std::string StringProp(const Napi::Object& obj, const char* key, const std::string& fallback) {
  const Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsString()) {
    ThrowWithCode(Napi::TypeError::New(obj.Env(), std::string("The \"") + key + "\" property must be a string"),
                  "ERR_INVALID_ARG_TYPE");
  }
  return value.As<Napi::String>().Utf8Value();
}

/// info[index] as an object.
inline Napi::Object ObjectArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsObject()) {
    ThrowWithCode(Napi::TypeError::New(info.Env(), std::string("The \"") + name + "\" argument must be an object"),
                  "ERR_INVALID_ARG_TYPE");
  }
  return info[index].As<Napi::Object>();
}

}  // namespace faultd::js
