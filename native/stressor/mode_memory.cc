// SPDX-License-Identifier: Apache-2.0
// Mode `memory`: N worker threads, each populating (and optionally locking) a share of the
// memory (injectors/memory_stress.h); prints {"event":"populated","bytes":N} once all is resident.
//   faultd-stressor memory --workers=N --bytes-per-worker=B [--lock] [--ramp-up-ms=T]
#include <sched.h>

#include <cstdint>
#include <cstdio>

#include "../injectors/memory_stress.h"
#include "events.h"
#include "lifecycle.h"
#include "mode.h"

namespace faultd::stressor {
namespace {

struct MemoryOptions : ModeOptions {
  int workers = 1;
  uint64_t bytes_per_worker = 0;
  bool lock = false;
  int64_t ramp_up_ms = 0;
};

std::string Parse(const Arg& arg, MemoryOptions& o) {
  if (arg.key == "--workers") return TakeNumber(arg, &o.workers);
  if (arg.key == "--bytes-per-worker") return TakeNumber(arg, &o.bytes_per_worker);
  if (arg.key == "--lock") return TakeFlag(arg, &o.lock);
  if (arg.key == "--ramp-up-ms") return TakeNumber(arg, &o.ramp_up_ms);
  return NotAnOption("memory", arg);
}

std::string Validate(const MemoryOptions& o) {
  for (std::string why : {CheckRange("--workers", o.workers, 1, CPU_SETSIZE),
                          CheckMin<uint64_t>("--bytes-per-worker", o.bytes_per_worker, 1),
                          CheckRange<int64_t>("--ramp-up-ms", o.ramp_up_ms, 0, INT32_MAX)}) {
    if (!why.empty()) return why;
  }
  return {};
}

int Run(const MemoryOptions& o, const sigset_t& stop_signals) {
  auto stress = inj::MemoryStress::Start({o.workers, o.bytes_per_worker, o.lock, o.ramp_up_ms});
  if (!stress.ok()) return EmitError(stress.error()), kExitFailed;
  EmitReady();
  auto& mem = *stress.value();
  bool reported = false;
  RunUntilStopOrFailure(stop_signals, [&] {
    if (!reported && mem.Complete()) {
      std::printf("{\"event\":\"populated\",\"bytes\":%llu}\n", static_cast<unsigned long long>(mem.PopulatedBytes()));
      std::fflush(stdout);
      reported = true;
    }
    return mem.WorkerError().err == 0;
  });
  mem.RequestStop();
  mem.Join();
  return EmitError(mem.WorkerError()), kExitFailed;
}

}  // namespace

constinit const ModeInfo kMemoryMode = DefineMode<MemoryOptions, Parse, Validate, Run>(
    "memory", "--workers=N --bytes-per-worker=B [--lock] [--ramp-up-ms=T]", Lifecycle::kLoad);

}  // namespace faultd::stressor
