// SPDX-License-Identifier: Apache-2.0
// Argument readers that throw TypeError/RangeError with Node's codes.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace faultd::js {

[[noreturn]] inline void ThrowWithCode(Napi::Error error, const char* code) {
  error.Set("code", Napi::String::New(error.Env(), code));
  throw error;
}

/// A value of the right type but outside what the call accepts (Node's ERR_INVALID_ARG_VALUE).
[[noreturn]] inline void BadArg(Napi::Env env, const std::string& message) {
  ThrowWithCode(Napi::TypeError::New(env, message), "ERR_INVALID_ARG_VALUE");
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

/// obj.rules as the rules of one chain: an array of at most 1024 objects, each read by
/// `parse_one(rule)`. Shared by the nf_tables and x_tables bindings; only their rule readers differ.
template <typename ParseOne>
auto RulesFrom(Napi::Env env, const Napi::Object& obj, ParseOne parse_one) {
  using Rule = std::invoke_result_t<ParseOne&, const Napi::Object&>;
  const Napi::Value rules = obj.Get("rules");
  if (!rules.IsArray()) BadArg(env, "The \"rules\" property must be an array");
  const auto array = rules.As<Napi::Array>();
  if (array.Length() > 1024) BadArg(env, "at most 1024 rules per chain");
  std::vector<Rule> parsed;
  parsed.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    const Napi::Value rule = array.Get(i);
    if (!rule.IsObject()) BadArg(env, "every rule must be an object");
    parsed.push_back(parse_one(rule.As<Napi::Object>()));
  }
  return parsed;
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
