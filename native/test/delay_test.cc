// SPDX-License-Identifier: Apache-2.0
// The NFQUEUE delayer's pieces that need no kernel: netem's delay sampling and the nfnetlink
// queue messages.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "../core/netlink/attr.h"
#include "../injectors/delay_sampler.h"
#include "../injectors/nfqueue_delayer.h"
#include "../injectors/tc_netem.h"

namespace faultd::inj {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int kSamples = 200'000;

struct Moments {
  double mean = 0;
  double sd = 0;
  int64_t min = INT64_MAX;
  int64_t max = INT64_MIN;
  double lag1 = 0;  // lag-1 autocorrelation
};

Moments Sample(DelaySpec spec) {
  DelaySampler sampler(std::move(spec), 42);
  std::vector<double> xs(kSamples);
  Moments m;
  for (auto& x : xs) {
    const int64_t v = sampler.Next();
    m.min = std::min(m.min, v);
    m.max = std::max(m.max, v);
    x = static_cast<double>(v);
    m.mean += x;
  }
  m.mean /= kSamples;
  double var = 0;
  double cov = 0;
  for (int i = 0; i < kSamples; ++i) {
    var += (xs[i] - m.mean) * (xs[i] - m.mean);
    if (i > 0) cov += (xs[i] - m.mean) * (xs[i - 1] - m.mean);
  }
  m.sd = std::sqrt(var / kSamples);
  m.lag1 = var > 0 ? cov / var : 0;
  return m;
}

TEST(DelaySampler, WithoutJitterEveryDelayIsTheLatency) {
  const Moments m = Sample({100 * kMs, 0, 0, {}});
  EXPECT_EQ(m.min, 100 * kMs);
  EXPECT_EQ(m.max, 100 * kMs);
}

TEST(DelaySampler, UniformJitterSpansLatencyPlusMinusJitter) {
  const Moments m = Sample({100 * kMs, 20 * kMs, 0, {}});
  EXPECT_GE(m.min, 80 * kMs);
  EXPECT_LT(m.max, 120 * kMs);
  EXPECT_NEAR(m.mean, 100.0 * kMs, 0.2 * kMs);
  EXPECT_NEAR(m.sd, 20.0 * kMs / std::sqrt(3.0), 0.2 * kMs);  // uniform: width / sqrt(12)
  EXPECT_NEAR(m.lag1, 0, 0.01);
}

TEST(DelaySampler, JitterBeyondTwoSecondsKeepsItsWholeRange) {
  // 2 * sigma in ns exceeds 2^32 here: the scaling must not overflow.
  const Moments m = Sample({10'000 * kMs, 5'000 * kMs, 0, {}});
  EXPECT_GE(m.min, 5'000 * kMs);
  EXPECT_LT(m.max, 15'000 * kMs);
  EXPECT_GT(m.max, 14'900 * kMs);
  EXPECT_NEAR(m.mean, 10'000.0 * kMs, 50.0 * kMs);
}

TEST(DelaySampler, CorrelationMakesSuccessiveDelaysAlike) {
  const Moments m = Sample({100 * kMs, 20 * kMs, 75, {}});
  EXPECT_GT(m.lag1, 0.5);
  EXPECT_NEAR(m.mean, 100.0 * kMs, 1.0 * kMs);
}

TEST(DelaySampler, NegativeDelaysAreClampedToZero) {
  // A normal table can reach about -4 sigma: with sigma = latency, some draws fall below zero.
  std::vector<int16_t> table{-4 * 8192 / 2, 0, 4 * 8192 / 2};
  const Moments m = Sample({10 * kMs, 10 * kMs, 0, table});
  EXPECT_EQ(m.min, 0);
  EXPECT_EQ(m.max, 30 * kMs);
}

TEST(DelaySampler, NormalTableGivesNormalJitter) {
  const std::string dir = "/usr/lib/x86_64-linux-gnu/tc";
  if (!std::filesystem::exists(dir + "/normal.dist")) GTEST_SKIP() << "iproute2's normal.dist is not installed";
  auto table = ReadNetemDistribution(dir, "normal");
  ASSERT_TRUE(table.ok());
  const Moments m = Sample({100 * kMs, 10 * kMs, 0, table.value()});
  EXPECT_NEAR(m.mean, 100.0 * kMs, 0.2 * kMs);
  EXPECT_NEAR(m.sd, 10.0 * kMs, 0.3 * kMs);
}

TEST(NfqueueMessages, BindAsksForMetadataOnlyFailOpenAndGso) {
  const auto bytes = EncodeQueueBind(4242, 5000, 7);
  nlmsghdr header;
  std::memcpy(&header, bytes.data(), sizeof(header));
  EXPECT_EQ(header.nlmsg_len, bytes.size());
  EXPECT_EQ(header.nlmsg_type, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG);
  EXPECT_EQ(header.nlmsg_seq, 7u);
  EXPECT_TRUE(header.nlmsg_flags & NLM_F_ACK);
  nfgenmsg gen;
  std::memcpy(&gen, bytes.data() + NLMSG_HDRLEN, sizeof(gen));
  EXPECT_EQ(ntohs(gen.res_id), 4242);
  const auto attrs = core::nl::ParseAttrs(std::span(bytes).subspan(NLMSG_HDRLEN + 4));
  const auto cmd = core::nl::FindAttr(attrs, NFQA_CFG_CMD)->As<nfqnl_msg_config_cmd>();
  EXPECT_EQ(cmd->command, NFQNL_CFG_CMD_BIND);
  const auto params = core::nl::FindAttr(attrs, NFQA_CFG_PARAMS);
  ASSERT_TRUE(params);
  ASSERT_EQ(params->payload.size(), 5u);  // packed { be32 copy_range; u8 copy_mode }
  EXPECT_EQ(params->payload[4], NFQNL_COPY_META);
  EXPECT_EQ(ntohl(*core::nl::FindAttr(attrs, NFQA_CFG_QUEUE_MAXLEN)->As<uint32_t>()), 5000u);
  const uint32_t flags = ntohl(*core::nl::FindAttr(attrs, NFQA_CFG_FLAGS)->As<uint32_t>());
  EXPECT_EQ(flags, static_cast<uint32_t>(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));
  EXPECT_EQ(ntohl(*core::nl::FindAttr(attrs, NFQA_CFG_MASK)->As<uint32_t>()), flags);
}

TEST(NfqueueMessages, VerdictsConcatenateAndPacketIdsParse) {
  std::vector<uint8_t> out;
  AppendAcceptVerdict(out, 9, 0x01020304);
  AppendAcceptVerdict(out, 9, 5);
  ASSERT_EQ(out.size() % 4, 0u);
  nlmsghdr first;
  std::memcpy(&first, out.data(), sizeof(first));
  EXPECT_EQ(first.nlmsg_type, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT);
  ASSERT_EQ(out.size(), 2 * static_cast<size_t>(first.nlmsg_len));
  const auto attrs = core::nl::ParseAttrs(std::span(out).subspan(NLMSG_HDRLEN + 4, first.nlmsg_len - NLMSG_HDRLEN - 4));
  const auto verdict = core::nl::FindAttr(attrs, NFQA_VERDICT_HDR)->As<nfqnl_msg_verdict_hdr>();
  EXPECT_EQ(ntohl(verdict->verdict), 1u);  // NF_ACCEPT
  EXPECT_EQ(ntohl(verdict->id), 0x01020304u);

  // A packet message as the kernel sends it: nfgenmsg, then NFQA_PACKET_HDR.
  core::nl::AttrWriter w(64);
  w.AppendStruct(nfgenmsg{AF_UNSPEC, NFNETLINK_V0, htons(9)});
  nfqnl_msg_packet_hdr packet{};
  packet.packet_id = htonl(77);
  w.PutStruct(NFQA_PACKET_HDR, packet);
  uint32_t id = 0;
  EXPECT_TRUE(ParsePacketId(w.bytes(), &id));
  EXPECT_EQ(id, 77u);
  EXPECT_FALSE(ParsePacketId(std::span(w.bytes()).first(4), &id));
}

}  // namespace
}  // namespace faultd::inj
