// SPDX-License-Identifier: Apache-2.0
// DNS over TCP framing as the interceptor buffers it: whole messages in and out, split anywhere,
// and taking many small messages out of one large buffer costs linear work.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "../core/dns/tcp_stream.h"

namespace faultd::core::dns {
namespace {

TEST(DnsTcpStream, MessagesComeOutWholeHoweverTheBytesArrive) {
  ByteQueue wire;
  const std::vector<uint8_t> a = {1, 2, 3};
  const std::vector<uint8_t> b(300, 7);
  PutFrame(wire, a);
  PutFrame(wire, b);
  const std::vector<uint8_t> bytes(wire.Unread().begin(), wire.Unread().end());
  ASSERT_EQ(bytes.size(), 2 + 3 + 2 + 300U);
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[1], 3);
  ByteQueue in;
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> message;
  for (const uint8_t byte : bytes) {  // one byte at a time
    in.Append(std::span<const uint8_t>(&byte, 1));
    while (TakeFrame(in, &message)) out.push_back(message);
  }
  EXPECT_EQ(out, (std::vector<std::vector<uint8_t>>{a, b}));
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(TakeFrame(in, &message));
}

TEST(DnsTcpStream, TakingManySmallMessagesFromOneBufferIsLinear) {
  // 100000 messages of 30 bytes in one buffer (3.2 MB), as a client that pipelines them sends.
  ByteQueue in;
  const std::vector<uint8_t> query(30, 0x42);
  for (int i = 0; i < 100000; ++i) PutFrame(in, query);
  const size_t total = in.size();
  std::vector<uint8_t> message;
  size_t taken = 0;
  while (TakeFrame(in, &message)) ++taken;
  EXPECT_EQ(taken, 100000U);
  // Erasing the front per message moved ~total²/64 bytes (160 GB here); the queue moves none.
  EXPECT_LE(in.bytes_moved(), total);
  EXPECT_EQ(in.held(), 0U) << "fully consumed: the burst's memory is freed";
}

TEST(DnsTcpStream, AppendingWhileTakingKeepsWhatIsHeldBounded) {
  // A stream read in 16 KiB chunks and framed as it comes: memory held stays about one chunk
  // plus a partial message, and the bytes moved stay linear in what passed through.
  ByteQueue in;
  ByteQueue wire;
  const std::vector<uint8_t> query(45, 1);
  for (int i = 0; i < 50000; ++i) PutFrame(wire, query);
  const auto bytes = wire.Unread();
  std::vector<uint8_t> message;
  size_t most_held = 0;
  for (size_t at = 0; at < bytes.size(); at += 16384) {
    in.Append(bytes.subspan(at, std::min<size_t>(16384, bytes.size() - at)));
    most_held = std::max(most_held, in.held());
    while (TakeFrame(in, &message)) {
    }
  }
  EXPECT_LE(most_held, 4 * 16384U) << "a chunk and a partial message, in an allocation at most twice that";
  EXPECT_LE(in.bytes_moved(), bytes.size());
}

}  // namespace
}  // namespace faultd::core::dns
