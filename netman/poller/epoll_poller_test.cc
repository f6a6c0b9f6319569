// Copyright netman authors.
//
// Runs the Poller conformance suite (testing/poller_conformance.h) against
// EpollPoller.
#include "netman/poller/epoll_poller.h"

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "netman/poller/poller.h"
#include "netman/poller/testing/poller_conformance.h"

namespace netman {
namespace {

absl::StatusOr<std::unique_ptr<Poller>> CreateEpollPoller() {
  absl::StatusOr<std::unique_ptr<EpollPoller>> poller = EpollPoller::Create();
  if (!poller.ok()) return poller.status();
  return std::unique_ptr<Poller>(std::move(*poller));
}

INSTANTIATE_TEST_SUITE_P(Epoll, PollerConformanceTest,
                         testing::Values(PollerFactoryParam{
                             "epoll", &CreateEpollPoller}),
                         PollerFactoryParamName);

}  // namespace
}  // namespace netman
