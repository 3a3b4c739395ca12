// SPDX-License-Identifier: Apache-2.0
// The faultd-stressor command line through its table of modes, without its main(): every argv
// faultd passes is accepted as before, and every refusal names the mode, the argument and the
// allowed range.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "../stressor/command_line.h"
#include "../stressor/mode.h"

namespace faultd::stressor {
namespace {

ParsedCommandLine Parse(std::vector<std::string_view> args) { return ParseCommandLine(args); }

// The argv of each mode as src/faults (linux-cpu-stress.ts, linux-memory-stress.ts,
// network/nfqueue-delay.ts, host/features.ts) builds it, with stressorArgv's common options.
TEST(StressorCommandLine, AcceptsWhatFaultdPasses) {
  const std::vector<std::vector<std::string_view>> argvs = {
      {"cpu", "--workers=2", "--load-pct=50", "--period-us=10000", "--tag=f-1", "--wait-go", "--parent-pid=4242"},
      {"cpu", "--workers=1", "--load-pct=12.5", "--period-us=10000", "--cpus=0,1", "--ramp-up-ms=5000", "--tag=f-1", "--wait-go", "--parent-pid=1"},
      {"cpu", "--workers=1", "--load-pct=0", "--tag=test"},
      {"memory", "--workers=2", "--bytes-per-worker=134217728", "--tag=f-2", "--wait-go", "--parent-pid=4242"},
      {"memory", "--workers=1", "--bytes-per-worker=4096", "--lock", "--ramp-up-ms=100", "--tag=f-2", "--wait-go", "--parent-pid=4242"},
      {"io", "--workers=2", "--file-prefix=/mnt/x/.faultd-io-0a1b2c3d", "--file-bytes=104857600", "--tag=f-4", "--wait-go", "--parent-pid=4242"},
      {"io", "--workers=1", "--file-prefix=/tmp/.faultd-io-0a1b2c3d", "--file-bytes=4096", "--rate-bps=1048576", "--tag=f-4", "--wait-go", "--parent-pid=4242"},
      {"io", "--workers=2", "--file-prefix=/tmp/.faultd-io-0a1b2c3d", "--file-bytes=8192", "--rate-iops=200", "--tag=f-4", "--wait-go", "--parent-pid=4242"},
      {"io", "--workers=2", "--file-prefix=/tmp/.faultd-io-0a1b2c3d", "--file-bytes=8192", "--files-open", "--tag=f-4", "--wait-go", "--parent-pid=4242"},
      {"delay", "--queue=3840", "--delay-us=100000", "--jitter-us=0", "--correlation-pct=0", "--tag=f-3", "--wait-go", "--parent-pid=4242"},
      {"delay", "--queue=4000", "--delay-us=2000000", "--jitter-us=500000", "--correlation-pct=25.5", "--distribution=normal",
       "--dist-dir=/usr/lib/x86_64-linux-gnu/tc", "--tag=f-3", "--wait-go", "--parent-pid=4242"},
      {"delay", "--queue=1", "--delay-us=0", "--max-held=16"},
      {"pids", "--tasks=600", "--tag=f-4", "--wait-go", "--parent-pid=4242"},
      {"dns", "--upstream=10.0.0.53", "--upstream-port=53", "--mark=262241619", "--action=nxdomain", "--percentage=100", "--match=exact",
       "--name=gone.test", "--spare=hub.example.com", "--tag=f-5", "--wait-go", "--parent-pid=4242"},
      {"dns", "--upstream=::1", "--mark=1", "--action=spoof", "--spoof=api.example.com=10.0.0.9", "--ttl=60"},
      {"http", "--mark=262241619", "--port=20000", "--action=block", "--status=404", "--path=/api", "--method=GET", "--method=POST",
       "--match-header=X-Team: blue", "--query=q=1", "--source=10.0.0.0/8", "--source=fd00::/8", "--percentage=50", "--tag=f-6", "--wait-go",
       "--parent-pid=4242"},
      {"http", "--mark=1", "--action=latency", "--latency-ms=2000", "--direction=both", "--upstream=[::1]:8080", "--threads=4", "--grace-ms=500"},
      {"http", "--mark=1", "--action=status", "--status=500", "--body="},
      {"http", "--mark=1", "--action=body", "--body={}", "--direction=response", "--upstream=127.0.0.1:80"},
      {"http", "--mark=1", "--action=header", "--direction=request", "--set-header=X-A:1", "--remove-header=X-B", "--idle-timeout-ms=5000"},
      {"probe-qdisc", "netem"},
      {"probe-qdisc", "tbf"},
      {"probe-nfqueue"},
      {"probe-nat-redirect"},
      {"probe-ifb"},
      {"probe-xtables"},
      {"probe-xtables", "nfqueue"},
  };
  for (const auto& argv : argvs) {
    const ParsedCommandLine parsed = Parse(argv);
    EXPECT_EQ(parsed.error, "") << argv[0];
    ASSERT_NE(parsed.command.mode, nullptr);
    EXPECT_EQ(parsed.command.mode->name, argv[0]);
    ASSERT_NE(parsed.command.options, nullptr);
  }
}

TEST(StressorCommandLine, ReadsTheCommonOptionsOnce) {
  const ParsedCommandLine parsed = Parse({"memory", "--parent-pid=4242", "--bytes-per-worker=1", "--wait-go", "--tag=x"});
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.command.parent_pid, 4242);
  EXPECT_TRUE(parsed.command.wait_go);
  const ParsedCommandLine plain = Parse({"cpu"});
  ASSERT_EQ(plain.error, "");
  EXPECT_EQ(plain.command.parent_pid, 0);
  EXPECT_FALSE(plain.command.wait_go);
}

TEST(StressorCommandLine, UnknownOrMissingModeListsEveryMode) {
  const ParsedCommandLine unknown = Parse({"disk", "--workers=1"});
  EXPECT_EQ(unknown.error, "unknown mode 'disk' (one of cpu, memory, io, delay, dns, http, pids, probe-qdisc, probe-nfqueue, probe-nat-redirect, probe-ifb, probe-xtables)");
  EXPECT_EQ(unknown.command.mode, nullptr);
  EXPECT_EQ(Parse({}).error, "missing mode (one of cpu, memory, io, delay, dns, http, pids, probe-qdisc, probe-nfqueue, probe-nat-redirect, probe-ifb, probe-xtables)");
  for (const ModeInfo* mode : AllModes()) {
    EXPECT_NE(unknown.usage.find("faultd-stressor " + std::string(mode->name)), std::string::npos) << mode->name;
  }
  EXPECT_NE(unknown.usage.find("common to cpu, memory, io, delay, dns, http, pids: --parent-pid=PID"), std::string::npos) << unknown.usage;
}

TEST(StressorCommandLine, TheTableHasUniqueNamesAndEveryMemberSet) {
  std::vector<std::string_view> names;
  for (const ModeInfo* mode : AllModes()) {
    EXPECT_FALSE(mode->name.empty());
    EXPECT_EQ(FindMode(mode->name), mode);
    for (std::string_view seen : names) EXPECT_NE(seen, mode->name);
    names.push_back(mode->name);
    ASSERT_NE(mode->make_options, nullptr);
    ASSERT_NE(mode->parse, nullptr);
    ASSERT_NE(mode->validate, nullptr);
    ASSERT_NE(mode->run, nullptr);
  }
  EXPECT_EQ(FindMode("nope"), nullptr);
}

// Every mode, including one added later, refuses an option it does not know, naming both.
TEST(StressorCommandLine, EveryModeRefusesAnUnknownOptionByName) {
  for (const ModeInfo* mode : AllModes()) {
    const ParsedCommandLine parsed = Parse({mode->name, "--no-such-option=1"});
    EXPECT_NE(parsed.error, "") << mode->name;
    EXPECT_EQ(parsed.error.rfind(std::string(mode->name) + ": ", 0), 0U) << parsed.error;
    EXPECT_EQ(parsed.usage.rfind("usage: faultd-stressor " + std::string(mode->name), 0), 0U) << parsed.usage;
  }
}

struct Refusal {
  std::vector<std::string_view> argv;
  std::string error;
};

TEST(StressorCommandLine, BadOptionsNameTheOptionAndItsRange) {
  const std::vector<Refusal> refusals = {
      {{"cpu", "--queue=1"}, "cpu: '--queue=1' is not an option of cpu"},
      {{"cpu", "--workers=x"}, "cpu: --workers=x: not an integer"},
      {{"cpu", "--workers"}, "cpu: --workers needs a value (--workers=N)"},
      {{"cpu", "--workers=0"}, "cpu: --workers must be 1..1024 (got 0)"},
      {{"cpu", "--load-pct=150"}, "cpu: --load-pct must be 0..100 (got 150)"},
      {{"cpu", "--load-pct=fifty"}, "cpu: --load-pct=fifty: not a number"},
      {{"cpu", "--cpus=0,x"}, "cpu: --cpus=0,x: expected CPU numbers 0..1023 separated by commas"},
      {{"cpu", "--cpus=1024"}, "cpu: --cpus=1024: expected CPU numbers 0..1023 separated by commas"},
      {{"cpu", "--period-us=10"}, "cpu: --period-us must be 1000..1000000 (got 10)"},
      {{"cpu", "--ramp-up-ms=-1"}, "cpu: --ramp-up-ms must be 0..2147483647 (got -1)"},
      {{"cpu", "--lock"}, "cpu: '--lock' is not an option of cpu"},
      {{"cpu", "--parent-pid=-3"}, "cpu: --parent-pid must be 0..2147483647 (got -3)"},
      {{"cpu", "--wait-go=yes"}, "cpu: --wait-go=yes: --wait-go takes no value"},
      {{"cpu", "--tag"}, "cpu: --tag needs a value (--tag=...)"},
      {{"cpu", "extra"}, "cpu: 'extra' is not an option of cpu"},
      {{"memory"}, "memory: --bytes-per-worker must be >= 1 (got 0)"},
      {{"memory", "--bytes-per-worker=-1"}, "memory: --bytes-per-worker=-1: not a non-negative integer"},
      {{"memory", "--bytes-per-worker=1", "--lock=1"}, "memory: --lock=1: --lock takes no value"},
      {{"memory", "--bytes-per-worker=1", "--workers=2000"}, "memory: --workers must be 1..1024 (got 2000)"},
      {{"memory", "--bytes-per-worker=1", "--load-pct=5"}, "memory: '--load-pct=5' is not an option of memory"},
      {{"io", "--file-bytes=4096"}, "io: --file-prefix must be an absolute path"},
      {{"io", "--file-prefix=/x", "--file-bytes=100"}, "io: --file-bytes must be >= 4096 (got 100)"},
      {{"io", "--file-prefix=/x", "--file-bytes=4096", "--workers=300"}, "io: --workers must be 1..256 (got 300)"},
      {{"io", "--file-prefix=/x", "--file-bytes=4096", "--rate-bps=-1"}, "io: --rate-bps must be 0..1e+12 (got -1)"},
      {{"io", "--file-prefix=/x", "--file-bytes=4096", "--rate-iops=2e7"}, "io: --rate-iops must be 0..1e+07 (got 2e+07)"},
      {{"io", "--file-prefix=/x", "--file-bytes=4096", "--rate-bps=4096", "--rate-iops=10"}, "io: give --rate-bps or --rate-iops, not both"},
      {{"io", "--file-prefix=/x", "--file-bytes=4096", "--files-open=3"}, "io: --files-open=3: --files-open takes no value"},
      {{"delay", "--delay-us=1"}, "delay: --queue is required (0..65535)"},
      {{"delay", "--queue=1"}, "delay: --delay-us is required (0..9223372036854775)"},
      {{"delay", "--queue=70000", "--delay-us=1"}, "delay: --queue must be 0..65535 (got 70000)"},
      {{"delay", "--queue=1", "--delay-us=-5"}, "delay: --delay-us must be 0..9223372036854775 (got -5)"},
      {{"delay", "--queue=1", "--delay-us=100", "--jitter-us=101"}, "delay: --jitter-us must be 0..--delay-us (100) (got 101)"},
      {{"delay", "--queue=1", "--delay-us=100", "--correlation-pct=100.5"}, "delay: --correlation-pct must be 0..100 (got 100.5)"},
      {{"delay", "--queue=1", "--delay-us=100", "--max-held=0"}, "delay: --max-held must be 1..1048576 (got 0)"},
      {{"delay", "--queue=1", "--delay-us=100", "--distribution=normal"}, "delay: --distribution needs --dist-dir"},
      {{"delay", "--queue=1", "--delay-us=100", "--workers=1"}, "delay: '--workers=1' is not an option of delay"},
      {{"dns", "--mark=1", "--action=nxdomain"}, "dns: --server or --upstream is required (an IPv4 or IPv6 address)"},
      {{"dns", "--server=10.0.0.1", "--server=dns.test", "--mark=1", "--action=nxdomain"}, "dns: --server must be an IPv4 or IPv6 address (got 'dns.test')"},
      {{"dns", "--upstream=10.0.0.999", "--mark=1", "--action=nxdomain"}, "dns: --upstream must be an IPv4 or IPv6 address (got '10.0.0.999')"},
      {{"dns", "--upstream=10.0.0.1", "--action=nxdomain"}, "dns: --mark is required (1..4294967295): the interceptor's upstream sockets must be told from clients"},
      {{"dns", "--upstream=10.0.0.1", "--mark=1", "--action=lost"}, "dns: --action must be nxdomain, servfail, refused, timeout or spoof (got 'lost')"},
      {{"dns", "--upstream=10.0.0.1", "--mark=1", "--action=timeout", "--percentage=101"}, "dns: --percentage must be 0..100 (got 101)"},
      {{"dns", "--upstream=10.0.0.1", "--mark=1", "--action=timeout", "--match=regex"}, "dns: --match must be exact or substring (got 'regex')"},
      {{"dns", "--upstream=10.0.0.1", "--mark=1", "--action=spoof"}, "dns: --action=spoof needs at least one --spoof=NAME=ADDR"},
      {{"dns", "--upstream=10.0.0.1", "--mark=1", "--action=spoof", "--spoof=a.test=nowhere"}, "dns: --spoof=a.test=nowhere: expected NAME=ADDR with an IPv4 or IPv6 address"},
      {{"dns", "--upstream=10.0.0.1", "--mark=1", "--action=nxdomain", "--name=."}, "dns: --name=.: a DNS name of 1..253 characters"},
      {{"dns", "--upstream=10.0.0.1", "--upstream-port=70000"}, "dns: --upstream-port=70000: not a non-negative integer"},
      {{"http", "--action=block"}, "http: --mark is required (1..4294967295): the interceptor's upstream sockets must be told from clients"},
      {{"http", "--mark=1", "--action=reset"}, "http: --action must be block, latency, status, body or header (got 'reset')"},
      {{"http", "--mark=1", "--action=block", "--status=99"}, "http: --status must be 100..599 (got 99)"},
      {{"http", "--mark=1", "--action=block", "--body=x"}, "http: --body applies to --action=status or body, not block"},
      {{"http", "--mark=1", "--action=block", "--direction=both"}, "http: --direction applies to --action=latency, body or header, not block"},
      {{"http", "--mark=1", "--action=status", "--latency-ms=1"}, "http: --latency-ms applies to --action=latency, not status"},
      {{"http", "--mark=1", "--action=body", "--direction=both"}, "http: --action=body needs --body=TEXT (the replacement body, may be empty)"},
      {{"http", "--mark=1", "--action=latency", "--latency-ms=1", "--direction=up"}, "http: --direction must be request, response or both (got 'up')"},
      {{"http", "--mark=1", "--action=header", "--direction=both", "--set-header=X"}, "http: --set-header=X: expected NAME:VALUE"},
      {{"http", "--mark=1", "--action=block", "--status=404", "--set-header=X:1"}, "http: --set-header and --remove-header apply to --action=header, not block"},
      {{"http", "--mark=1", "--action=block", "--query=novalue"}, "http: --query=novalue: expected KEY=VALUE"},
      {{"http", "--mark=1", "--action=block", "--source=example.com"}, "http: --source=example.com: expected an IPv4 or IPv6 address with an optional /LEN"},
      {{"http", "--mark=1", "--action=block", "--upstream=::1:80"}, "http: --upstream must be ADDR:PORT or [ADDR6]:PORT with a port 1..65535 (got '::1:80')"},
      {{"http", "--mark=1", "--action=block", "--upstream=127.0.0.1:0"}, "http: --upstream must be ADDR:PORT or [ADDR6]:PORT with a port 1..65535 (got '127.0.0.1:0')"},
      {{"http", "--mark=1", "--action=block", "--grace-ms=600001"}, "http: --grace-ms must be 0..600000 (got 600001)"},
      {{"http", "--mark=1", "--action=block", "--idle-timeout-ms=10"}, "http: --idle-timeout-ms must be 1000..86400000 (got 10)"},
      {{"http", "--mark=1", "--action=block", "--port=65536"}, "http: --port=65536: not a non-negative integer"},
      {{"pids"}, "pids: --tasks must be 1..4194304 (got 0)"},
      {{"pids", "--tasks=x"}, "pids: --tasks=x: not an integer"},
      {{"pids", "--tasks=1", "--workers=2"}, "pids: '--workers=2' is not an option of pids"},
      {{"probe-qdisc"}, "probe-qdisc: probe-qdisc takes exactly one <kind>"},
      {{"probe-qdisc", "netem", "tbf"}, "probe-qdisc: probe-qdisc takes exactly one <kind>"},
      {{"probe-qdisc", "Netem"}, "probe-qdisc: probe-qdisc <kind>: 'Netem' must be a qdisc kind (a-z and _)"},
      {{"probe-qdisc", "netem", "--tag=x"}, "probe-qdisc: '--tag=x' is not an option of probe-qdisc"},
      {{"probe-nfqueue", "x"}, "probe-nfqueue: probe-nfqueue takes no argument"},
  };
  for (const Refusal& refusal : refusals) {
    const ParsedCommandLine parsed = Parse(refusal.argv);
    EXPECT_EQ(parsed.error, refusal.error) << refusal.argv[0] << " " << (refusal.argv.size() > 1 ? refusal.argv[1] : "");
  }
}

TEST(StressorCommandLine, UsageTextComesFromTheTable) {
  const std::string usage = UsageText();
  EXPECT_NE(usage.find("  faultd-stressor cpu --workers=N --load-pct=P"), std::string::npos) << usage;
  EXPECT_NE(usage.find("  faultd-stressor probe-qdisc <kind>\n"), std::string::npos) << usage;
  EXPECT_NE(usage.find("  faultd-stressor probe-nfqueue\n"), std::string::npos) << usage;
  EXPECT_EQ(ModeUsage(kPidsMode), "faultd-stressor pids --tasks=N");
  EXPECT_EQ(ModeUsage(kMemoryMode), "faultd-stressor memory --workers=N --bytes-per-worker=B [--lock] [--ramp-up-ms=T]");
}

}  // namespace
}  // namespace faultd::stressor
