// SPDX-License-Identifier: Apache-2.0
// Mode `cpu`: N worker threads, each holding a share of one CPU (injectors/cpu_stress.h).
//   faultd-stressor cpu --workers=N --load-pct=P [--cpus=0,2] [--ramp-up-ms=T] [--period-us=U]
#include <sched.h>

#include <cstdint>
#include <vector>

#include "../injectors/cpu_stress.h"
#include "events.h"
#include "lifecycle.h"
#include "mode.h"

namespace faultd::stressor {
namespace {

struct CpuOptions : ModeOptions {
  int workers = 1;
  double load_pct = 100;
  std::vector<int> cpus;
  int64_t ramp_up_ms = 0;
  int64_t period_us = 10'000;
};

std::string Parse(const Arg& arg, CpuOptions& o) {
  if (arg.key == "--workers") return TakeNumber(arg, &o.workers);
  if (arg.key == "--load-pct") return TakeNumber(arg, &o.load_pct);
  if (arg.key == "--cpus") return TakeCpuList(arg, &o.cpus);
  if (arg.key == "--ramp-up-ms") return TakeNumber(arg, &o.ramp_up_ms);
  if (arg.key == "--period-us") return TakeNumber(arg, &o.period_us);
  return NotAnOption("cpu", arg);
}

std::string Validate(const CpuOptions& o) {
  for (std::string why : {CheckRange("--workers", o.workers, 1, CPU_SETSIZE), CheckRange("--load-pct", o.load_pct, 0.0, 100.0),
                          CheckRange<int64_t>("--ramp-up-ms", o.ramp_up_ms, 0, INT32_MAX),
                          CheckRange<int64_t>("--period-us", o.period_us, 1000, 1'000'000)}) {
    if (!why.empty()) return why;
  }
  return {};
}

int Run(const CpuOptions& o, const sigset_t& stop_signals) {
  auto stress = inj::CpuStress::Start({o.workers, o.load_pct, o.cpus, o.ramp_up_ms, o.period_us});
  if (!stress.ok()) return EmitError(stress.error()), kExitFailed;
  EmitReady();
  auto& cpu = *stress.value();
  RunUntilStopOrFailure(stop_signals, [&] { return cpu.WorkerError().err == 0; });
  cpu.RequestStop();
  cpu.Join();
  return EmitError(cpu.WorkerError()), kExitFailed;
}

}  // namespace

constinit const ModeInfo kCpuMode = DefineMode<CpuOptions, Parse, Validate, Run>(
    "cpu", "--workers=N --load-pct=P [--cpus=0,2] [--ramp-up-ms=T] [--period-us=U]", Lifecycle::kLoad);

}  // namespace faultd::stressor
