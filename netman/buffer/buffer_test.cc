// Copyright netman authors.
#include "netman/buffer/buffer.h"

#include <string>

#include "gtest/gtest.h"

namespace netman {
namespace {

TEST(BufferTest, EmptyBufferHoldsNoMemory) {
  Buffer b;
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.empty());
  b.Append("hello");
  EXPECT_GE(b.capacity(), Buffer::kMinCapacity);
  b.Consume(5);
  b.Release();
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(BufferTest, AppendConsumeKeepsOrder) {
  Buffer b;
  b.Append("abc");
  b.Append(std::string_view("defg"));
  EXPECT_EQ(b.readable(), "abcdefg");
  b.Consume(2);
  EXPECT_EQ(b.readable(), "cdefg");
  b.Consume(5);
  EXPECT_TRUE(b.empty());
}

TEST(BufferTest, WritableCommit) {
  Buffer b;
  char* w = b.Writable(3);
  w[0] = 'x';
  w[1] = 'y';
  EXPECT_TRUE(b.empty());  // not readable before Commit
  b.Commit(2);
  EXPECT_EQ(b.readable(), "xy");
  EXPECT_GE(b.writable_size(), 1u);
}

TEST(BufferTest, GrowsAcrossManyAppendsAndCompacts) {
  Buffer b;
  std::string expected;
  for (int i = 0; i < 10000; ++i) {
    std::string piece = std::to_string(i) + ",";
    b.Append(piece);
    expected += piece;
    if (i % 7 == 0) {  // consume a little from the front now and then
      b.Consume(1);
      expected.erase(0, 1);
    }
  }
  EXPECT_EQ(b.readable(), expected);
}

TEST(BufferTest, CompactionReusesSpaceWithoutGrowing) {
  Buffer b;
  b.Append(std::string(Buffer::kMinCapacity, 'a'));
  size_t cap = b.capacity();
  b.Consume(Buffer::kMinCapacity - 10);
  b.Append(std::string(100, 'b'));  // fits once the 10 live bytes slide left
  EXPECT_EQ(b.capacity(), cap);
  EXPECT_EQ(b.readable(), std::string(10, 'a') + std::string(100, 'b'));
}

TEST(BufferTest, MoveTransfersStorage) {
  Buffer a;
  a.Append("payload");
  Buffer b(std::move(a));
  EXPECT_EQ(b.readable(), "payload");
  EXPECT_EQ(a.capacity(), 0u);
  Buffer c;
  c = std::move(b);
  EXPECT_EQ(c.readable(), "payload");
}

TEST(BufferTest, IsOnePointerWhileReleased) {
  // Idle connections hold two Buffers: the memory-per-connection figure in
  // docs/BENCHMARKS.md depends on this.
  static_assert(sizeof(Buffer) == sizeof(void*));
  Buffer b;
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.writable_size(), 0u);
  EXPECT_EQ(b.readable(), "");
  b.Consume(0);
  b.Commit(0);
  b.Clear();
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(BufferTest, WritableAllocatesEvenForZeroBytes) {
  Buffer b;
  ASSERT_NE(b.Writable(0), nullptr);
  EXPECT_GE(b.capacity(), Buffer::kMinCapacity);
  EXPECT_TRUE(b.empty());
}

TEST(BufferTest, ClearKeepsStorageReleaseFreesIt) {
  Buffer b;
  b.Append(std::string(5000, 'x'));
  const size_t cap = b.capacity();
  EXPECT_GE(cap, 5000u);
  b.Clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), cap);
  EXPECT_EQ(b.writable_size(), cap);
  b.Append("y");
  EXPECT_EQ(b.readable(), "y");
  b.Release();
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.empty());
}

TEST(BufferTest, MoveAssignFreesWhatTheTargetHeld) {
  Buffer a;
  a.Append("first");
  Buffer b;
  b.Append("second");
  a = std::move(b);  // ASan reports a leak if "first" is not freed
  EXPECT_EQ(a.readable(), "second");
  EXPECT_EQ(b.capacity(), 0u);
  Buffer& same = a;
  a = std::move(same);  // self-move keeps the contents
  EXPECT_EQ(a.readable(), "second");
}

TEST(BufferTest, GrowingKeepsUnreadBytesAfterPartialConsume) {
  Buffer b;
  b.Append(std::string(Buffer::kMinCapacity, 'a'));
  b.Consume(10);
  // Too big to fit by sliding: grows, and the unread bytes survive.
  b.Append(std::string(4 * Buffer::kMinCapacity, 'b'));
  EXPECT_EQ(b.readable(), std::string(Buffer::kMinCapacity - 10, 'a') +
                              std::string(4 * Buffer::kMinCapacity, 'b'));
}

}  // namespace
}  // namespace netman
