// SPDX-License-Identifier: Apache-2.0
// Mode `io`: N worker threads, each writing its own file over and over (injectors/io_stress.h).
// Once every worker has its file open it prints {"event":"opened","workers":N,"direct":D}
// (D of them use O_DIRECT), then {"event":"ready"}, then every second
// {"event":"io","window_ms":W,"bytes":B,"ops":O}: the bytes and the write calls of that window.
// With --files-open, worker i writes the file open on descriptor 3 + i (faultd created it and
// recorded its identity) instead of creating P-i.
//   faultd-stressor io --workers=N --file-prefix=P --file-bytes=B [--rate-bps=R | --rate-iops=R] [--files-open]
#include <sched.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>

#include "../core/clock.h"
#include "../core/rate_pacer.h"
#include "../injectors/io_stress.h"
#include "events.h"
#include "lifecycle.h"
#include "mode.h"

namespace faultd::stressor {
namespace {

constexpr int64_t kWindowNs = 1'000'000'000;
constexpr int64_t kOpenTimeoutNs = 5'000'000'000;

struct IoOptions : ModeOptions {
  int workers = 1;
  std::string file_prefix;
  uint64_t file_bytes = 0;
  double rate_bps = 0;
  double rate_iops = 0;
  bool files_open = false;
};

/// The first descriptor of --files-open: the one after stdin, stdout and stderr.
constexpr int kFirstFileFd = 3;

std::string Parse(const Arg& arg, IoOptions& o) {
  if (arg.key == "--workers") return TakeNumber(arg, &o.workers);
  if (arg.key == "--file-prefix") return TakeText(arg, &o.file_prefix);
  if (arg.key == "--file-bytes") return TakeNumber(arg, &o.file_bytes);
  if (arg.key == "--rate-bps") return TakeNumber(arg, &o.rate_bps);
  if (arg.key == "--rate-iops") return TakeNumber(arg, &o.rate_iops);
  if (arg.key == "--files-open") return TakeFlag(arg, &o.files_open);
  return NotAnOption("io", arg);
}

std::string Validate(const IoOptions& o) {
  if (!o.file_prefix.starts_with("/")) return "--file-prefix must be an absolute path";
  for (std::string why : {CheckRange("--workers", o.workers, 1, 256),
                          CheckMin<uint64_t>("--file-bytes", o.file_bytes, core::kIoAlignBytes),
                          CheckRange("--rate-bps", o.rate_bps, 0.0, 1e12),
                          CheckRange("--rate-iops", o.rate_iops, 0.0, 1e7)}) {
    if (!why.empty()) return why;
  }
  if (o.rate_bps > 0 && o.rate_iops > 0) return "give --rate-bps or --rate-iops, not both";
  return {};
}

int Run(const IoOptions& o, const sigset_t& stop_signals) {
  auto stress = inj::IoStress::Start({o.workers, o.file_prefix, o.file_bytes, o.rate_bps, o.rate_iops, o.files_open ? kFirstFileFd : -1});
  if (!stress.ok()) return EmitError(stress.error()), kExitFailed;
  auto& io = *stress.value();
  const int64_t open_deadline = core::MonotonicNs() + kOpenTimeoutNs;
  while (io.OpenedWorkers() < o.workers && io.WorkerError().err == 0 && core::MonotonicNs() < open_deadline) {
    core::SleepUntilNs(core::MonotonicNs() + 1'000'000);
  }
  if (io.WorkerError().err != 0 || io.OpenedWorkers() < o.workers) {
    io.RequestStop();
    io.Join();
    const auto error = io.WorkerError();
    return EmitError(error.err != 0 ? error : core::SysError{ETIMEDOUT, "open", "workers did not open their files"}), kExitFailed;
  }
  std::printf("{\"event\":\"opened\",\"workers\":%d,\"direct\":%d}\n", io.OpenedWorkers(), io.DirectWorkers());
  EmitReady();
  int64_t window_start = core::MonotonicNs();
  uint64_t window_bytes = io.WrittenBytes();
  uint64_t window_ops = io.WrittenOps();
  RunUntilStopOrFailure(stop_signals, [&] {
    const int64_t now = core::MonotonicNs();
    if (now - window_start >= kWindowNs) {
      const uint64_t bytes = io.WrittenBytes();
      const uint64_t ops = io.WrittenOps();
      std::printf("{\"event\":\"io\",\"window_ms\":%lld,\"bytes\":%llu,\"ops\":%llu}\n", static_cast<long long>((now - window_start) / 1'000'000),
                  static_cast<unsigned long long>(bytes - window_bytes), static_cast<unsigned long long>(ops - window_ops));
      std::fflush(stdout);
      window_start = now;
      window_bytes = bytes;
      window_ops = ops;
    }
    return io.WorkerError().err == 0;
  });
  io.RequestStop();
  io.Join();
  return EmitError(io.WorkerError()), kExitFailed;
}

}  // namespace

constinit const ModeInfo kIoMode = DefineMode<IoOptions, Parse, Validate, Run>(
    "io", "--workers=N --file-prefix=P --file-bytes=B [--rate-bps=R | --rate-iops=R] [--files-open]", Lifecycle::kLoad);

}  // namespace faultd::stressor
