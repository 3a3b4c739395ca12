// SPDX-License-Identifier: Apache-2.0
// Host plumbing Node lacks: sd_notify(3) datagrams, fallocate(2) and the page size. All synchronous.
#include "host_binding.h"

#include <unistd.h>

#include <string>

#include "../core/file_space.h"
#include "../core/sd_notify.h"
#include "js_args.h"
#include "js_error.h"

namespace faultd::js {
namespace {

constexpr int64_t kMaxSafeInteger = 9'007'199'254'740'991;

std::string StringArgument(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsString()) {
    ThrowWithCode(Napi::TypeError::New(info.Env(), std::string("The \"") + name + "\" argument must be a string"), "ERR_INVALID_ARG_TYPE");
  }
  return info[index].As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  const std::string socket_path = StringArgument(info, 0, "socketPath");
  const std::string state = StringArgument(info, 1, "state");
  const auto sent = core::SdNotify(socket_path, state);
  if (!sent.ok()) ThrowSystemError(info.Env(), sent.error());
  return info.Env().Undefined();
}

Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  const auto fd = static_cast<int>(IntegerArg(info, 0, "fd", 0, 1 << 30));
  const auto length = static_cast<std::uint64_t>(IntegerArg(info, 1, "length", 1, kMaxSafeInteger));
  const auto done = core::Fallocate(fd, length);
  if (!done.ok()) ThrowSystemError(info.Env(), done.error());
  return info.Env().Undefined();
}

Napi::Value PageSize(const Napi::CallbackInfo& info) {
  // Node has no page size: the kernel counts memory in pages (cgroup memory.max reads back whole
  // pages), and pages are 4 KiB only on some architectures.
  return Napi::Number::New(info.Env(), static_cast<double>(sysconf(_SC_PAGESIZE)));
}

}  // namespace faultd::js
