// SPDX-License-Identifier: Apache-2.0
// Mode `delay`: the NFQUEUE delayer (injectors/nfqueue_delayer.h). Binds a queue, holds each
// packet for a sampled delay, prints {"event":"stats",...} each second, and accepts every
// packet it holds when stopped.
//   faultd-stressor delay --queue=N --delay-us=D [--jitter-us=J] [--correlation-pct=C]
//                         [--distribution=normal --dist-dir=DIR] [--max-held=PACKETS]
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>

#include "../injectors/delay_sampler.h"
#include "../injectors/nfqueue_delayer.h"
#include "../injectors/tc_netem.h"
#include "events.h"
#include "lifecycle.h"
#include "mode.h"

namespace faultd::stressor {
namespace {

constexpr int64_t kMaxDelayUs = INT64_MAX / 1000;  // the sampler works in ns

struct DelayOptions : ModeOptions {
  std::optional<int> queue;
  std::optional<int64_t> delay_us;
  int64_t jitter_us = 0;
  double correlation_pct = 0;
  std::string distribution;  // empty: uniform jitter
  std::string dist_dir;
  uint32_t max_held = 65536;
};

template <typename T>
std::string TakeRequired(const Arg& arg, std::optional<T>* out) {
  T value{};
  std::string why = TakeNumber(arg, &value);
  if (why.empty()) *out = value;
  return why;
}

std::string Parse(const Arg& arg, DelayOptions& o) {
  if (arg.key == "--queue") return TakeRequired(arg, &o.queue);
  if (arg.key == "--delay-us") return TakeRequired(arg, &o.delay_us);
  if (arg.key == "--jitter-us") return TakeNumber(arg, &o.jitter_us);
  if (arg.key == "--correlation-pct") return TakeNumber(arg, &o.correlation_pct);
  if (arg.key == "--distribution") return TakeText(arg, &o.distribution);
  if (arg.key == "--dist-dir") return TakeText(arg, &o.dist_dir);
  if (arg.key == "--max-held") return TakeNumber(arg, &o.max_held);
  return NotAnOption("delay", arg);
}

std::string Validate(const DelayOptions& o) {
  if (!o.queue) return "--queue is required (0..65535)";
  if (!o.delay_us) return Cat({"--delay-us is required (0..", FormatNumber(kMaxDelayUs), ")"});
  for (std::string why : {CheckRange("--queue", *o.queue, 0, 65535), CheckRange<int64_t>("--delay-us", *o.delay_us, 0, kMaxDelayUs),
                          CheckRange("--correlation-pct", o.correlation_pct, 0.0, 100.0),
                          CheckRange<uint32_t>("--max-held", o.max_held, 1, 1U << 20)}) {
    if (!why.empty()) return why;
  }
  if (o.jitter_us < 0 || o.jitter_us > *o.delay_us) {
    return Cat({"--jitter-us must be 0..--delay-us (", FormatNumber(*o.delay_us), ") (got ", FormatNumber(o.jitter_us), ")"});
  }
  if (!o.distribution.empty() && o.dist_dir.empty()) return "--distribution needs --dist-dir";
  return {};
}

void EmitStats(const inj::DelayerStats& s) {
  std::printf("{\"event\":\"stats\",\"delayed\":%llu,\"held\":%llu,\"peakHeld\":%llu,\"maxLateUs\":%lld,\"recvErrors\":%llu}\n",
              static_cast<unsigned long long>(s.delayed), static_cast<unsigned long long>(s.held),
              static_cast<unsigned long long>(s.peak_held), static_cast<long long>(s.max_late_ns / 1000),
              static_cast<unsigned long long>(s.recv_errors));
  std::fflush(stdout);
}

int Run(const DelayOptions& o, const sigset_t& stop_signals) {
  inj::DelaySpec spec{*o.delay_us * 1000, o.jitter_us * 1000, o.correlation_pct, {}};
  if (!o.distribution.empty()) {
    auto table = inj::ReadNetemDistribution(o.dist_dir, o.distribution);
    if (!table.ok()) return EmitError(table.error()), kExitFailed;
    spec.table = std::move(table).value();
  }
  auto delayer = inj::NfqueueDelayer::Bind(static_cast<uint16_t>(*o.queue), o.max_held);
  if (!delayer.ok()) return EmitError(delayer.error()), kExitFailed;
  std::random_device entropy;
  inj::DelaySampler sampler(spec, (static_cast<uint64_t>(entropy()) << 32) | entropy());
  EmitReady();
  const auto ran = std::move(delayer).value().Run(sampler, stop_signals, EmitStats);
  if (!ran.ok()) return EmitError(ran.error()), kExitFailed;
  return kExitStopped;
}

}  // namespace

constinit const ModeInfo kDelayMode = DefineMode<DelayOptions, Parse, Validate, Run>(
    "delay",
    "--queue=N --delay-us=D [--jitter-us=J] [--correlation-pct=C] [--distribution=normal --dist-dir=DIR] "
    "[--max-held=PACKETS]",
    Lifecycle::kLoad);

}  // namespace faultd::stressor
