// Copyright netman authors.
#include "netman/router/router.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace netman {
namespace {

// Dispatch needs a Connection only to hand it on; this one is never opened.
class RouterTest : public ::testing::Test {
 protected:
  bool Dispatch(const Router& router, uint32_t id, std::string_view body = "") {
    Message m{id, body};
    Request r(connection_, m);
    return router.Dispatch(r);
  }
  Connection connection_{nullptr, UniqueFd(), 1, SocketAddress(), nullptr, nullptr};
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
  router.Use(Tracing("g1")).Use(Tracing("g2"));
  RouteGroup& group = router.Group({Tracing("a1"), Tracing("a2")});
  group.Use(Tracing("a3"));
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
  router.Use(Tracing("outer"));
  router.Use([this](Request& r, const Next& next) {
    trace_.push_back("deny");
    if (r.body() == "let me in") next();
  });
  router.Use(Tracing("inner"));
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
  router.Use([](Request& r, const Next& next) {
    r.Set<std::string>("user", "ada");
    r.Set<int>("attempt", 1);
    r.Set<int>("attempt", 2);  // replaces
    next();
  });
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
  router.Use(Tracing("g"));
  EXPECT_FALSE(Dispatch(router, 9));
  EXPECT_TRUE(trace_.empty());
  router.SetNotFoundHandler(TracingHandler("404"));
  EXPECT_TRUE(Dispatch(router, 9));
  EXPECT_EQ(trace_, (std::vector<std::string>{"g>", "404", "<g"}));
}

}  // namespace
}  // namespace netman
