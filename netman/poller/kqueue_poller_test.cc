// Copyright netman authors.
//
// Runs the Poller conformance suite (testing/poller_conformance.h) against
// KqueuePoller. Built and run only on macOS/BSD; see kqueue_poller.h.
#include "netman/poller/kqueue_poller.h"

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "netman/poller/poller.h"
#include "netman/poller/testing/poller_conformance.h"

namespace netman {
namespace {

absl::StatusOr<std::unique_ptr<Poller>> CreateKqueuePoller() {
  absl::StatusOr<std::unique_ptr<KqueuePoller>> poller = KqueuePoller::Create();
  if (!poller.ok()) return poller.status();
  return std::unique_ptr<Poller>(std::move(*poller));
}

INSTANTIATE_TEST_SUITE_P(Kqueue, PollerConformanceTest,
                         testing::Values(PollerFactoryParam{
                             "kqueue", &CreateKqueuePoller}),
                         PollerFactoryParamName);

}  // namespace
}  // namespace netman
