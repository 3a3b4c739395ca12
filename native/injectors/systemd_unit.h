// SPDX-License-Identifier: Apache-2.0
// systemd units over D-Bus (org.freedesktop.systemd1, through core/sd_bus.h): read a unit's
// state, start, stop or kill it. What `systemctl show/start/stop/kill` do, without forking it.
// Each call opens its own connection and blocks until systemd answers (the binding runs them
// on the libuv pool); a start or stop waits for its job for a bounded time, as systemctl does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../core/sys_result.h"

namespace faultd::inj {

/// A unit's state: org.freedesktop.systemd1.Unit, and for a loaded .service its Service fields.
struct UnitState {
  std::string load_state;    // loaded | not-found | bad-setting | error | masked
  std::string active_state;  // active | reloading | inactive | failed | activating | deactivating
  std::string sub_state;     // running, dead, exited, auto-restart, …
  uint32_t job_id = 0;       // the pending job's id; 0 when none
  std::string restart;       // Restart= (no, always, on-failure, …); "" for other unit types
  uint32_t n_restarts = 0;   // automatic restarts so far (NRestarts, systemd ≥ 235)
  uint32_t main_pid = 0;
  uint64_t timeout_start_us = 0;  // TimeoutStartUSec; UINT64_MAX = infinity
  std::string id;                 // Id: the unit's real name (an alias given to LoadUnit resolves to it)
  uint32_t start_limit_burst = 0;        // StartLimitBurst (systemd ≥ 230 on the Unit interface); 0 = unknown
  uint64_t start_limit_interval_us = 0;  // StartLimitIntervalUSec; 0 = no limit or unknown
};

/// What a plan needs beyond the state, read once per unit at plan time (not on every poll).
struct UnitPlanFacts {
  bool can_start = true;         // CanStart: false with RefuseManualStart= (or a unit type that cannot start)
  bool can_stop = true;          // CanStop: false with RefuseManualStop=
  uint64_t timeout_stop_us = 0;  // TimeoutStopUSec of a loaded service; UINT64_MAX = infinity; 0 otherwise
  uint64_t watchdog_us = 0;      // WatchdogUSec of a loaded service; 0 = no watchdog
  /// The units systemd stops when this one stops: RequiredBy, RequisiteOf, BoundBy, ConsistsOf
  /// (PartOf= on them) and PropagatesStopTo (systemd ≥ 249), without duplicates, in that order.
  /// A property the manager does not have (UnknownProperty on an older systemd) adds nothing.
  std::vector<std::string> stop_propagates_to;
};

enum class UnitAction {
  kStart,     // StartUnit(name, "replace") — systemctl start
  kStop,      // StopUnit(name, "replace") — systemctl stop
  kKillMain,  // KillUnit(name, "main", SIGKILL) — systemctl kill -s KILL --kill-whom=main: Restart= applies
};

/// LoadUnit (loads the unit file if systemd has not) and its properties. A unit without a file
/// is not an error: its load_state is "not-found".
core::Result<UnitState> ReadUnitState(const std::string& unit) noexcept;

/// LoadUnit and the plan facts above.
core::Result<UnitPlanFacts> ReadUnitPlanFacts(const std::string& unit) noexcept;

struct ActionOutcome {
  /// The job's result ("done", "failed", …), "pending" when the wait ended first, "queued" for
  /// `wait_ms` 0; "signalled" for a kill (no job).
  std::string result;
  /// The unit's state read on the same connection once the job ended (a new connection's
  /// handshake waits behind the job's cleanup in systemd's event loop); absent otherwise.
  std::optional<UnitState> state;
};

/// Queues the action's job and waits up to `wait_ms` for it on the same connection (JobRemoved).
core::Result<ActionOutcome> RunUnitAction(const std::string& unit, UnitAction action, int wait_ms) noexcept;

struct ManagerInfo {
  std::string address;  // the bus address connected to
  std::string version;  // the Manager's Version property
  std::string system_state;  // SystemState: running, degraded, starting, stopping, …
};

/// Connects and reads the manager's Version and SystemState: is systemd reachable over D-Bus
/// here, and is the host shutting down?
core::Result<ManagerInfo> ProbeManager() noexcept;

}  // namespace faultd::inj
