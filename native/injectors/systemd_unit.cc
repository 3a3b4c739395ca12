// SPDX-License-Identifier: Apache-2.0
#include "systemd_unit.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <utility>

#include "../core/sd_bus.h"

namespace faultd::inj {
namespace {

constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnit = "org.freedesktop.systemd1.Unit";
constexpr const char* kService = "org.freedesktop.systemd1.Service";

}  // namespace

namespace {

core::Result<UnitState> ReadUnitStateOn(core::BusConnection& connection, const std::string& unit) noexcept {
  auto path = connection.Call(kManagerPath, kManager, "LoadUnit", "s", unit.c_str(), nullptr, 0, true);
  if (!path.ok()) return path.error();
  const char* object = path.value().c_str();
  UnitState state;
  for (auto [member, target] : {std::pair{"LoadState", &state.load_state}, {"ActiveState", &state.active_state}, {"SubState", &state.sub_state}}) {
    auto value = connection.StringProperty(object, kUnit, member);
    if (!value.ok()) return value.error();
    *target = std::move(value).value();
  }
  auto job = connection.JobIdProperty(object, kUnit, "Job");
  if (!job.ok()) return job.error();
  state.job_id = job.value();
  auto id = connection.StringProperty(object, kUnit, "Id");
  if (!id.ok()) return id.error();
  state.id = std::move(id).value();
  // On the Unit interface since systemd 230; older managers answer UnknownProperty: left at 0.
  auto burst = connection.NumberProperty(object, kUnit, "StartLimitBurst", 'u');
  if (burst.ok()) state.start_limit_burst = static_cast<uint32_t>(burst.value());
  auto window = connection.NumberProperty(object, kUnit, "StartLimitIntervalUSec", 't');
  if (window.ok()) state.start_limit_interval_us = window.value();
  const bool service = unit.size() > 8 && unit.compare(unit.size() - 8, 8, ".service") == 0;
  if (!service || state.load_state != "loaded") return state;
  auto restart = connection.StringProperty(object, kService, "Restart");
  if (!restart.ok()) return restart.error();
  state.restart = std::move(restart).value();
  auto main_pid = connection.NumberProperty(object, kService, "MainPID", 'u');
  if (!main_pid.ok()) return main_pid.error();
  state.main_pid = static_cast<uint32_t>(main_pid.value());
  auto timeout = connection.NumberProperty(object, kService, "TimeoutStartUSec", 't');
  if (!timeout.ok()) return timeout.error();
  state.timeout_start_us = timeout.value();
  // NRestarts exists since systemd 235; older managers answer UnknownProperty: left at 0.
  auto restarts = connection.NumberProperty(object, kService, "NRestarts", 'u');
  if (restarts.ok()) state.n_restarts = static_cast<uint32_t>(restarts.value());
  return state;
}

bool IsService(const std::string& unit) noexcept {
  return unit.size() > 8 && unit.compare(unit.size() - 8, 8, ".service") == 0;
}

/// An older manager without the property answers this D-Bus error.
bool IsUnknownProperty(const core::SysError& error) noexcept {
  return error.detail.rfind("org.freedesktop.DBus.Error.UnknownProperty", 0) == 0;
}

core::Result<UnitPlanFacts> ReadUnitPlanFactsOn(core::BusConnection& connection, const std::string& unit) noexcept {
  auto path = connection.Call(kManagerPath, kManager, "LoadUnit", "s", unit.c_str(), nullptr, 0, true);
  if (!path.ok()) return path.error();
  const char* object = path.value().c_str();
  UnitPlanFacts facts;
  for (auto [member, target] : {std::pair{"CanStart", &facts.can_start}, {"CanStop", &facts.can_stop}}) {
    auto value = connection.NumberProperty(object, kUnit, member, 'b');
    if (!value.ok()) return value.error();
    *target = value.value() != 0;
  }
  for (const char* member : {"RequiredBy", "RequisiteOf", "BoundBy", "ConsistsOf", "PropagatesStopTo"}) {
    auto names = connection.StringListProperty(object, kUnit, member);
    if (!names.ok()) {
      if (IsUnknownProperty(names.error())) continue;  // PropagatesStopTo before systemd 249
      return names.error();
    }
    for (auto& name : names.value()) {
      if (std::find(facts.stop_propagates_to.begin(), facts.stop_propagates_to.end(), name) == facts.stop_propagates_to.end()) facts.stop_propagates_to.push_back(std::move(name));
    }
  }
  auto load_state = connection.StringProperty(object, kUnit, "LoadState");
  if (!load_state.ok()) return load_state.error();
  if (!IsService(unit) || load_state.value() != "loaded") return facts;
  for (auto [member, target] : {std::pair{"TimeoutStopUSec", &facts.timeout_stop_us}, {"WatchdogUSec", &facts.watchdog_us}}) {
    auto value = connection.NumberProperty(object, kService, member, 't');
    if (!value.ok()) return value.error();
    *target = value.value();
  }
  return facts;
}

/// Runs `body` on the system bus; if that connection is lost or refused (dbus-daemon stopping
/// while the host shuts down), once more on systemd's private socket. Only for calls that may be
/// repeated: a read, a start or stop with mode "replace" (a second request joins the first job).
template <typename T, typename Body>
core::Result<T> OnManager(Body body) noexcept {
  auto bus = core::BusConnection::Open();
  if (!bus.ok()) return bus.error();
  core::BusConnection connection = std::move(bus).value();
  auto first = body(connection);
  if (first.ok() || !core::IsTransportError(first.error()) || connection.address() == core::kPrivateBusAddress) return first;
  auto own = core::BusConnection::OpenPrivate();
  if (!own.ok()) return first;
  core::BusConnection retry = std::move(own).value();
  return body(retry);
}

}  // namespace

core::Result<UnitState> ReadUnitState(const std::string& unit) noexcept {
  return OnManager<UnitState>([&unit](core::BusConnection& c) { return ReadUnitStateOn(c, unit); });
}

core::Result<UnitPlanFacts> ReadUnitPlanFacts(const std::string& unit) noexcept {
  return OnManager<UnitPlanFacts>([&unit](core::BusConnection& c) { return ReadUnitPlanFactsOn(c, unit); });
}

core::Result<ActionOutcome> RunUnitAction(const std::string& unit, UnitAction action, int wait_ms) noexcept {
  if (action == UnitAction::kKillMain) {
    // Never repeated: a second SIGKILL could hit the process Restart= just started.
    auto bus = core::BusConnection::Open();
    if (!bus.ok()) return bus.error();
    core::BusConnection connection = std::move(bus).value();
    auto killed = connection.Call(kManagerPath, kManager, "KillUnit", "ssi", unit.c_str(), "main", SIGKILL, false);
    if (!killed.ok()) return killed.error();
    return ActionOutcome{"signalled", std::nullopt};
  }
  const char* member = action == UnitAction::kStart ? "StartUnit" : "StopUnit";
  return OnManager<ActionOutcome>([&](core::BusConnection& c) -> core::Result<ActionOutcome> {
    auto job = c.CallJobAndWait(member, unit.c_str(), wait_ms);
    if (!job.ok()) return job.error();
    ActionOutcome outcome{std::move(job).value(), std::nullopt};
    if (outcome.result != "pending" && outcome.result != "queued") {
      auto state = ReadUnitStateOn(c, unit);
      if (state.ok()) outcome.state = std::move(state).value();
    }
    return outcome;
  });
}

core::Result<ManagerInfo> ProbeManager() noexcept {
  return OnManager<ManagerInfo>([](core::BusConnection& c) -> core::Result<ManagerInfo> {
    auto version = c.StringProperty(kManagerPath, kManager, "Version");
    if (!version.ok()) return version.error();
    auto state = c.StringProperty(kManagerPath, kManager, "SystemState");
    if (!state.ok()) return state.error();
    return ManagerInfo{c.address(), std::move(version).value(), std::move(state).value()};
  });
}

}  // namespace faultd::inj
