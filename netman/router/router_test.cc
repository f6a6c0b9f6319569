// Copyright netman authors.
#include "netman/router/router.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace netman {
namespace {

// Dispatch needs a Connection only to hand it on; this one is never started.
class RouterTest : public ::testing::Test {
 protected:
  bool Dispatch(const Router& router, uint32_t id, std::string_view body = "") {
    Message m{id, body};
    Request r(connection_, m);
    return router.Dispatch(r);
  }
  Connection connection_{nullptr, UniqueFd(), 1, SocketAddress(), nullptr};
  std::vector<std::string> trace_;

  Middleware Tracing(std::string name) {
    return [this, name](Request& r, const Next& next) {
      trace_.push_back(name + ">");
      next();
      trace_.push_back("<" + name);
    };
  }
  Handler TracingHandler(std::string name) {
    return [this, name](Request&) { trace_.push_back(name); };
  }
};

TEST_F(RouterTest, FindsDenseAndSparseIds) {
  Router router;
  ASSERT_TRUE(router.AddRouter(0, TracingHandler("zero")).ok());
  ASSERT_TRUE(router.AddRouter(7, TracingHandler("seven")).ok());
  ASSERT_TRUE(router.AddRouter(0xdeadbeef, TracingHandler("big")).ok());
  EXPECT_EQ(router.size(), 3u);
  EXPECT_NE(router.Find(0), nullptr);
  EXPECT_EQ(router.Find(1), nullptr);
  EXPECT_EQ(router.Find(5000), nullptr);
  EXPECT_EQ(router.Find(Router::kDenseIds), nullptr);
  EXPECT_TRUE(Dispatch(router, 7));
  EXPECT_TRUE(Dispatch(router, 0xdeadbeef));
  EXPECT_FALSE(Dispatch(router, 8));
  EXPECT_EQ(trace_, (std::vector<std::string>{"seven", "big"}));
}

TEST_F(RouterTest, DuplicateRouteIsAnErrorAcrossGroups) {
  Router router;
  ASSERT_TRUE(router.AddRouter(3, TracingHandler("a")).ok());
  EXPECT_EQ(router.AddRouter(3, TracingHandler("b")).code(),
            absl::StatusCode::kAlreadyExists);
  RouteGroup& g = router.Group();
  EXPECT_EQ(g.AddRouter(3, TracingHandler("c")).code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(g.AddRouter(100000, TracingHandler("d")).ok());
  EXPECT_EQ(router.AddRouter(100000, TracingHandler("e")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(router.size(), 2u);
  Dispatch(router, 3);
  EXPECT_EQ(trace_, std::vector<std::string>{"a"});  // not overridden
}

TEST_F(RouterTest, EmptyHandlerIsRejected) {
  Router router;
  EXPECT_EQ(router.AddRouter(1, Handler()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Find(1), nullptr);
}

TEST_F(RouterTest, MiddlewareOrderGlobalThenGroupThenHandler) {
  Router router;
  ASSERT_TRUE(router.Use(Tracing("g1")).ok());
  ASSERT_TRUE(router.Use(Tracing("g2")).ok());
  RouteGroup& group = router.Group({Tracing("a1"), Tracing("a2")});
  ASSERT_TRUE(group.Use(Tracing("a3")).ok());
  ASSERT_TRUE(group.AddRouter(1, TracingHandler("H1")).ok());
  ASSERT_TRUE(router.AddRouter(2, TracingHandler("H2")).ok());
  Dispatch(router, 1);
  EXPECT_EQ(trace_, (std::vector<std::string>{"g1>", "g2>", "a1>", "a2>", "a3>",
                                              "H1", "<a3", "<a2", "<a1", "<g2",
                                              "<g1"}));
  trace_.clear();
  Dispatch(router, 2);  // not in the group: global middleware only
  EXPECT_EQ(trace_, (std::vector<std::string>{"g1>", "g2>", "H2", "<g2", "<g1"}));
}

TEST_F(RouterTest, MiddlewareCanEndTheChain) {
  Router router;
  ASSERT_TRUE(router.Use(Tracing("outer")).ok());
  ASSERT_TRUE(router.Use([this](Request& r, const Next& next) {
    trace_.push_back("deny");
    if (r.body() == "let me in") next();
  }).ok());
  ASSERT_TRUE(router.Use(Tracing("inner")).ok());
  ASSERT_TRUE(router.AddRouter(1, TracingHandler("H")).ok());
  EXPECT_TRUE(Dispatch(router, 1, "nope"));
  EXPECT_EQ(trace_, (std::vector<std::string>{"outer>", "deny", "<outer"}));
  trace_.clear();
  Dispatch(router, 1, "let me in");
  EXPECT_EQ(trace_, (std::vector<std::string>{"outer>", "deny", "inner>", "H",
                                              "<inner", "<outer"}));
}

TEST_F(RouterTest, RequestValuesFlowFromMiddlewareToHandler) {
  Router router;
  ASSERT_TRUE(router.Use([](Request& r, const Next& next) {
    r.Set<std::string>("user", "ada");
    r.Set<int>("attempt", 1);
    r.Set<int>("attempt", 2);  // replaces
    next();
  }).ok());
  std::string seen_user;
  int seen_attempt = 0;
  bool wrong_type_is_null = false, missing_is_null = false;
  ASSERT_TRUE(router.AddRouter(5, [&](Request& r) {
    seen_user = *r.Get<std::string>("user");
    seen_attempt = *r.Get<int>("attempt");
    wrong_type_is_null = r.Get<double>("attempt") == nullptr;
    missing_is_null = r.Get<int>("nothing") == nullptr && !r.Has("nothing");
  }).ok());
  Dispatch(router, 5);
  EXPECT_EQ(seen_user, "ada");
  EXPECT_EQ(seen_attempt, 2);
  EXPECT_TRUE(wrong_type_is_null);
  EXPECT_TRUE(missing_is_null);
}

TEST_F(RouterTest, NotFoundHandlerRunsThroughGlobalMiddleware) {
  Router router;
  ASSERT_TRUE(router.Use(Tracing("g")).ok());
  EXPECT_FALSE(Dispatch(router, 9));
  EXPECT_TRUE(trace_.empty());
  ASSERT_TRUE(router.SetNotFoundHandler(TracingHandler("404")).ok());
  EXPECT_TRUE(Dispatch(router, 9));
  EXPECT_EQ(trace_, (std::vector<std::string>{"g>", "404", "<g"}));
}

TEST_F(RouterTest, EmptyMiddlewareIsRejected) {
  Router router;
  EXPECT_EQ(router.Use(Middleware()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Group().Use(Middleware()).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(router.AddRouter(1, TracingHandler("H")).ok());
  EXPECT_TRUE(Dispatch(router, 1));  // nothing empty was kept in the chain
  EXPECT_EQ(trace_, std::vector<std::string>{"H"});
}

// Every registration path fails once frozen, and changes nothing.
TEST_F(RouterTest, EveryRegistrationAfterFreezeFailsAndChangesNothing) {
  Router router;
  RouteGroup& early = router.Group({Tracing("early")});
  ASSERT_TRUE(early.AddRouter(1, TracingHandler("H1")).ok());
  EXPECT_FALSE(router.frozen());
  router.Freeze();
  router.Freeze();  // idempotent
  EXPECT_TRUE(router.frozen());

  constexpr absl::StatusCode kFrozen = absl::StatusCode::kFailedPrecondition;
  EXPECT_EQ(router.AddRouter(2, TracingHandler("H2")).code(), kFrozen);
  EXPECT_EQ(router.Use(Tracing("late")).code(), kFrozen);
  EXPECT_EQ(router.SetNotFoundHandler(TracingHandler("404")).code(), kFrozen);
  EXPECT_EQ(early.AddRouter(3, TracingHandler("H3")).code(), kFrozen);
  EXPECT_EQ(early.Use(Tracing("late-group")).code(), kFrozen);
  RouteGroup& late = router.Group({Tracing("late-group")});
  EXPECT_EQ(late.AddRouter(4, TracingHandler("H4")).code(), kFrozen);
  EXPECT_EQ(late.Use(Tracing("late-group")).code(), kFrozen);

  EXPECT_EQ(router.size(), 1u);
  EXPECT_FALSE(router.has_not_found_handler());
  for (uint32_t id : {2u, 3u, 4u}) EXPECT_FALSE(Dispatch(router, id)) << id;
  EXPECT_TRUE(Dispatch(router, 1));
  EXPECT_EQ(trace_, (std::vector<std::string>{"early>", "H1", "<early"}));
}

}  // namespace
}  // namespace netman
