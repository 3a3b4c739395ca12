// SPDX-License-Identifier: Apache-2.0
// Which sd-bus failures may be repeated on systemd's private socket (core/sd_bus.h): a lost or
// refused connection, never an error systemd answered with.
#include <gtest/gtest.h>

#include <cerrno>

#include "../core/sd_bus.h"

namespace faultd::core {
namespace {

TEST(SdBusTransportError, LostOrRefusedConnectionsAreTransportErrors) {
  EXPECT_TRUE(IsTransportError(SysError{ENOTCONN, "LoadUnit", "System.Error.ENOTCONN: Transport endpoint is not connected"}));
  EXPECT_TRUE(IsTransportError(SysError{ECONNRESET, "StartUnit", ""}));
  EXPECT_TRUE(IsTransportError(SysError{ECONNREFUSED, "sd_bus_open_system", ""}));
  EXPECT_TRUE(IsTransportError(SysError{ENOTCONN, "StopUnit", "org.freedesktop.DBus.Error.Disconnected: Connection terminated"}));
}

TEST(SdBusTransportError, AnswersFromSystemdAreNot) {
  // sd-bus maps systemd's NoSuchUnit to ENOENT and AccessDenied to EACCES: systemd answered.
  EXPECT_FALSE(IsTransportError(SysError{ENOENT, "StartUnit", "org.freedesktop.systemd1.NoSuchUnit: Unit x.service not found."}));
  EXPECT_FALSE(IsTransportError(SysError{EACCES, "StopUnit", "org.freedesktop.DBus.Error.AccessDenied: denied"}));
  EXPECT_FALSE(IsTransportError(SysError{EINVAL, "LoadUnit", "org.freedesktop.DBus.Error.InvalidArgs: Unit name bad/name is not valid."}));
  // Errors of another kind are not retried either, even without a name.
  EXPECT_FALSE(IsTransportError(SysError{ETIMEDOUT, "StartUnit", ""}));
  EXPECT_FALSE(IsTransportError(SysError{ELIBACC, "dlopen", ""}));
}

TEST(SdBusConnection, WithoutSystemdOpeningFailsWithAReason) {
  auto bus = BusConnection::Open();
  if (bus.ok()) GTEST_SKIP() << "systemd answers here at " << bus.value().address();
  EXPECT_GT(bus.error().err, 0);
  EXPECT_FALSE(bus.error().detail.empty());
}

}  // namespace
}  // namespace faultd::core
