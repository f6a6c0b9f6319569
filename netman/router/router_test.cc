// Copyright netman authors.
#include "netman/router/router.h"

#include <string>

#include "gtest/gtest.h"

namespace netman {
namespace {

TEST(RouterTest, FindsDenseAndSparseIds) {
  Router router;
  int called = 0;
  ASSERT_TRUE(router.AddRouter(0, [&](Request&) { called = 1; }).ok());
  ASSERT_TRUE(router.AddRouter(7, [&](Request&) { called = 7; }).ok());
  ASSERT_TRUE(router.AddRouter(0xdeadbeef, [&](Request&) { called = 99; }).ok());
  EXPECT_EQ(router.size(), 3u);
  ASSERT_NE(router.Find(0), nullptr);
  ASSERT_NE(router.Find(7), nullptr);
  ASSERT_NE(router.Find(0xdeadbeef), nullptr);
  EXPECT_EQ(router.Find(1), nullptr);
  EXPECT_EQ(router.Find(5000), nullptr);
  EXPECT_EQ(router.Find(Router::kDenseIds), nullptr);
}

TEST(RouterTest, DuplicateRouteIsAnError) {
  Router router;
  ASSERT_TRUE(router.AddRouter(3, [](Request&) {}).ok());
  absl::Status again = router.AddRouter(3, [](Request&) {});
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(router.AddRouter(100000, [](Request&) {}).ok());
  EXPECT_EQ(router.AddRouter(100000, [](Request&) {}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(router.size(), 2u);
}

TEST(RouterTest, EmptyHandlerIsRejected) {
  Router router;
  EXPECT_EQ(router.AddRouter(1, Handler()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Find(1), nullptr);
}

}  // namespace
}  // namespace netman
