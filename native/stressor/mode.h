// SPDX-License-Identifier: Apache-2.0
// The contract of one faultd-stressor mode, in the manner of stress-ng's per-stressor
// `stressor_info_t`: a name, the mode's own options struct, and the `parse`, `validate` and
// `run` steps. Every mode lives in its own mode_<name>.cc and registers one ModeInfo in the
// table of modes.cc; the command line (command_line.cc) and the process's life (lifecycle.h,
// stressor_main.cc) are shared by all of them.
#pragma once

#include <signal.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "options.h"

namespace faultd::stressor {

/// Exit codes of the executable: stopped by a signal (or a probe that ran), bad command line,
/// the stress or the probe itself failed.
inline constexpr int kExitStopped = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFailed = 3;

/// Base of every mode's own options struct (the mode downcasts only what its make_options made).
struct ModeOptions {
  virtual ~ModeOptions() = default;
};

/// Whether a mode carries load for the life of a fault or answers one question and exits.
enum class Lifecycle {
  /// Takes the common options (--parent-pid, --tag, --wait-go), dies with its parent, waits for
  /// "go" if asked, runs until SIGTERM/SIGINT/SIGHUP.
  kLoad,
  /// A feature probe: only its own arguments, runs once, prints a verdict, exits.
  kProbe,
};

/// One row of the table of modes.
struct ModeInfo {
  std::string_view name;
  /// The mode's arguments after its name, for the usage text (`--workers=N --load-pct=P ...`).
  std::string_view synopsis;
  Lifecycle lifecycle;
  /// The mode's options with their defaults.
  std::unique_ptr<ModeOptions> (*make_options)();
  /// Takes one argument into `options`: "" when taken, else why not (naming the argument).
  std::string (*parse)(const Arg& arg, ModeOptions& options);
  /// Checks the options once all are parsed: "" when valid, else which option and its range.
  std::string (*validate)(const ModeOptions& options);
  /// Runs the mode; returns the exit code. `stop_signals` is blocked in every thread.
  int (*run)(const ModeOptions& options, const sigset_t& stop_signals);
};

/// Builds a ModeInfo from typed functions over the mode's own options struct `O`.
template <typename O, auto Parse, auto Validate, auto Run>
constexpr ModeInfo DefineMode(std::string_view name, std::string_view synopsis, Lifecycle lifecycle) {
  static_assert(std::is_base_of_v<ModeOptions, O>);
  return ModeInfo{
      name,
      synopsis,
      lifecycle,
      []() -> std::unique_ptr<ModeOptions> { return std::make_unique<O>(); },
      [](const Arg& arg, ModeOptions& options) -> std::string { return Parse(arg, static_cast<O&>(options)); },
      [](const ModeOptions& options) -> std::string { return Validate(static_cast<const O&>(options)); },
      [](const ModeOptions& options, const sigset_t& stop_signals) -> int {
        return Run(static_cast<const O&>(options), stop_signals);
      },
  };
}

/// The modes, in the order the usage text lists them.
std::span<const ModeInfo* const> AllModes() noexcept;

/// The mode called `name`, or nullptr.
const ModeInfo* FindMode(std::string_view name) noexcept;

// The rows, each defined (constinit) in its mode_<name>.cc.
extern const ModeInfo kCpuMode;
extern const ModeInfo kMemoryMode;
extern const ModeInfo kIoMode;
extern const ModeInfo kDelayMode;
extern const ModeInfo kDnsMode;
extern const ModeInfo kHttpMode;
extern const ModeInfo kPidsMode;
extern const ModeInfo kProbeQdiscMode;
extern const ModeInfo kProbeNfqueueMode;
extern const ModeInfo kProbeNatMode;
extern const ModeInfo kProbeIfbMode;
extern const ModeInfo kProbeXtablesMode;

}  // namespace faultd::stressor
