// SPDX-License-Identifier: Apache-2.0
// The faultd-stressor command line (see command_line.h).
#include "command_line.h"

#include <cstdint>

namespace faultd::stressor {
namespace {

constexpr std::string_view kCommonSynopsis =
    "--parent-pid=PID (exit if the parent is already gone) --tag=FAULT_ID (for `ps` and remnant scans) --wait-go (start no load "
    "until a line \"go\" arrives on stdin)";

// Takes a common option of the load modes: true if `arg` was one (with `*error` set if bad).
bool TakeCommon(const Arg& arg, Command* command, std::string* error) {
  if (arg.key == "--parent-pid") {
    *error = TakeNumber(arg, &command->parent_pid);
    if (error->empty()) *error = CheckRange<pid_t>("--parent-pid", command->parent_pid, 0, INT32_MAX);
    return true;
  }
  if (arg.key == "--wait-go") {
    *error = TakeFlag(arg, &command->wait_go);
    return true;
  }
  if (arg.key == "--tag") {
    // Informational only: makes the fault id visible in `ps`.
    std::string tag;
    *error = TakeText(arg, &tag);
    return true;
  }
  return false;
}

std::string ModeNames() {
  std::string names;
  for (const ModeInfo* mode : AllModes()) names += Cat({names.empty() ? "" : ", ", mode->name});
  return names;
}

}  // namespace

std::string ModeUsage(const ModeInfo& mode) {
  return mode.synopsis.empty() ? Cat({"faultd-stressor ", mode.name}) : Cat({"faultd-stressor ", mode.name, " ", mode.synopsis});
}

std::string UsageText() {
  std::string text = "usage:\n";
  std::string load_modes;
  for (const ModeInfo* mode : AllModes()) {
    text += Cat({"  ", ModeUsage(*mode), "\n"});
    if (mode->lifecycle == Lifecycle::kLoad) load_modes += Cat({load_modes.empty() ? "" : ", ", mode->name});
  }
  return Cat({text, "common to ", load_modes, ": ", kCommonSynopsis, "\n"});
}

ParsedCommandLine ParseCommandLine(std::span<const std::string_view> args) {
  ParsedCommandLine parsed;
  if (args.empty()) {
    parsed.error = Cat({"missing mode (one of ", ModeNames(), ")"});
    parsed.usage = UsageText();
    return parsed;
  }
  const ModeInfo* mode = FindMode(args[0]);
  if (mode == nullptr) {
    parsed.error = Cat({"unknown mode '", args[0], "' (one of ", ModeNames(), ")"});
    parsed.usage = UsageText();
    return parsed;
  }
  Command& command = parsed.command;
  command.mode = mode;
  command.options = mode->make_options();
  const bool load = mode->lifecycle == Lifecycle::kLoad;
  parsed.usage = Cat({"usage: ", ModeUsage(*mode), load ? " [--parent-pid=PID] [--tag=FAULT_ID] [--wait-go]" : "", "\n"});
  std::string why;
  for (const std::string_view text : args.subspan(1)) {
    const Arg arg = SplitArg(text);
    if (mode->lifecycle != Lifecycle::kLoad || !TakeCommon(arg, &command, &why)) why = mode->parse(arg, *command.options);
    if (!why.empty()) break;
  }
  if (why.empty()) why = mode->validate(*command.options);
  if (!why.empty()) parsed.error = Cat({mode->name, ": ", why});
  return parsed;
}

}  // namespace faultd::stressor
