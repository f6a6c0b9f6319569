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
//
// NETMAN_FUZZ_NO_COVERAGE_BEGIN / NETMAN_FUZZ_NO_COVERAGE_END enclose a fuzz
// target's own code (harness and invariant checks; put them after the
// #includes, so inline code of the library under test stays instrumented).
// Clang then leaves out of it libFuzzer's coverage instrumentation (edge
// counters, and the comparison tracing that calls into the runtime on every
// compare) and UBSan's vptr check of its virtual calls (a type-hash lookup
// per call into, say, the packer under test; the callee keeps its checks).
// So the coverage that guides the fuzzer is the code under test's, and
// checks that run per byte of every input do not pay for it. ASan and the
// rest of UBSan stay on.
#ifndef FUZZ_CHECK_H_
#define FUZZ_CHECK_H_

#if defined(__clang__)
// (_Pragma takes one string literal: the line cannot be split.)
#define NETMAN_FUZZ_NO_COVERAGE_BEGIN \
  _Pragma("clang attribute push(__attribute__((no_sanitize(\"coverage\", \"vptr\"))), apply_to = function)")
#define NETMAN_FUZZ_NO_COVERAGE_END _Pragma("clang attribute pop")
#else
#define NETMAN_FUZZ_NO_COVERAGE_BEGIN
#define NETMAN_FUZZ_NO_COVERAGE_END
#endif

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
