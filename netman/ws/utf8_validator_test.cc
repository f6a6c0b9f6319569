// Copyright netman authors.
#include "netman/ws/utf8_validator.h"

#include <string>

#include "gtest/gtest.h"

namespace netman::ws {
namespace {

TEST(Utf8ValidatorTest, AcceptsValidText) {
  EXPECT_TRUE(Utf8Validator::IsValid(""));
  EXPECT_TRUE(Utf8Validator::IsValid("hello, world: plain ASCII longer than eight"));
  EXPECT_TRUE(Utf8Validator::IsValid("κόσμε"));
  EXPECT_TRUE(Utf8Validator::IsValid("\xf0\x9f\x98\x80"));        // U+1F600
  EXPECT_TRUE(Utf8Validator::IsValid("\xf4\x8f\xbf\xbf"));        // U+10FFFF
  EXPECT_TRUE(Utf8Validator::IsValid("\xed\x9f\xbf"));            // U+D7FF
  EXPECT_TRUE(Utf8Validator::IsValid("\xee\x80\x80"));            // U+E000
  EXPECT_TRUE(Utf8Validator::IsValid("\xef\xbf\xbf"));            // U+FFFF
}

TEST(Utf8ValidatorTest, RejectsInvalidText) {
  EXPECT_FALSE(Utf8Validator::IsValid("\x80"));                   // lone continuation
  EXPECT_FALSE(Utf8Validator::IsValid("\xc0\xaf"));               // overlong
  EXPECT_FALSE(Utf8Validator::IsValid("\xe0\x80\xaf"));           // overlong
  EXPECT_FALSE(Utf8Validator::IsValid("\xf0\x80\x80\xaf"));       // overlong
  EXPECT_FALSE(Utf8Validator::IsValid("\xed\xa0\x80"));           // surrogate U+D800
  EXPECT_FALSE(Utf8Validator::IsValid("\xf4\x90\x80\x80"));       // above U+10FFFF
  EXPECT_FALSE(Utf8Validator::IsValid("\xf5\x80\x80\x80"));
  EXPECT_FALSE(Utf8Validator::IsValid("\xff"));
  EXPECT_FALSE(Utf8Validator::IsValid("\xce"));                   // truncated
  EXPECT_FALSE(Utf8Validator::IsValid("abc\xce\xbaxyz\xe0"));
}

TEST(Utf8ValidatorTest, SplitAnywhereGivesTheSameAnswer) {
  const std::string texts[] = {"κόσμε and \xf0\x9f\x98\x80 ok", "bad \xed\xa0\x80 here",
                               "ends mid \xf0\x9f\x98"};
  for (const std::string& text : texts) {
    const bool whole = Utf8Validator::IsValid(text);
    for (size_t a = 0; a <= text.size(); ++a) {
      for (size_t b = a; b <= text.size(); ++b) {
        Utf8Validator v;
        const bool ok = v.Feed(text.substr(0, a)) && v.Feed(text.substr(a, b - a)) &&
                        v.Feed(text.substr(b)) && v.complete();
        EXPECT_EQ(ok, whole) << text << " split at " << a << "," << b;
      }
    }
  }
}

TEST(Utf8ValidatorTest, FailsAsSoonAsTheBadByteArrives) {
  Utf8Validator v;
  EXPECT_TRUE(v.Feed("ok \xf0\x9f"));
  EXPECT_FALSE(v.Feed("\x28"));  // not a continuation byte
  EXPECT_TRUE(v.failed());
  EXPECT_FALSE(v.Feed("anything"));
}

}  // namespace
}  // namespace netman::ws
