// SPDX-License-Identifier: Apache-2.0
#include "sd_bus.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <cstdlib>
#include <utility>

namespace faultd::core {
namespace {

// sd-bus types as libsystemd declares them (sd-bus.h); the structs are opaque except sd_bus_error,
// whose layout is part of the ABI (SD_BUS_ERROR_NULL is {NULL, NULL, 0}).
struct sd_bus;
struct sd_bus_message;
struct sd_bus_slot;
struct sd_bus_error {
  const char* name;
  const char* message;
  int need_free;
};

constexpr const char* kDestination = "org.freedesktop.systemd1";
/// The longest any one call waits for systemd's reply (sd-bus's default is 25 s). A revert that
/// finds systemd wedged fails after this long instead; jobs are awaited separately.
constexpr uint64_t kMethodCallTimeoutUs = 10'000'000;
constexpr const char* kPrivateAddress = kPrivateBusAddress;
constexpr const char* kPrivateSocket = "/run/systemd/private";
constexpr const char* kJobRemovedMatch =
    "type='signal',sender='org.freedesktop.systemd1',path='/org/freedesktop/systemd1',"
    "interface='org.freedesktop.systemd1.Manager',member='JobRemoved'";

using MessageHandler = int (*)(sd_bus_message*, void*, sd_bus_error*);

}  // namespace

/// The sd-bus entry points, resolved once per process.
struct SdBusFunctions {
  int (*open_system)(sd_bus**);
  int (*bus_new)(sd_bus**);
  int (*set_address)(sd_bus*, const char*);
  int (*start)(sd_bus*);
  sd_bus* (*flush_close_unref)(sd_bus*);
  int (*call_method)(sd_bus*, const char*, const char*, const char*, const char*, sd_bus_error*, sd_bus_message**, const char*, ...);
  int (*get_property)(sd_bus*, const char*, const char*, const char*, const char*, sd_bus_error*, sd_bus_message**, const char*);
  int (*get_property_trivial)(sd_bus*, const char*, const char*, const char*, const char*, sd_bus_error*, char, void*);
  int (*get_property_string)(sd_bus*, const char*, const char*, const char*, const char*, sd_bus_error*, char**);
  int (*get_property_strv)(sd_bus*, const char*, const char*, const char*, const char*, sd_bus_error*, char***);
  int (*message_read)(sd_bus_message*, const char*, ...);
  sd_bus_message* (*message_unref)(sd_bus_message*);
  void (*error_free)(sd_bus_error*);
  int (*add_match)(sd_bus*, sd_bus_slot**, const char*, MessageHandler, void*);
  int (*process)(sd_bus*, sd_bus_message**);
  int (*wait)(sd_bus*, uint64_t);
  sd_bus_slot* (*slot_unref)(sd_bus_slot*);
  /// systemd ≥ 240; null before (each call then waits sd-bus's default 25 s at most).
  int (*set_method_call_timeout)(sd_bus*, uint64_t);
  std::string load_error;
};

namespace {

template <typename F>
bool Resolve(void* handle, const char* name, F& target, std::string& error) {
  target = reinterpret_cast<F>(dlsym(handle, name));
  if (target == nullptr && error.empty()) error = std::string("libsystemd.so.0 has no ") + name + " (systemd older than 221?)";
  return target != nullptr;
}

SdBusFunctions LoadFunctions() noexcept {
  SdBusFunctions f{};
  // RTLD_LOCAL: libsystemd's symbols stay out of the global namespace; never unloaded.
  void* handle = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    f.load_error = std::string("cannot load libsystemd.so.0: ") + (why ? why : "unknown reason");
    return f;
  }
  std::string& e = f.load_error;
  Resolve(handle, "sd_bus_open_system", f.open_system, e);
  Resolve(handle, "sd_bus_new", f.bus_new, e);
  Resolve(handle, "sd_bus_set_address", f.set_address, e);
  Resolve(handle, "sd_bus_start", f.start, e);
  Resolve(handle, "sd_bus_flush_close_unref", f.flush_close_unref, e);
  Resolve(handle, "sd_bus_call_method", f.call_method, e);
  Resolve(handle, "sd_bus_get_property", f.get_property, e);
  Resolve(handle, "sd_bus_get_property_trivial", f.get_property_trivial, e);
  Resolve(handle, "sd_bus_get_property_string", f.get_property_string, e);
  Resolve(handle, "sd_bus_get_property_strv", f.get_property_strv, e);
  Resolve(handle, "sd_bus_message_read", f.message_read, e);
  Resolve(handle, "sd_bus_message_unref", f.message_unref, e);
  Resolve(handle, "sd_bus_error_free", f.error_free, e);
  Resolve(handle, "sd_bus_add_match", f.add_match, e);
  Resolve(handle, "sd_bus_process", f.process, e);
  Resolve(handle, "sd_bus_wait", f.wait, e);
  Resolve(handle, "sd_bus_slot_unref", f.slot_unref, e);
  // Optional: not part of the load error.
  f.set_method_call_timeout = reinterpret_cast<decltype(f.set_method_call_timeout)>(dlsym(handle, "sd_bus_set_method_call_timeout"));
  return f;
}

const SdBusFunctions& Functions() noexcept {
  static const SdBusFunctions functions = LoadFunctions();  // thread-safe initialisation
  return functions;
}

/// Frees an sd_bus_error and a reply message at scope exit.
class CallState {
 public:
  explicit CallState(const SdBusFunctions* fns) noexcept : fns_(fns) {}
  ~CallState() {
    if (reply != nullptr) fns_->message_unref(reply);
    fns_->error_free(&error);
  }
  CallState(const CallState&) = delete;
  CallState& operator=(const CallState&) = delete;

  /// The SysError of a failed call `what`: errno from sd-bus, the D-Bus error name and message.
  SysError Fail(int r, const char* what) const noexcept {
    std::string detail;
    if (error.name != nullptr) detail = std::string(error.name) + (error.message != nullptr ? std::string(": ") + error.message : "");
    return SysError{r < 0 ? -r : EIO, what, std::move(detail)};
  }

  sd_bus_error error{nullptr, nullptr, 0};
  sd_bus_message* reply = nullptr;

 private:
  const SdBusFunctions* fns_;
};

}  // namespace

Result<BusConnection> BusConnection::Open() noexcept {
  auto system = OpenSystemBus();
  if (system.ok()) return system;
  auto own = OpenPrivate();
  if (own.ok()) return own;
  return SysError{system.error().err, system.error().syscall,
                  "no system bus, and systemd's private socket /run/systemd/private is not usable (" + own.error().detail + ")"};
}

Result<BusConnection> BusConnection::OpenSystemBus() noexcept {
  const SdBusFunctions& fns = Functions();
  if (!fns.load_error.empty()) return SysError{ELIBACC, "dlopen", fns.load_error};
  sd_bus* bus = nullptr;
  const int r = fns.open_system(&bus);
  if (r < 0) return SysError{-r, "sd_bus_open_system", "no system bus"};
  if (fns.set_method_call_timeout != nullptr) fns.set_method_call_timeout(bus, kMethodCallTimeoutUs);
  const char* env = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
  return BusConnection(&fns, bus, env != nullptr && *env != '\0' ? env : "unix:path=/run/dbus/system_bus_socket");
}

Result<BusConnection> BusConnection::OpenPrivate() noexcept {
  const SdBusFunctions& fns = Functions();
  if (!fns.load_error.empty()) return SysError{ELIBACC, "dlopen", fns.load_error};
  if (geteuid() != 0) return SysError{EPERM, "sd_bus_start", "not root, or systemd is not PID 1"};
  if (access(kPrivateSocket, F_OK) != 0) return SysError{ENOENT, "sd_bus_start", "not root, or systemd is not PID 1"};
  sd_bus* bus = nullptr;
  int r = fns.bus_new(&bus);
  if (r >= 0) r = fns.set_address(bus, kPrivateAddress);
  if (r >= 0) r = fns.start(bus);
  if (r < 0) {
    if (bus != nullptr) fns.flush_close_unref(bus);
    return SysError{-r, "sd_bus_start", std::string(kPrivateAddress) + " refused the connection"};
  }
  if (fns.set_method_call_timeout != nullptr) fns.set_method_call_timeout(bus, kMethodCallTimeoutUs);
  return BusConnection(&fns, bus, kPrivateAddress);
}

bool IsTransportError(const SysError& error) noexcept {
  // A D-Bus error reply carries its sender's error name; sd-bus names a local errno
  // "System.Error.<ERRNO>", and a dropped connection "org.freedesktop.DBus.Error.Disconnected".
  const std::string& d = error.detail;
  const bool local = d.empty() || d.rfind("System.Error.", 0) == 0 || d.rfind("org.freedesktop.DBus.Error.Disconnected", 0) == 0;
  if (!local) return false;
  switch (error.err) {
    case ENOTCONN:
    case ECONNRESET:
    case ECONNREFUSED:
    case EPIPE:
      return true;
    default:
      return false;
  }
}

BusConnection::BusConnection(BusConnection&& other) noexcept
    : fns_(other.fns_), bus_(std::exchange(other.bus_, nullptr)), address_(std::move(other.address_)) {}

BusConnection::~BusConnection() {
  if (bus_ != nullptr) fns_->flush_close_unref(static_cast<sd_bus*>(bus_));
}

Result<std::string> BusConnection::Call(const char* path, const char* interface, const char* member, const char* signature,
                                        const char* arg1, const char* arg2, int32_t int_arg, bool reads_path) noexcept {
  CallState call(fns_);
  auto* bus = static_cast<sd_bus*>(bus_);
  const std::string types(signature);
  int r;
  if (types == "s") {
    r = fns_->call_method(bus, kDestination, path, interface, member, &call.error, &call.reply, "s", arg1);
  } else if (types == "ss") {
    r = fns_->call_method(bus, kDestination, path, interface, member, &call.error, &call.reply, "ss", arg1, arg2);
  } else if (types == "ssi") {
    r = fns_->call_method(bus, kDestination, path, interface, member, &call.error, &call.reply, "ssi", arg1, arg2, int_arg);
  } else {
    return SysError{EINVAL, member, "unsupported signature " + types};
  }
  if (r < 0) return call.Fail(r, member);
  if (!reads_path) return std::string();
  const char* object = nullptr;
  r = fns_->message_read(call.reply, "o", &object);
  if (r < 0 || object == nullptr) return call.Fail(r < 0 ? r : -EBADMSG, member);
  return std::string(object);
}

namespace {

/// What the JobRemoved handler sees: every removed job's path and result until ours is found.
struct JobWatch {
  const SdBusFunctions* fns;
  std::string job;  // set once the call returned its path
  std::string removed_result;
  bool removed = false;
};

int OnJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* watch = static_cast<JobWatch*>(userdata);
  uint32_t id = 0;
  const char* path = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (watch->fns->message_read(m, "uoss", &id, &path, &unit, &result) < 0 || path == nullptr) return 0;
  if (path == watch->job) {
    watch->removed = true;
    watch->removed_result = result != nullptr ? result : "";
  }
  return 0;
}

uint64_t NowUsec() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace

Result<std::string> BusConnection::CallJobAndWait(const char* member, const char* unit, int wait_ms) noexcept {
  auto* bus = static_cast<sd_bus*>(bus_);
  JobWatch watch{fns_, {}, {}, false};
  sd_bus_slot* slot = nullptr;
  if (wait_ms > 0) {
    // The match is in place before the job exists, so its JobRemoved cannot be missed. On the
    // system bus systemd sends job signals only to subscribers; its private socket gets them all.
    const int r = fns_->add_match(bus, &slot, kJobRemovedMatch, OnJobRemoved, &watch);
    if (r < 0) return SysError{-r, "sd_bus_add_match", "JobRemoved"};
    CallState subscribe(fns_);
    fns_->call_method(bus, kDestination, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "Subscribe", &subscribe.error, &subscribe.reply, "");
  }
  auto job = Call("/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", member, "ss", unit, "replace", 0, true);
  if (!job.ok() || wait_ms <= 0) {
    if (slot != nullptr) fns_->slot_unref(slot);
    if (!job.ok()) return job.error();
    return std::string("queued");
  }
  watch.job = job.value();
  const uint64_t deadline = NowUsec() + static_cast<uint64_t>(wait_ms) * 1000;
  std::string outcome = "pending";
  while (!watch.removed) {
    const int r = fns_->process(bus, nullptr);
    if (r < 0) {
      fns_->slot_unref(slot);
      return SysError{-r, "sd_bus_process", std::string("waiting for ") + watch.job};
    }
    if (r > 0) continue;  // more may be queued
    const uint64_t now = NowUsec();
    if (now >= deadline) break;
    const int w = fns_->wait(bus, deadline - now);
    if (w < 0 && w != -EINTR) {
      fns_->slot_unref(slot);
      return SysError{-w, "sd_bus_wait", std::string("waiting for ") + watch.job};
    }
  }
  if (watch.removed) outcome = watch.removed_result;
  fns_->slot_unref(slot);
  return outcome;
}

Result<std::string> BusConnection::StringProperty(const char* path, const char* interface, const char* member) noexcept {
  CallState call(fns_);
  char* value = nullptr;
  const int r = fns_->get_property_string(static_cast<sd_bus*>(bus_), kDestination, path, interface, member, &call.error, &value);
  if (r < 0) return call.Fail(r, member);
  std::string out(value != nullptr ? value : "");
  std::free(value);
  return out;
}

Result<std::vector<std::string>> BusConnection::StringListProperty(const char* path, const char* interface, const char* member) noexcept {
  CallState call(fns_);
  char** values = nullptr;
  const int r = fns_->get_property_strv(static_cast<sd_bus*>(bus_), kDestination, path, interface, member, &call.error, &values);
  if (r < 0) return call.Fail(r, member);
  std::vector<std::string> out;
  if (values != nullptr) {
    for (char** value = values; *value != nullptr; ++value) {
      out.emplace_back(*value);
      std::free(*value);
    }
    std::free(values);
  }
  return out;
}

Result<uint64_t> BusConnection::NumberProperty(const char* path, const char* interface, const char* member, char type) noexcept {
  CallState call(fns_);
  uint64_t wide = 0;
  uint32_t narrow = 0;
  void* target = type == 't' ? static_cast<void*>(&wide) : static_cast<void*>(&narrow);
  const int r = fns_->get_property_trivial(static_cast<sd_bus*>(bus_), kDestination, path, interface, member, &call.error, type, target);
  if (r < 0) return call.Fail(r, member);
  return type == 't' ? wide : static_cast<uint64_t>(narrow);
}

Result<uint32_t> BusConnection::JobIdProperty(const char* path, const char* interface, const char* member) noexcept {
  CallState call(fns_);
  int r = fns_->get_property(static_cast<sd_bus*>(bus_), kDestination, path, interface, member, &call.error, &call.reply, "(uo)");
  if (r < 0) return call.Fail(r, member);
  uint32_t id = 0;
  const char* job = nullptr;
  r = fns_->message_read(call.reply, "(uo)", &id, &job);
  if (r < 0) return call.Fail(r, member);
  return id;
}

}  // namespace faultd::core
