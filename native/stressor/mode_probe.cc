// SPDX-License-Identifier: Apache-2.0
// The feature probe modes (host/features.ts runs them): each tries, in a private throwaway
// network namespace (needs CAP_SYS_ADMIN) so the host's own interfaces are never touched,
// what a fault would do, prints one line {"supported":bool,...} and exits 0 when the probe
// itself ran.
//   faultd-stressor probe-qdisc <kind>   can this kernel create a <kind> qdisc?
//   faultd-stressor probe-nfqueue        nf_tables queue rule + a bound queue
//   faultd-stressor probe-nat-redirect   nf_tables nat chain with a mark match and `redirect to :PORT`
//   faultd-stressor probe-ifb            an IFB device and an ingress qdisc (what ingress faults use)
//   faultd-stressor probe-xtables [nfqueue]
//                                        x_tables (iptables-legacy) chains in filter, IPv4 and IPv6,
//                                        with a statistic match; with `nfqueue`, a mangle prerouting
//                                        NFQUEUE rule in both families and a bound queue
#include <netinet/in.h>
#include <sched.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../core/netlink/link.h"
#include "../core/netlink/qdisc.h"
#include "../core/psched.h"
#include "../core/xtables/ipt_socket.h"
#include "../injectors/nfqueue_delayer.h"
#include "../injectors/nft_rules.h"
#include "../injectors/tc_netem.h"
#include "../injectors/tc_tbf.h"
#include "events.h"
#include "mode.h"

namespace faultd::stressor {
namespace {

void PrintProbeFailure(const core::SysError& error) {
  std::printf("{\"supported\":false,\"probe\":\"%s\",\"errno\":%d,\"message\":\"%s\",\"detail\":\"%s\"}\n", error.syscall, error.err,
              std::strerror(error.err), JsonEscape(error.detail).c_str());
}

// False (with the verdict printed) when the throwaway namespace cannot be made.
bool EnterThrowawayNetns() {
  if (unshare(CLONE_NEWNET) == 0) return true;
  std::printf("{\"supported\":false,\"probe\":\"unshare\",\"errno\":%d,\"message\":\"%s\"}\n", errno, std::strerror(errno));
  return false;
}

struct QdiscProbeOptions : ModeOptions {
  std::string kind;
  int positionals = 0;
};

std::string ParseQdisc(const Arg& arg, QdiscProbeOptions& o) {
  if (!arg.positional()) return NotAnOption("probe-qdisc", arg);
  if (++o.positionals == 1) o.kind = arg.text;
  return {};
}

std::string ValidateQdisc(const QdiscProbeOptions& o) {
  if (o.positionals != 1) return "probe-qdisc takes exactly one <kind>";
  if (o.kind.empty() || o.kind.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos) {
    return Cat({"probe-qdisc <kind>: '", o.kind, "' must be a qdisc kind (a-z and _)"});
  }
  return {};
}

int RunQdisc(const QdiscProbeOptions& o, const sigset_t&) {
  if (!EnterThrowawayNetns()) return kExitFailed;
  const auto psched = core::ReadPsched();
  if (!psched.ok()) return EmitError(psched.error()), kExitFailed;
  core::Result<std::vector<uint8_t>> options = std::vector<uint8_t>{};
  if (o.kind == "netem") options = inj::EncodeNetemOptions(inj::NetemSpec{}, psched.value());
  if (o.kind == "tbf") options = inj::EncodeTbfOptions({125000, 32768, 65536, 0}, psched.value());
  if (!options.ok()) return EmitError(options.error()), kExitFailed;
  const auto lo = core::nl::InterfaceIndex("lo");
  if (!lo.ok()) return EmitError(lo.error()), kExitFailed;
  const auto added = core::nl::ReplaceQdisc(lo.value(), 0xffffffffU, 0x10000U, o.kind, options.value(), false);
  if (added.ok()) {
    std::printf("{\"supported\":true}\n");
  } else {
    PrintProbeFailure(added.error());
  }
  return kExitStopped;
}

struct NfqueueProbeOptions : ModeOptions {};

std::string ParseNfqueue(const Arg&, NfqueueProbeOptions&) { return "probe-nfqueue takes no argument"; }

std::string ValidateNfqueue(const NfqueueProbeOptions&) { return {}; }

// What the NFQUEUE delayer needs: an nf_tables chain with the xt NFQUEUE target (nf_tables,
// nft_compat, xt_NFQUEUE) and a bound queue (nfnetlink_queue).
int RunNfqueue(const NfqueueProbeOptions&, const sigset_t&) {
  if (!EnterThrowawayNetns()) return kExitFailed;
  inj::NftChainSpec chain;
  chain.chain = "probe";
  chain.hook = inj::NftHook::kPrerouting;
  inj::NftRule rule;
  rule.verdict = inj::NftVerdict::kQueue;
  rule.queue_num = 1;
  chain.rules.push_back(rule);
  if (const auto added = inj::AddNftChain(chain); !added.ok()) return PrintProbeFailure(added.error()), kExitStopped;
  if (const auto bound = inj::NfqueueDelayer::Bind(1, 16); !bound.ok()) return PrintProbeFailure(bound.error()), kExitStopped;
  std::printf("{\"supported\":true}\n");
  return kExitStopped;
}

struct NatProbeOptions : ModeOptions {};

std::string ParseNat(const Arg&, NatProbeOptions&) { return "probe-nat-redirect takes no argument"; }

std::string ValidateNat(const NatProbeOptions&) { return {}; }

// What the DNS interceptor's redirect needs: an nf_tables nat chain on the output hook (nf_nat,
// nft_chain_nat) with a mark match and `redirect to :PORT` (nft_redir).
int RunNat(const NatProbeOptions&, const sigset_t&) {
  if (!EnterThrowawayNetns()) return kExitFailed;
  inj::NftChainSpec chain;
  chain.chain = "probe";
  chain.type = inj::NftChainType::kNat;
  chain.hook = inj::NftHook::kOutput;
  chain.priority = -100;
  inj::NftRule spare;
  spare.match.mark = 1;
  spare.verdict = inj::NftVerdict::kAccept;
  inj::NftRule redirect;
  redirect.match.l4proto = IPPROTO_UDP;
  redirect.match.port = 53;
  redirect.verdict = inj::NftVerdict::kRedirect;
  redirect.redirect_port = 5353;
  chain.rules = {spare, redirect};
  if (const auto added = inj::AddNftChain(chain); !added.ok()) return PrintProbeFailure(added.error()), kExitStopped;
  std::printf("{\"supported\":true}\n");
  return kExitStopped;
}

struct IfbProbeOptions : ModeOptions {};

std::string ParseIfb(const Arg&, IfbProbeOptions&) { return "probe-ifb takes no argument"; }

std::string ValidateIfb(const IfbProbeOptions&) { return {}; }

// What an ingress fault needs besides its qdisc: an IFB device (ifb.ko; `ip link add … type ifb`)
// and an ingress qdisc on the interface (sch_ingress). The namespace goes with the process.
int RunIfb(const IfbProbeOptions&, const sigset_t&) {
  if (!EnterThrowawayNetns()) return kExitFailed;
  if (const auto added = core::nl::AddLink("faultd-probe", "ifb"); !added.ok()) return PrintProbeFailure(added.error()), kExitStopped;
  const auto lo = core::nl::InterfaceIndex("lo");
  if (!lo.ok()) return EmitError(lo.error()), kExitFailed;
  constexpr uint32_t kIngressParent = 0xfffffff1U;  // TC_H_INGRESS
  constexpr uint32_t kIngressHandle = 0xffff0000U;
  const auto ingress = core::nl::ReplaceQdisc(lo.value(), kIngressParent, kIngressHandle, "ingress", {}, false);
  if (!ingress.ok()) return PrintProbeFailure(ingress.error()), kExitStopped;
  std::printf("{\"supported\":true}\n");
  return kExitStopped;
}

struct XtablesProbeOptions : ModeOptions {
  bool nfqueue = false;
  int positionals = 0;
};

std::string ParseXtables(const Arg& arg, XtablesProbeOptions& o) {
  if (!arg.positional()) return NotAnOption("probe-xtables", arg);
  ++o.positionals;
  o.nfqueue = arg.text == "nfqueue";
  return o.nfqueue ? "" : Cat({"'", arg.text, "' is not nfqueue"});
}

std::string ValidateXtables(const XtablesProbeOptions& o) { return o.positionals > 1 ? "probe-xtables takes at most one argument (nfqueue)" : ""; }

// What the x_tables backend does for a partition or a loss (a chain in filter, jumped to from
// input and output, with a statistic match) or, with `nfqueue`, for the delayer (a mangle
// prerouting chain with the NFQUEUE target and a bound queue), in both families. The kernel
// brings each table up in the new namespace on first use (ENOENT: no ip_tables / ip6_tables,
// or no such table; ENOENT/EINVAL from SET_REPLACE: no statistic or NFQUEUE extension).
int RunXtables(const XtablesProbeOptions& o, const sigset_t&) {
  if (!EnterThrowawayNetns()) return kExitFailed;
  for (const auto family : {core::xt::Family::kIpv4, core::xt::Family::kIpv6}) {
    core::xt::ChainSpec chain;
    chain.chain = "FAULTD-probe";
    core::xt::Rule rule;
    if (o.nfqueue) {
      chain.hooks = {core::xt::kHookPrerouting};
      rule.queue_num = 1;
    } else {
      chain.hooks = {core::xt::kHookInput, core::xt::kHookOutput};
      rule.percent = 50;
    }
    chain.rules.push_back(rule);
    const auto added = core::xt::AddChainToKernel(family, o.nfqueue ? "mangle" : "filter", chain);
    if (!added.ok()) return PrintProbeFailure(added.error()), kExitStopped;
  }
  if (o.nfqueue) {
    if (const auto bound = inj::NfqueueDelayer::Bind(1, 16); !bound.ok()) return PrintProbeFailure(bound.error()), kExitStopped;
  }
  std::printf("{\"supported\":true}\n");
  return kExitStopped;
}

}  // namespace

constinit const ModeInfo kProbeQdiscMode =
    DefineMode<QdiscProbeOptions, ParseQdisc, ValidateQdisc, RunQdisc>("probe-qdisc", "<kind>", Lifecycle::kProbe);
constinit const ModeInfo kProbeNfqueueMode =
    DefineMode<NfqueueProbeOptions, ParseNfqueue, ValidateNfqueue, RunNfqueue>("probe-nfqueue", "", Lifecycle::kProbe);
constinit const ModeInfo kProbeNatMode = DefineMode<NatProbeOptions, ParseNat, ValidateNat, RunNat>("probe-nat-redirect", "", Lifecycle::kProbe);
constinit const ModeInfo kProbeIfbMode = DefineMode<IfbProbeOptions, ParseIfb, ValidateIfb, RunIfb>("probe-ifb", "", Lifecycle::kProbe);
constinit const ModeInfo kProbeXtablesMode =
    DefineMode<XtablesProbeOptions, ParseXtables, ValidateXtables, RunXtables>("probe-xtables", "[nfqueue]", Lifecycle::kProbe);

}  // namespace faultd::stressor
