// Copyright netman authors.
#include "netman/net/idle_wheel.h"

#include <vector>

#include "gtest/gtest.h"

namespace netman {
namespace {

const absl::Time kStart = absl::UnixEpoch() + absl::Hours(1);

struct Item : IdleWheel::Entry {
  explicit Item(int id) : id(id) {}
  int id;
};

class IdleWheelTest : public ::testing::Test {
 protected:
  // Advances to `t` seconds after start; returns the ids expired.
  std::vector<int> At(double t, bool busy = false) {
    std::vector<int> expired;
    wheel_.Advance(kStart + absl::Seconds(t), [&](IdleWheel::Entry* e) {
      if (busy) return false;
      expired.push_back(static_cast<Item*>(e)->id);
      return true;
    });
    return expired;
  }
  IdleWheel wheel_{absl::Seconds(3), absl::Seconds(1), kStart};
};

TEST_F(IdleWheelTest, ExpiresAfterIdleTimeNotBefore) {
  Item a(1);
  wheel_.Add(&a, kStart);
  EXPECT_TRUE(At(1).empty());
  EXPECT_TRUE(At(2.9).empty());
  EXPECT_EQ(At(3), std::vector<int>{1});
  EXPECT_FALSE(a.in_wheel());
  EXPECT_TRUE(At(10).empty());  // only once
}

TEST_F(IdleWheelTest, TouchPostponesExpiry) {
  Item a(1);
  wheel_.Add(&a, kStart);
  for (int t = 1; t <= 20; ++t) {
    a.Touch(kStart + absl::Seconds(t));  // active every second
    EXPECT_TRUE(At(t).empty()) << t;
  }
  EXPECT_TRUE(At(22.5).empty());
  EXPECT_EQ(At(23), std::vector<int>{1});
}

TEST_F(IdleWheelTest, ExpiryIsLateByAtMostOneTick) {
  Item a(1);
  wheel_.Add(&a, kStart + absl::Milliseconds(100));  // deadline 3.1 s
  EXPECT_TRUE(At(3.05).empty());
  EXPECT_EQ(At(4), std::vector<int>{1});
}

TEST_F(IdleWheelTest, UnlinkedEntriesAreForgotten) {
  auto a = std::make_unique<Item>(1);
  Item b(2);
  wheel_.Add(a.get(), kStart);
  wheel_.Add(&b, kStart);
  a.reset();  // destructor unlinks (a closed connection)
  EXPECT_EQ(At(3), std::vector<int>{2});
}

TEST_F(IdleWheelTest, BusyEntriesStay) {
  Item a(1);
  wheel_.Add(&a, kStart);
  EXPECT_TRUE(At(3, /*busy=*/true).empty());
  EXPECT_TRUE(a.in_wheel());
  EXPECT_TRUE(At(5).empty());  // counted as active at 3
  EXPECT_EQ(At(6), std::vector<int>{1});
}

TEST_F(IdleWheelTest, LongPauseExpiresEverythingOnce) {
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 100; ++i) {
    items.push_back(std::make_unique<Item>(i));
    wheel_.Add(items.back().get(), kStart + absl::Milliseconds(i * 37));
  }
  EXPECT_EQ(At(1000).size(), 100u);
  EXPECT_TRUE(At(2000).empty());
}

TEST_F(IdleWheelTest, ManyActiveEntriesNeverExpire) {
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 10000; ++i) {
    items.push_back(std::make_unique<Item>(i));
    wheel_.Add(items.back().get(), kStart);
  }
  size_t visits = 0;
  for (int t = 1; t <= 30; ++t) {
    for (auto& item : items) item->Touch(kStart + absl::Seconds(t));
    wheel_.Advance(kStart + absl::Seconds(t), [&](IdleWheel::Entry*) {
      ++visits;
      return true;
    });
  }
  EXPECT_EQ(visits, 0u);
  for (auto& item : items) EXPECT_TRUE(item->in_wheel());
}

TEST_F(IdleWheelTest, CallbackMayUnlinkOtherEntriesInTheSameBucket) {
  Item a(1), b(2), c(3);
  wheel_.Add(&a, kStart);
  wheel_.Add(&b, kStart);
  wheel_.Add(&c, kStart);
  std::vector<int> expired;
  wheel_.Advance(kStart + absl::Seconds(3), [&](IdleWheel::Entry* e) {
    expired.push_back(static_cast<Item*>(e)->id);
    b.Unlink();  // e.g. closing a related connection
    return true;
  });
  EXPECT_EQ(expired, (std::vector<int>{1, 3}));
}

// Handshake timeouts: the deadline counts from Add(), and activity (bytes of
// a handshake trickling in) does not postpone it.
TEST(IdleWheelSinceAddedTest, TouchDoesNotPostponeExpiry) {
  IdleWheel wheel(absl::Seconds(3), absl::Seconds(1), kStart, IdleWheel::Expiry::kSinceAdded);
  Item a(1);
  Item b(2);
  EXPECT_TRUE(wheel.empty());
  wheel.Add(&a, kStart);
  wheel.Add(&b, kStart + absl::Seconds(1));
  EXPECT_FALSE(wheel.empty());
  std::vector<int> expired;
  auto at = [&](double t) {
    expired.clear();
    a.Touch(kStart + absl::Seconds(t));  // active all the time
    b.Touch(kStart + absl::Seconds(t));
    wheel.Advance(kStart + absl::Seconds(t), [&](IdleWheel::Entry* e) {
      expired.push_back(static_cast<Item*>(e)->id);
      return true;
    });
    return expired;
  };
  EXPECT_TRUE(at(2.9).empty());
  EXPECT_EQ(at(3), std::vector<int>{1});
  EXPECT_TRUE(at(3.9).empty());
  EXPECT_EQ(at(4), std::vector<int>{2});
  EXPECT_TRUE(wheel.empty());
}

// A handshake wheel stops being advanced while it is empty. An entry added
// after such a pause must still get its whole timeout, not expire at the
// next Advance() because its bucket is one the wheel had not visited yet.
TEST(IdleWheelSinceAddedTest, AnEntryAddedAfterAPauseGetsItsWholeTimeout) {
  const absl::Duration tick = absl::Milliseconds(1250);
  IdleWheel wheel(absl::Seconds(10), tick, kStart, IdleWheel::Expiry::kSinceAdded);
  std::vector<int> expired;
  auto advance = [&](absl::Time now) {
    expired.clear();
    wheel.Advance(now, [&](IdleWheel::Entry* e) {
      expired.push_back(static_cast<Item*>(e)->id);
      return true;
    });
    return expired;
  };
  Item a(1);
  wheel.Add(&a, kStart);
  a.Unlink();  // handshake done
  EXPECT_TRUE(advance(kStart + tick).empty());  // empty: the owner stops advancing
  for (const absl::Duration pause : {absl::Seconds(5), absl::Seconds(40)}) {
    SCOPED_TRACE(absl::FormatDuration(pause));
    Item b(2);
    const absl::Time added = kStart + tick + pause;
    wheel.Add(&b, added);
    for (absl::Time t = added + tick; t < added + absl::Seconds(10); t += tick) {
      EXPECT_TRUE(advance(t).empty()) << absl::FormatDuration(t - added);
    }
    EXPECT_EQ(advance(added + absl::Seconds(10) + tick), std::vector<int>{2});
    EXPECT_TRUE(wheel.empty());
  }
}

TEST(IdleWheelSinceAddedTest, UnlinkedEntryLeavesTheWheelEmpty) {
  IdleWheel wheel(absl::Seconds(3), absl::Seconds(1), kStart, IdleWheel::Expiry::kSinceAdded);
  Item a(1);
  wheel.Add(&a, kStart);
  a.Unlink();  // e.g. the handshake finished
  EXPECT_TRUE(wheel.empty());
}

}  // namespace
}  // namespace netman
