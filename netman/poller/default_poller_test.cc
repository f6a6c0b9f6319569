// Copyright netman authors.
//
// Runs the Poller conformance suite (testing/poller_conformance.h) against
// CreateDefaultPoller(), i.e. whichever Poller this platform's build links.
#include "gtest/gtest.h"
#include "netman/poller/poller.h"
#include "netman/poller/testing/poller_conformance.h"

namespace netman {
namespace {

INSTANTIATE_TEST_SUITE_P(Default, PollerConformanceTest,
                         testing::Values(PollerFactoryParam{
                             "default", &CreateDefaultPoller}),
                         PollerFactoryParamName);

}  // namespace
}  // namespace netman
