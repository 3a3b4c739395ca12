// SPDX-License-Identifier: Apache-2.0
// A small client of sd-bus (libsystemd's D-Bus library), loaded with dlopen("libsystemd.so.0")
// at run time: the addon builds without libsystemd's headers and still loads on hosts and
// containers without libsystemd; only the calls below fail there, with ELIBACC and the loader's
// reason. The few sd-bus prototypes are declared here (they are libsystemd's stable ABI,
// symbol version LIBSYSTEMD_209/221). Blocking: callers run these off the JS thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sys_result.h"

namespace faultd::core {

struct SdBusFunctions;

/// The address of systemd's private socket.
inline constexpr const char* kPrivateBusAddress = "unix:path=/run/systemd/private";

/// One D-Bus connection to systemd's manager, closed with the object. Not shared between
/// threads: each caller opens its own (a connection costs a handshake, see BusConnection::Open).
class BusConnection {
 public:
  /// The system bus (sd_bus_open_system: $DBUS_SYSTEM_BUS_ADDRESS or
  /// /run/dbus/system_bus_socket); when no dbus-daemon answers there, systemd's own socket
  /// unix:path=/run/systemd/private (root only, as systemctl uses it).
  static Result<BusConnection> Open() noexcept;
  static Result<BusConnection> OpenSystemBus() noexcept;
  /// systemd's private socket: no dbus-daemon needed (early boot, shutdown), root only. Measured
  /// in the nspawn suite, a connection there costs ~1.9 ms against ~0.4 ms on the system bus, so
  /// it is the fallback, not the first choice.
  static Result<BusConnection> OpenPrivate() noexcept;

  BusConnection(BusConnection&& other) noexcept;
  BusConnection& operator=(BusConnection&&) = delete;
  BusConnection(const BusConnection&) = delete;
  ~BusConnection();

  /// The address connected to (for doctor and error details).
  [[nodiscard]] const std::string& address() const noexcept { return address_; }

  /// Calls `member` of `interface` at `path` of org.freedesktop.systemd1 with string arguments
  /// (`signature` "s", "ss", "ssi" — an int argument goes in `int_arg`); the reply's object path
  /// (signature "o") when `reads_path`, else "".
  Result<std::string> Call(const char* path, const char* interface, const char* member, const char* signature,
                           const char* arg1, const char* arg2, int32_t int_arg, bool reads_path) noexcept;
  /// Calls `member`(unit, "replace") of the Manager — StartUnit or StopUnit — and waits up to
  /// `wait_ms` for its job's JobRemoved signal on this connection, as systemctl does (a fresh
  /// connection per state read would queue behind the job in systemd's event loop). The job's
  /// result (done, failed, canceled, timeout, dependency, skipped, …), or "pending" when the wait
  /// ended first, or "queued" for `wait_ms` 0.
  Result<std::string> CallJobAndWait(const char* member, const char* unit, int wait_ms) noexcept;
  /// org.freedesktop.DBus.Properties.Get of a string (or object path) property.
  Result<std::string> StringProperty(const char* path, const char* interface, const char* member) noexcept;
  /// Get of a string-array property ("as": a unit's RequiredBy, BoundBy, …).
  Result<std::vector<std::string>> StringListProperty(const char* path, const char* interface, const char* member) noexcept;
  /// Get of a trivial property: type 'u' (uint32), 't' (uint64), 'i', 'b' — widened to uint64.
  Result<uint64_t> NumberProperty(const char* path, const char* interface, const char* member, char type) noexcept;
  /// Get of a "(uo)" property (a unit's Job): the id, 0 when there is none.
  Result<uint32_t> JobIdProperty(const char* path, const char* interface, const char* member) noexcept;

 private:
  BusConnection(const SdBusFunctions* fns, void* bus, std::string address) noexcept : fns_(fns), bus_(bus), address_(std::move(address)) {}
  const SdBusFunctions* fns_;
  void* bus_;
  std::string address_;
};

/// A lost or refused connection (ENOTCONN, ECONNRESET, ECONNREFUSED, EPIPE without a D-Bus error
/// name): the call may be tried again on the other socket. Seen on the system bus while the host
/// shuts down (dbus-daemon stops before faultd's revert runs).
bool IsTransportError(const SysError& error) noexcept;

}  // namespace faultd::core
