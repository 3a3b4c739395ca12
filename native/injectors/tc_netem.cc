// SPDX-License-Identifier: Apache-2.0
#include "tc_netem.h"

#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "../core/netlink/attr.h"

namespace faultd::inj {
namespace {

/// iproute2's set_percent: rint(fraction * UINT32_MAX).
uint32_t Percent(double pct) noexcept { return static_cast<uint32_t>(std::rint(pct / 100. * UINT32_MAX)); }

/// Upper bound of the table, from the kernel (NETEM_DIST_MAX entries of s16).
constexpr size_t kMaxDistEntries = NETEM_DIST_MAX;

}  // namespace

core::Result<std::vector<uint8_t>> EncodeNetemOptions(const NetemSpec& spec, const core::Psched& psched) noexcept {
  for (double pct : {spec.delay_corr_pct, spec.loss_pct, spec.loss_corr_pct, spec.duplicate_pct, spec.duplicate_corr_pct,
                     spec.corrupt_pct, spec.corrupt_corr_pct, spec.reorder_pct, spec.reorder_corr_pct}) {
    if (!(pct >= 0 && pct <= 100)) return core::SysError{EINVAL, "netem", "percentages must be 0..100"};
  }
  tc_netem_qopt opt{};
  opt.limit = spec.limit_packets;
  bool latency_fits = true;
  bool jitter_fits = true;
  opt.latency = core::UsecToTicks(psched, spec.delay_us, &latency_fits);
  opt.jitter = core::UsecToTicks(psched, spec.jitter_us, &jitter_fits);
  opt.loss = Percent(spec.loss_pct);
  opt.duplicate = Percent(spec.duplicate_pct);
  opt.gap = spec.gap;
  if (spec.reorder_pct > 0) {
    if (spec.delay_us == 0) return core::SysError{EINVAL, "netem", "reordering needs a delay"};
    if (opt.gap == 0) opt.gap = 1;
  } else if (opt.gap > 0) {
    return core::SysError{EINVAL, "netem", "gap needs a reorder percentage"};
  }
  if (!spec.distribution.empty() && (spec.delay_us == 0 || spec.jitter_us == 0)) {
    return core::SysError{EINVAL, "netem", "a distribution needs a delay and a jitter"};
  }
  if (spec.distribution.size() > kMaxDistEntries) return core::SysError{EINVAL, "netem", "distribution table too large"};

  core::nl::AttrWriter w(core::nl::Align(kMaxDistEntries * sizeof(int16_t)) + 1024);
  // Same layout as q_netem.c: TCA_OPTIONS carries the struct, the other attributes follow
  // inside it, and the length is fixed up at the end.
  const size_t options = w.size();
  w.PutStruct(TCA_OPTIONS, opt);
  // iproute2 sends TCA_NETEM_CORR whenever any correlation is given (also a reorder or corrupt
  // one, whose values travel in their own attributes); a zero triple is harmless to the kernel.
  if (spec.delay_corr_pct > 0 || spec.loss_corr_pct > 0 || spec.duplicate_corr_pct > 0 || spec.reorder_corr_pct > 0 ||
      spec.corrupt_corr_pct > 0) {
    const tc_netem_corr corr{Percent(spec.delay_corr_pct), Percent(spec.loss_corr_pct), Percent(spec.duplicate_corr_pct)};
    w.PutStruct(TCA_NETEM_CORR, corr);
  }
  if (spec.reorder_pct > 0) w.PutStruct(TCA_NETEM_REORDER, tc_netem_reorder{Percent(spec.reorder_pct), Percent(spec.reorder_corr_pct)});
  if (spec.corrupt_pct > 0) w.PutStruct(TCA_NETEM_CORRUPT, tc_netem_corrupt{Percent(spec.corrupt_pct), Percent(spec.corrupt_corr_pct)});
  if (!spec.distribution.empty()) {
    w.Put(TCA_NETEM_DELAY_DIST, spec.distribution.data(), spec.distribution.size() * sizeof(int16_t));
  }
  // Beyond 32-bit ticks (about 274 s at 15.625 ticks/µs) the kernel takes 64-bit nanoseconds.
  if (!latency_fits) w.PutU64(TCA_NETEM_LATENCY64, static_cast<uint64_t>(spec.delay_us) * 1000);
  if (!jitter_fits) w.PutU64(TCA_NETEM_JITTER64, static_cast<uint64_t>(spec.jitter_us) * 1000);
  w.NestEnd(options);
  if (!w.ok()) return core::SysError{EMSGSIZE, "netem", "options too large"};
  return w.bytes();
}

core::Result<std::vector<int16_t>> ReadNetemDistribution(const std::string& dir, const std::string& name) noexcept {
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return core::SysError{EINVAL, "netem", "bad distribution name"};
    }
  }
  const std::string path = dir + "/" + name + ".dist";
  FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) return core::ErrnoError("open", path);
  std::vector<int16_t> table;
  char* line = nullptr;
  size_t cap = 0;
  bool too_big = false;
  // Same grammar as iproute2's get_distribution: skip blank and '#' lines, strtol(…, 0) tokens.
  while (!too_big && getline(&line, &cap, file) != -1) {
    if (*line == '\n' || *line == '#') continue;
    for (char* p = line;;) {
      char* end = nullptr;
      const long x = std::strtol(p, &end, 0);
      if (end == p) break;
      if (table.size() >= kMaxDistEntries) {
        too_big = true;
        break;
      }
      table.push_back(static_cast<int16_t>(x));
      p = end;
    }
  }
  std::free(line);
  std::fclose(file);
  if (too_big) return core::SysError{EFBIG, "read", path + ": too much data"};
  if (table.empty()) return core::SysError{EINVAL, "read", path + ": no data"};
  return table;
}

}  // namespace faultd::inj
