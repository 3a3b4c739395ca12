// SPDX-License-Identifier: Apache-2.0
#include "tc_tbf.h"

#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cerrno>

#include "../core/netlink/attr.h"

namespace faultd::inj {
namespace {

constexpr uint32_t kDefaultMtu = 2047;  // iproute2 tc_calc_rtable's default
constexpr size_t kRtabEntries = 256;

// iproute2 tc_calc_rtable for an Ethernet link layer, mpu 0, automatic cell_log.
std::array<uint32_t, kRtabEntries> RateTable(tc_ratespec* rate, const core::Psched& psched) noexcept {
  int cell_log = 0;
  while ((kDefaultMtu >> cell_log) > 255) ++cell_log;
  std::array<uint32_t, kRtabEntries> rtab{};
  for (size_t i = 0; i < kRtabEntries; ++i) {
    rtab[i] = core::XmitTimeTicks(psched, rate->rate, static_cast<uint32_t>((i + 1) << cell_log));
  }
  rate->cell_align = -1;
  rate->cell_log = static_cast<unsigned char>(cell_log);
  rate->linklayer = TC_LINKLAYER_ETHERNET & TC_LINKLAYER_MASK;
  return rtab;
}

}  // namespace

core::Result<std::vector<uint8_t>> EncodeTbfOptions(const TbfSpec& spec, const core::Psched& psched) noexcept {
  if (spec.rate_bytes_per_sec == 0 || spec.burst_bytes == 0 || (spec.limit_bytes == 0 && spec.latency_us == 0)) {
    return core::SysError{EINVAL, "tbf", "rate, burst and limit or latency are required"};
  }
  tc_tbf_qopt opt{};
  const bool rate_is_64 = spec.rate_bytes_per_sec >= (1ULL << 32);
  opt.rate.rate = rate_is_64 ? ~0U : static_cast<uint32_t>(spec.rate_bytes_per_sec);
  opt.limit = spec.limit_bytes;
  if (opt.limit == 0) {
    const double limit = static_cast<double>(spec.rate_bytes_per_sec) * static_cast<double>(spec.latency_us) / 1'000'000 +
                         spec.burst_bytes;
    opt.limit = limit >= 4294967295.0 ? UINT32_MAX : static_cast<uint32_t>(limit);
  }
  const auto rtab = RateTable(&opt.rate, psched);
  opt.buffer = core::XmitTimeTicks(psched, opt.rate.rate, spec.burst_bytes);

  core::nl::AttrWriter w(4096);
  const size_t options = w.NestBegin(TCA_OPTIONS);
  w.PutStruct(TCA_TBF_PARMS, opt);
  w.PutU32(TCA_TBF_BURST, spec.burst_bytes);
  if (rate_is_64) w.PutU64(TCA_TBF_RATE64, spec.rate_bytes_per_sec);
  w.Put(TCA_TBF_RTAB, rtab.data(), sizeof(rtab));
  w.NestEnd(options);
  if (!w.ok()) return core::SysError{EMSGSIZE, "tbf", "options too large"};
  return w.bytes();
}

}  // namespace faultd::inj
