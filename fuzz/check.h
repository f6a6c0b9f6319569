// Copyright netman authors.
//
// NETMAN_FUZZ_CHECK: the assertion fuzz targets use for their invariants.
// On failure it prints the condition, the place and a message, then aborts:
// libFuzzer reports a crash and saves the input; the replay test fails.
// Unlike assert(), it is never compiled out.
//
// Example:
//   NETMAN_FUZZ_CHECK(r->consumed <= input.size(),
//                     "consumed %zu of %zu bytes", r->consumed, input.size());
#ifndef FUZZ_CHECK_H_
#define FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define NETMAN_FUZZ_CHECK(condition, ...)                                   \
  do {                                                                      \
    if (!(condition)) {                                                     \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n  ", __FILE__,   \
                   __LINE__, #condition);                                   \
      std::fprintf(stderr, __VA_ARGS__);                                    \
      std::fprintf(stderr, "\n");                                           \
      std::abort();                                                         \
    }                                                                       \
  } while (false)

#endif  // FUZZ_CHECK_H_
