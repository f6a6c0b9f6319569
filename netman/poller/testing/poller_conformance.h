// Copyright netman authors.
//
// PollerConformanceTest: one value-parameterised gtest suite that every Poller
// implementation must pass (in the style of gRPC's EventEngine conformance
// tests). It checks the semantics promised in netman/poller/poller.h against
// real file descriptors (pipes and AF_UNIX socketpairs): tags, level
// triggering, interest changes, removal, timeouts, Wakeup() from another
// thread and its coalescing, peer close, many ready fds, and registration
// errors.
//
// An implementation's test links the `//netman/poller:poller_conformance`
// library (alwayslink, so the TESTs below are registered) and instantiates the
// suite with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Epoll, PollerConformanceTest,
//       testing::Values(PollerFactoryParam{
//           "epoll",
//           []() -> absl::StatusOr<std::unique_ptr<Poller>> {
//             auto poller = EpollPoller::Create();
//             if (!poller.ok()) return poller.status();
//             return std::unique_ptr<Poller>(std::move(*poller));
//           }}),
//       PollerFactoryParamName);
//
// Each test creates a fresh Poller from the factory in SetUp().
//
// Threading: gtest fixtures run on the test's main thread; the Wakeup tests
// start their own std::threads and join them before returning.
#ifndef NETMAN_POLLER_TESTING_POLLER_CONFORMANCE_H_
#define NETMAN_POLLER_TESTING_POLLER_CONFORMANCE_H_

#include <memory>
#include <ostream>
#include <string>

#include "gtest/gtest.h"
#include "netman/poller/poller.h"

namespace netman {

// One Poller implementation under test.
struct PollerFactoryParam {
  // Short identifier, used as the parameter name in test names
  // ([A-Za-z0-9_] only).
  std::string name;
  // Creates a new, empty Poller.
  PollerFactory factory;
};

// Prints the name, so gtest does not dump the std::function's bytes.
void PrintTo(const PollerFactoryParam& param, std::ostream* os);

// Name generator for INSTANTIATE_TEST_SUITE_P: yields `param.name`.
std::string PollerFactoryParamName(
    const testing::TestParamInfo<PollerFactoryParam>& info);

class PollerConformanceTest
    : public testing::TestWithParam<PollerFactoryParam> {
 protected:
  void SetUp() override;

  Poller& poller() { return *poller_; }

 private:
  std::unique_ptr<Poller> poller_;
};

}  // namespace netman

#endif  // NETMAN_POLLER_TESTING_POLLER_CONFORMANCE_H_
