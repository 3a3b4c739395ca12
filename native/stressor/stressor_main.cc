// SPDX-License-Identifier: Apache-2.0
// faultd-stressor: the process that carries CPU and memory stress load, the pid-exhaustion
// fault's tasks, the NFQUEUE delayer and the DNS and HTTP interceptors, and runs the kernel feature
// probes, so that the faultd daemon (Node) stays responsive and is never the one the OOM killer
// picks. Each mode is one mode_<name>.cc in the table of modes.cc; `faultd-stressor` without
// arguments prints their usage.
//
// The load modes die with their parent (PR_SET_PDEATHSIG), set oom_score_adj=1000, and stop
// cleanly on SIGTERM/SIGINT/SIGHUP (the delayer first accepts every packet it holds; the DNS
// interceptor answers the queries in flight; the HTTP interceptor finishes the exchanges in flight
// for up to --grace-ms). Stdout carries JSON lines: {"event":"ready"},
// {"event":"populated",...}, {"event":"listening","port":P} (DNS and HTTP interceptors),
// {"event":"stats",...} (delayer and interceptors, each second),
// {"event":"error","errno":N,"syscall":"..."}. Exit codes: 0 stopped, 2 usage, 3 stress failed.
#include <cstdio>
#include <string_view>
#include <vector>

#include "command_line.h"
#include "lifecycle.h"
#include "mode.h"

int main(int argc, char** argv) {
  using namespace faultd::stressor;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  const ParsedCommandLine parsed = ParseCommandLine(args);
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "faultd-stressor: %s\n%s", parsed.error.c_str(), parsed.usage.c_str());
    return kExitUsage;
  }
  const Command& command = parsed.command;
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  if (command.mode->lifecycle == Lifecycle::kLoad) {
    if (!TieToParent(command.parent_pid)) {
      std::fprintf(stderr, "faultd-stressor: parent %d is gone or PR_SET_PDEATHSIG failed\n", static_cast<int>(command.parent_pid));
      return kExitFailed;
    }
    // Until "go", the default dispositions apply: a SIGTERM from faultd ends the idle process
    // at once. Afterwards the stop signals are blocked before any thread exists.
    if (command.wait_go && !WaitForGo()) return kExitStopped;
    stop_signals = BlockStopSignals();
  }
  return command.mode->run(*command.options, stop_signals);
}
