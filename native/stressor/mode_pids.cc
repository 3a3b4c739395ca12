// SPDX-License-Identifier: Apache-2.0
// Mode `pids`: holds exactly N tasks (pids) — this main thread and N-1 threads with 16 KiB
// stacks and no guard page (adjacent stacks merge into one mapping, so vm.max_map_count does
// not bound N), each blocked in pause() with every stop signal blocked. Prints
// {"event":"ready"} once all N exist; a failed pthread_create (EAGAIN at pids.max or
// threads-max) is an error and the process exits, and the kernel ends every thread with it.
//   faultd-stressor pids --tasks=N
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "events.h"
#include "lifecycle.h"
#include "mode.h"

namespace faultd::stressor {
namespace {

/// Stack of one holder thread: pause() needs a few hundred bytes.
constexpr size_t kStackBytes = 16 * 1024;
/// Largest --tasks: the kernel's PID_MAX_LIMIT (4M on 64-bit).
constexpr int kMaxTasks = 4 * 1024 * 1024;

struct PidsOptions : ModeOptions {
  int tasks = 0;
};

std::string Parse(const Arg& arg, PidsOptions& o) {
  if (arg.key == "--tasks") return TakeNumber(arg, &o.tasks);
  return NotAnOption("pids", arg);
}

std::string Validate(const PidsOptions& o) { return CheckRange("--tasks", o.tasks, 1, kMaxTasks); }

void* Hold(void* /*unused*/) {
  for (;;) pause();
}

int Run(const PidsOptions& o, const sigset_t& stop_signals) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  const long min_stack = sysconf(_SC_THREAD_STACK_MIN);
  pthread_attr_setstacksize(&attr, min_stack > static_cast<long>(kStackBytes) ? static_cast<size_t>(min_stack) : kStackBytes);
  pthread_attr_setguardsize(&attr, 0);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (int i = 1; i < o.tasks; ++i) {
    pthread_t thread;
    const int err = pthread_create(&thread, &attr, Hold, nullptr);
    if (err != 0) {
      core::SysError error;
      error.err = err;
      error.syscall = "pthread_create";
      error.detail = Cat({"after ", FormatNumber(i), " of ", FormatNumber(o.tasks), " tasks"});
      EmitError(error);
      return kExitFailed;
    }
  }
  pthread_attr_destroy(&attr);
  EmitReady();
  RunUntilStopOrFailure(stop_signals, [] { return true; });
  return kExitFailed;
}

}  // namespace

constinit const ModeInfo kPidsMode = DefineMode<PidsOptions, Parse, Validate, Run>("pids", "--tasks=N", Lifecycle::kLoad);

}  // namespace faultd::stressor
