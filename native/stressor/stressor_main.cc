// SPDX-License-Identifier: Apache-2.0
// faultd-stressor: the process that carries CPU and memory stress load, so that the faultd
// daemon (Node) stays responsive and is never the one the OOM killer picks.
//
//   faultd-stressor cpu    --workers=N --load-pct=P [--cpus=0,2] [--ramp-up-ms=T] [--period-us=U]
//   faultd-stressor memory --workers=N --bytes-per-worker=B [--lock] [--ramp-up-ms=T]
//   faultd-stressor delay  --queue=N --delay-us=D [--jitter-us=J] [--correlation-pct=C]
//                          [--distribution=normal --dist-dir=DIR] [--max-held=PACKETS]
//   faultd-stressor probe-qdisc <kind>  (feature probe: can this kernel create a <kind> qdisc?)
//   faultd-stressor probe-nfqueue       (feature probe: nf_tables queue rule + a bound queue)
//   common: --parent-pid=PID (exit if the parent is already gone) --tag=FAULT_ID (for `ps` and
//           remnant scans) --wait-go (start no load until a line "go" arrives on stdin, so that
//           faultd records the pid and places the process in its cgroup first)
//
// It dies with its parent (PR_SET_PDEATHSIG), sets oom_score_adj=1000, and stops cleanly on
// SIGTERM/SIGINT (the delayer first accepts every packet it holds). Stdout carries JSON lines:
// {"event":"ready"}, {"event":"populated",...}, {"event":"stats",...} (delayer, each second),
// {"event":"error","errno":N,"syscall":"..."}. Exit codes: 0 stopped, 2 usage, 3 stress failed.
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../injectors/cpu_stress.h"
#include "../core/netlink/qdisc.h"
#include "../injectors/delay_sampler.h"
#include "../injectors/memory_stress.h"
#include "../injectors/nfqueue_delayer.h"
#include "../injectors/nft_rules.h"
#include "../injectors/tc_netem.h"
#include "../injectors/tc_tbf.h"

namespace {

using faultd::core::SysError;

constexpr int kExitUsage = 2;
constexpr int kExitFailed = 3;

struct Options {
  std::string_view mode;
  int workers = 1;
  double load_pct = 100;
  std::vector<int> cpus;
  int64_t ramp_up_ms = 0;
  int64_t period_us = 10'000;
  uint64_t bytes_per_worker = 0;
  bool lock = false;
  bool wait_go = false;
  int queue = -1;
  int64_t delay_us = -1;
  int64_t jitter_us = 0;
  double correlation_pct = 0;
  std::string distribution;
  std::string dist_dir;
  uint32_t max_held = 65536;
  pid_t parent_pid = 0;
};

int Usage(const char* why) {
  std::fprintf(stderr, "faultd-stressor: %s\nusage: faultd-stressor cpu|memory|delay --key=value ...\n", why);
  return kExitUsage;
}

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool ParseCpus(std::string_view text, std::vector<int>* out) {
  while (!text.empty()) {
    const size_t comma = text.find(',');
    int cpu = 0;
    if (!ParseNumber(text.substr(0, comma), &cpu) || cpu < 0 || cpu >= CPU_SETSIZE) return false;
    out->push_back(cpu);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
  }
  return !out->empty();
}

bool ParseOption(std::string_view arg, Options* o) {
  if (arg == "--lock") return o->lock = true;
  if (arg == "--wait-go") return o->wait_go = true;
  const size_t eq = arg.find('=');
  if (eq == std::string_view::npos) return false;
  const std::string_view key = arg.substr(0, eq);
  const std::string_view value = arg.substr(eq + 1);
  if (key == "--workers") return ParseNumber(value, &o->workers);
  if (key == "--load-pct") return ParseNumber(value, &o->load_pct);
  if (key == "--cpus") return ParseCpus(value, &o->cpus);
  if (key == "--ramp-up-ms") return ParseNumber(value, &o->ramp_up_ms);
  if (key == "--period-us") return ParseNumber(value, &o->period_us);
  if (key == "--bytes-per-worker") return ParseNumber(value, &o->bytes_per_worker);
  if (key == "--parent-pid") return ParseNumber(value, &o->parent_pid);
  if (key == "--queue") return ParseNumber(value, &o->queue);
  if (key == "--delay-us") return ParseNumber(value, &o->delay_us);
  if (key == "--jitter-us") return ParseNumber(value, &o->jitter_us);
  if (key == "--correlation-pct") return ParseNumber(value, &o->correlation_pct);
  if (key == "--max-held") return ParseNumber(value, &o->max_held);
  if (key == "--distribution") return o->distribution = value, true;
  if (key == "--dist-dir") return o->dist_dir = value, true;
  return key == "--tag";  // informational only: makes the fault id visible in `ps`
}

std::string JsonEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
  }
  return out;
}

void EmitError(const SysError& error) {
  const std::string message = std::string(std::strerror(error.err)) + (error.detail.empty() ? "" : " (" + error.detail + ")");
  std::printf("{\"event\":\"error\",\"errno\":%d,\"syscall\":\"%s\",\"message\":\"%s\"}\n", error.err, error.syscall,
              JsonEscape(message).c_str());
  std::fflush(stdout);
}

// Ties this process's life to faultd: killed when the parent dies, first in line for the OOM
// killer, and not a target for terminal signals meant for faultd (faultd starts it in its own
// session).
bool TieToParent(pid_t parent_pid) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return false;
  // The parent may have died before prctl took effect.
  if (parent_pid != 0 && getppid() != parent_pid) return false;
  const int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!write(fd, "1000", 4);
    close(fd);
  }
  return true;
}

// Reads stdin until a line "go"; false on EOF or anything else (faultd gave up: exit quietly).
bool WaitForGo() {
  char line[8] = {};
  size_t used = 0;
  while (used < sizeof(line) - 1) {
    const ssize_t n = read(STDIN_FILENO, line + used, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (line[used] == '\n') return std::string_view(line, used) == "go";
    ++used;
  }
  return false;
}

// Runs until a stop signal or until `still_ok()` turns false (polled every 100 ms); returns
// only in the second case. A stop signal (SIGTERM/SIGINT/SIGHUP) ends the process at once with
// _exit(0): the kernel tears down the workers and their memory, so a stop never waits for a
// worker's period or a large munmap.
template <typename Check>
void RunUntilStopOrFailure(const sigset_t& stop_signals, Check still_ok) {
  const timespec poll{0, 100'000'000};
  for (;;) {
    if (sigtimedwait(&stop_signals, nullptr, &poll) > 0) {
      std::fflush(stdout);
      _exit(0);
    }
    if (!still_ok()) return;
  }
}

int RunCpu(const Options& o, const sigset_t& stop_signals) {
  faultd::inj::CpuStressSpec spec{o.workers, o.load_pct, o.cpus, o.ramp_up_ms, o.period_us};
  auto stress = faultd::inj::CpuStress::Start(spec);
  if (!stress.ok()) return EmitError(stress.error()), kExitFailed;
  std::printf("{\"event\":\"ready\"}\n");
  std::fflush(stdout);
  auto& cpu = *stress.value();
  RunUntilStopOrFailure(stop_signals, [&] { return cpu.WorkerError().err == 0; });
  cpu.RequestStop();
  cpu.Join();
  return EmitError(cpu.WorkerError()), kExitFailed;
}

int RunMemory(const Options& o, const sigset_t& stop_signals) {
  faultd::inj::MemoryStressSpec spec{o.workers, o.bytes_per_worker, o.lock, o.ramp_up_ms};
  auto stress = faultd::inj::MemoryStress::Start(spec);
  if (!stress.ok()) return EmitError(stress.error()), kExitFailed;
  std::printf("{\"event\":\"ready\"}\n");
  std::fflush(stdout);
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

int RunDelay(const Options& o, const sigset_t& stop_signals) {
  faultd::inj::DelaySpec spec{o.delay_us * 1000, o.jitter_us * 1000, o.correlation_pct, {}};
  if (!o.distribution.empty()) {
    auto table = faultd::inj::ReadNetemDistribution(o.dist_dir, o.distribution);
    if (!table.ok()) return EmitError(table.error()), kExitFailed;
    spec.table = std::move(table).value();
  }
  auto delayer = faultd::inj::NfqueueDelayer::Bind(static_cast<uint16_t>(o.queue), o.max_held);
  if (!delayer.ok()) return EmitError(delayer.error()), kExitFailed;
  std::random_device entropy;
  faultd::inj::DelaySampler sampler(spec, (static_cast<uint64_t>(entropy()) << 32) | entropy());
  std::printf("{\"event\":\"ready\"}\n");
  std::fflush(stdout);
  const auto ran = std::move(delayer).value().Run(sampler, stop_signals, [](const faultd::inj::DelayerStats& s) {
    std::printf("{\"event\":\"stats\",\"delayed\":%llu,\"held\":%llu,\"peakHeld\":%llu,\"maxLateUs\":%lld,\"recvErrors\":%llu}\n",
                static_cast<unsigned long long>(s.delayed), static_cast<unsigned long long>(s.held),
                static_cast<unsigned long long>(s.peak_held), static_cast<long long>(s.max_late_ns / 1000),
                static_cast<unsigned long long>(s.recv_errors));
    std::fflush(stdout);
  });
  if (!ran.ok()) return EmitError(ran.error()), kExitFailed;
  return 0;
}

void PrintProbeFailure(const SysError& error) {
  std::printf("{\"supported\":false,\"probe\":\"%s\",\"errno\":%d,\"message\":\"%s\",\"detail\":\"%s\"}\n", error.syscall, error.err,
              std::strerror(error.err), JsonEscape(error.detail).c_str());
}

// Tries to create a `kind` qdisc on the loopback device of a private, throwaway network
// namespace (needs CAP_SYS_ADMIN), so the host's own interfaces are never touched. Prints
// {"supported":bool,...} and exits 0 when the probe itself ran.
int ProbeQdisc(std::string_view kind) {
  if (unshare(CLONE_NEWNET) != 0) {
    std::printf("{\"supported\":false,\"probe\":\"unshare\",\"errno\":%d,\"message\":\"%s\"}\n", errno, std::strerror(errno));
    return kExitFailed;
  }
  const auto psched = faultd::core::ReadPsched();
  if (!psched.ok()) return EmitError(psched.error()), kExitFailed;
  faultd::core::Result<std::vector<uint8_t>> options = std::vector<uint8_t>{};
  if (kind == "netem") options = faultd::inj::EncodeNetemOptions(faultd::inj::NetemSpec{}, psched.value());
  if (kind == "tbf") options = faultd::inj::EncodeTbfOptions({125000, 32768, 65536, 0}, psched.value());
  if (!options.ok()) return EmitError(options.error()), kExitFailed;
  const auto lo = faultd::core::nl::InterfaceIndex("lo");
  if (!lo.ok()) return EmitError(lo.error()), kExitFailed;
  const auto added = faultd::core::nl::ReplaceQdisc(lo.value(), 0xffffffffU, 0x10000U, std::string(kind), options.value(), false);
  if (added.ok()) {
    std::printf("{\"supported\":true}\n");
  } else {
    PrintProbeFailure(added.error());
  }
  return 0;
}

// What the NFQUEUE delayer needs, tried in a throwaway network namespace: an nf_tables chain
// with the xt NFQUEUE target (nf_tables, nft_compat, xt_NFQUEUE) and a bound queue
// (nfnetlink_queue).
int ProbeNfqueue() {
  if (unshare(CLONE_NEWNET) != 0) {
    std::printf("{\"supported\":false,\"probe\":\"unshare\",\"errno\":%d,\"message\":\"%s\"}\n", errno, std::strerror(errno));
    return kExitFailed;
  }
  faultd::inj::NftChainSpec chain;
  chain.chain = "probe";
  chain.hook = faultd::inj::NftHook::kPrerouting;
  faultd::inj::NftRule rule;
  rule.verdict = faultd::inj::NftVerdict::kQueue;
  rule.queue_num = 1;
  chain.rules.push_back(rule);
  if (const auto added = faultd::inj::AddNftChain(chain); !added.ok()) return PrintProbeFailure(added.error()), 0;
  if (const auto bound = faultd::inj::NfqueueDelayer::Bind(1, 16); !bound.ok()) return PrintProbeFailure(bound.error()), 0;
  std::printf("{\"supported\":true}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("missing mode");
  if (std::string_view(argv[1]) == "probe-qdisc") {
    if (argc != 3 || std::string_view(argv[2]).find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string_view::npos) {
      return Usage("probe-qdisc <kind>");
    }
    return ProbeQdisc(argv[2]);
  }
  if (std::string_view(argv[1]) == "probe-nfqueue") return argc == 2 ? ProbeNfqueue() : Usage("probe-nfqueue takes no argument");
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    if (!ParseOption(argv[i], &o)) {
      std::fprintf(stderr, "faultd-stressor: bad option '%s'\n", argv[i]);
      return kExitUsage;
    }
  }
  if (o.workers < 1 || o.workers > CPU_SETSIZE) return Usage("--workers out of range");
  if (o.mode == "cpu" && (o.load_pct < 0 || o.load_pct > 100)) return Usage("--load-pct must be 0..100");
  if (o.mode == "memory" && o.bytes_per_worker == 0) return Usage("--bytes-per-worker must be > 0");
  if (o.mode == "delay" && (o.queue < 0 || o.queue > 65535)) return Usage("--queue must be 0..65535");
  if (o.mode == "delay" && (o.delay_us < 0 || o.jitter_us < 0 || o.jitter_us > o.delay_us)) return Usage("--delay-us and --jitter-us: 0 <= jitter <= delay");
  if (o.mode == "delay" && (o.correlation_pct < 0 || o.correlation_pct > 100)) return Usage("--correlation-pct must be 0..100");
  if (o.mode == "delay" && !o.distribution.empty() && o.dist_dir.empty()) return Usage("--distribution needs --dist-dir");
  if (o.mode == "delay" && (o.max_held < 1 || o.max_held > (1U << 20))) return Usage("--max-held must be 1..1048576");
  if (o.mode != "cpu" && o.mode != "memory" && o.mode != "delay") return Usage("mode must be cpu, memory or delay");
  if (!TieToParent(o.parent_pid)) {
    std::fprintf(stderr, "faultd-stressor: parent %d is gone or PR_SET_PDEATHSIG failed\n", static_cast<int>(o.parent_pid));
    return kExitFailed;
  }
  // Until "go", the default dispositions apply: a SIGTERM from faultd ends the idle process at
  // once. Afterwards the stop signals are blocked before any thread exists, so workers inherit
  // the mask and only the main thread's sigtimedwait receives them.
  if (o.wait_go && !WaitForGo()) return 0;
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  if (o.mode == "delay") return RunDelay(o, stop_signals);
  return o.mode == "cpu" ? RunCpu(o, stop_signals) : RunMemory(o, stop_signals);
}
