// Copyright netman authors.
#include "netman/base/status.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace netman {
namespace {

TEST(ErrnoStatusTest, MapsCodeAndMessage) {
  absl::Status s = ErrnoStatus(ECONNREFUSED, "connect 127.0.0.1:1");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "connect 127.0.0.1:1: Connection refused");
  EXPECT_EQ(ErrnoStatus(EMFILE, "accept").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus(EINVAL, "x").code(), absl::StatusCode::kInvalidArgument);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  NETMAN_ASSIGN_OR_RETURN(int half, Half(x));
  NETMAN_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  NETMAN_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).message(), "odd");
}

}  // namespace
}  // namespace netman
