// RingBuffer (core/internal/core/ring_buffer.hpp): the FIFO behind channel buffers and,
// since it holds nothing while empty, the simulator's socket queues and the receive
// readers' queues. What those users rely on: no memory until the first push, FIFO order
// across wrap-around and growth, and nothing popped by take_front() or clear() kept alive.
#include "ringo/internal/core/ring_buffer.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

using ringo::detail::RingBuffer;

TEST(RingBuffer, HoldsNoMemoryUntilTheFirstPush) {
  RingBuffer<std::string> r;
  EXPECT_EQ(r.capacity(), 0u);
  EXPECT_TRUE(r.empty());
  r.push_back("a");
  EXPECT_EQ(r.capacity(), 8u);
}

TEST(RingBuffer, KeepsOrderAcrossWrapAndGrowth) {
  RingBuffer<int> r;
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round % 13 + 1; ++i) r.push_back(next_in++);
    ASSERT_EQ(r.back(), next_in - 1);
    for (size_t i = 0; i < r.size(); ++i) ASSERT_EQ(r[i], next_out + static_cast<int>(i));
    for (int i = 0; i < round % 7 + 1 && !r.empty(); ++i) ASSERT_EQ(r.take_front(), next_out++);
  }
  while (!r.empty()) ASSERT_EQ(r.take_front(), next_out++);
  EXPECT_EQ(next_in, next_out);
}

TEST(RingBuffer, TakeFrontAndClearKeepNothingAlive) {
  RingBuffer<std::shared_ptr<int>> r;
  auto a = std::make_shared<int>(1);
  auto b = std::make_shared<int>(2);
  auto c = std::make_shared<int>(3);
  r.push_back(a);
  r.push_back(b);
  r.push_back(c);
  EXPECT_EQ(*r.take_front(), 1);
  EXPECT_EQ(a.use_count(), 1) << "the popped slot still owns the first element";
  r.clear();
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(b.use_count(), 1) << "clear left an element owned";
  EXPECT_EQ(c.use_count(), 1) << "clear left an element owned";
  r.push_back(a);
  EXPECT_EQ(r.front(), a);
}

TEST(RingBuffer, ReserveGrowsOnceToAPowerOfTwo) {
  RingBuffer<uint16_t> r;
  r.reserve(256);
  EXPECT_EQ(r.capacity(), 256u);
  for (uint16_t i = 0; i < 256; ++i) r.push_back(i);
  EXPECT_EQ(r.capacity(), 256u) << "256 elements fit what reserve(256) made";
  r.reserve(300);
  EXPECT_EQ(r.capacity(), 512u);
  for (uint16_t i = 0; i < 256; ++i) ASSERT_EQ(r.take_front(), i);
}
