#!/usr/bin/env python3
"""Counts passed and failed tests after `bazel test`, for CI (.ci/run).

Bazel's own closing line ("Executed 3 out of 3 tests: 3 tests pass.") is not
one CI recognises, so this prints a per-target table and ends with a plain line

    N passed, M failed

Where the counts come from:
  * The per-target summary lines Bazel prints at the end of `bazel test`
    (`//netman/base:base_test     PASSED in 0.4s`, `(cached) PASSED`,
    `FAILED in 2 out of 3 in 1.0s`, `FLAKY, failed in ...`, `TIMEOUT`,
    `NO STATUS`, `FAILED TO BUILD`, `SKIPPED`, ...) say which test targets
    there were and how each ended.
  * For targets that ran, the JUnit XML each test writes (gtest:
    --gtest_output=xml, which Bazel asks for) under bazel-testlogs gives the
    individual test cases: every <testcase> counts, failed if it holds a
    <failure> or <error>, skipped (neither passed nor failed) if gtest did not
    run it (GTEST_SKIP, DISABLED_).
  * A target that failed but whose XML shows no failing case (crash, timeout,
    the XML is Bazel's stand-in), or that never ran (FAILED TO BUILD,
    NO STATUS, ...), counts as one failure. A target that passed without
    usable XML counts as one passing test.
  * If bazel exited non-zero but no test target failed (a non-test target
    failed to build, bad flags, no tests found), that counts as one failure,
    so the last line never looks clean for a broken run.

Exit status: 0 if at least one test passed and nothing failed, 1 otherwise,
2 on bad usage.

Usage:
  tools/test_summary.py --log bazel-test.log [--testlogs DIR] [--bazel-exit N]
"""

import argparse
import collections
import os
import re
import sys
import xml.etree.ElementTree as ET

# Statuses Bazel prints in its per-target summary (BlazeTestStatus with '_'
# replaced by ' ', plus SKIPPED). Longest first so "FAILED TO BUILD" is not
# read as "FAILED".
PASSING = ("PASSED", "FLAKY")
RAN_AND_FAILED = ("FAILED", "TIMEOUT", "INCOMPLETE", "REMOTE FAILURE")
DID_NOT_RUN = ("FAILED TO BUILD", "NO STATUS", "BLAZE HALTED BEFORE TESTING")
SKIPPED = ("SKIPPED",)
ALL_STATUSES = sorted(PASSING + RAN_AND_FAILED + DID_NOT_RUN + SKIPPED,
                      key=len, reverse=True)

# `//pkg:target` (or `@repo//pkg:target`), padded with spaces, optionally a
# configuration in parentheses, optionally "(cached) " or "(2/3 cached) ",
# then the status.
SUMMARY_LINE = re.compile(
    r"^(?P<label>(?:@[\w.~+-]*)?//\S*)"
    r"(?:\s+\([\w.-]+\))??"
    r"\s+(?P<cached>\((?:cached|\d+/\d+ cached)\)\s+)?"
    r"(?P<status>" + "|".join(re.escape(s) for s in ALL_STATUSES) + r")"
    r"(?![A-Z_])")
EXECUTED_LINE = re.compile(r"^Executed (\d+) out of (\d+) tests?:")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# With --test_output=errors Bazel copies failing tests' logs into its output
# between these lines; nothing inside them is a summary line.
TEST_OUTPUT_START = "==================== Test output for "
TEST_OUTPUT_END = "=" * 80


def parse_bazel_log(text):
    """Returns ({label: (status, cached)} in order, total from "Executed")."""
    targets = collections.OrderedDict()
    executed_total = None
    in_test_output = False
    for raw in text.splitlines():
        line = ANSI_ESCAPE.sub("", raw).rstrip()
        if in_test_output:
            if line == TEST_OUTPUT_END:
                in_test_output = False
            continue
        if line.startswith(TEST_OUTPUT_START):
            in_test_output = True
            continue
        match = SUMMARY_LINE.match(line)
        if match:
            # A later line for the same label (a second summary) wins.
            targets.pop(match.group("label"), None)
            targets[match.group("label")] = (match.group("status"),
                                             bool(match.group("cached")))
            continue
        match = EXECUTED_LINE.match(line)
        if match:
            executed_total = int(match.group(2))
    return targets, executed_total


def label_to_testlogs_dir(testlogs, label):
    """`//a/b:c` -> testlogs/a/b/c; `@r//a:c` -> testlogs/external/r/a/c."""
    repo, _, rest = label.partition("//")
    package, colon, name = rest.partition(":")
    if not colon:  # `//a/b` is short for `//a/b:b`.
        name = package.rsplit("/", 1)[-1]
    parts = [testlogs]
    if repo.lstrip("@"):
        parts += ["external", repo.lstrip("@")]
    if package:
        parts.append(package)
    parts.append(name)
    return os.path.join(*parts)


def find_test_xmls(target_dir):
    """test.xml of an unsharded target, else those of its shards / runs."""
    direct = os.path.join(target_dir, "test.xml")
    if os.path.isfile(direct):
        return [direct]
    found = []
    if os.path.isdir(target_dir):
        for entry in sorted(os.listdir(target_dir)):
            candidate = os.path.join(target_dir, entry, "test.xml")
            if ((entry.startswith("shard_") or entry.startswith("run_"))
                    and os.path.isfile(candidate)):
                found.append(candidate)
    return found


def count_test_cases(xml_paths, out):
    """Returns (passed, failed names, skipped) or None if no XML is usable."""
    passed, failed, skipped, usable = 0, [], 0, False
    for path in xml_paths:
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as error:
            print(f"  warning: cannot read {path}: {error}", file=out)
            continue
        cases = list(root.iter("testcase"))
        usable = usable or bool(cases)
        for case in cases:
            name = case.get("name", "?")
            if case.get("classname"):
                name = case.get("classname") + "." + name
            error = case.find("error")
            if case.find("failure") is not None:
                failed.append(name)
            elif error is not None:
                # Bazel's stand-in XML for a test that wrote none says why.
                message = error.get("message")
                failed.append(f"{name} ({message})" if message else name)
            elif (case.get("status") == "notrun"
                  or case.get("result") in ("skipped", "suppressed")
                  or case.find("skipped") is not None):
                skipped += 1
            else:
                passed += 1
    return (passed, failed, skipped) if usable else None


def summarize(targets, testlogs, bazel_exit, executed_total, out):
    """Prints the table; returns (passed, failed)."""
    passed = failed = skipped = 0
    failing_targets = 0
    width = max([len(label) for label in targets] + [20])
    if testlogs and not os.path.isdir(testlogs):
        print(f"  note: no test logs at {testlogs}; counting targets only", file=out)
        testlogs = None

    for label, (status, cached) in targets.items():
        detail = ""
        cases = None
        if testlogs and status in PASSING + RAN_AND_FAILED:
            cases = count_test_cases(
                find_test_xmls(label_to_testlogs_dir(testlogs, label)), out)
        if status in SKIPPED:
            skipped += 1
            detail = "not run (incompatible with this platform?)"
        elif status in DID_NOT_RUN:
            failed += 1
            failing_targets += 1
            detail = "counted as 1 failure"
        elif cases is None:
            if status in PASSING:
                passed += 1
                detail = "no test cases reported; counted as 1 test"
            else:
                failed += 1
                failing_targets += 1
                detail = "no test cases reported; counted as 1 failure"
        else:
            case_passed, case_failed, case_skipped = cases
            n_failed = len(case_failed)
            if status in RAN_AND_FAILED:
                failing_targets += 1
                if n_failed == 0:
                    # Crashed, timed out or killed: the XML is partial or
                    # Bazel's stand-in.
                    n_failed = 1
                    case_failed = ["(the test binary failed outside any test case)"]
            elif n_failed:
                failing_targets += 1
            passed += case_passed
            failed += n_failed
            skipped += case_skipped
            detail = f"{case_passed} passed, {n_failed} failed"
            if case_skipped:
                detail += f", {case_skipped} skipped"
            if case_failed:
                shown = case_failed[:10]
                more = len(case_failed) - len(shown)
                detail += ": " + ", ".join(shown) + (f" and {more} more" if more else "")
        if status == "FLAKY":
            detail += " (flaky: passed on a retry)"
        shown_status = status + (" (cached)" if cached else "")
        print(f"  {label:<{width}}  {shown_status:<17} {detail}", file=out)

    if executed_total is not None and executed_total != len(targets):
        print(f"  warning: bazel reported {executed_total} test targets, "
              f"{len(targets)} summary lines found", file=out)
    if passed + failed == 0:
        print("  no tests ran", file=out)
    if bazel_exit not in (None, 0) and failed == 0:
        failed += 1
        print(f"  bazel test exited with code {bazel_exit} but no test target "
              "failed (a non-test target failed to build, no test targets, or "
              "a bazel error: see the log); counted as 1 failure", file=out)
    print(f"test targets: {len(targets)} ({failing_targets} failing); "
          f"skipped test cases/targets: {skipped}", file=out)
    return passed, failed


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log", required=True,
                        help="captured output of `bazel test` (stdout and stderr)")
    parser.add_argument("--testlogs",
                        help="bazel's testlogs directory (`bazel info bazel-testlogs`)")
    parser.add_argument("--bazel-exit", type=int,
                        help="exit code of `bazel test`")
    args = parser.parse_args(argv)

    with open(args.log, encoding="utf-8", errors="replace") as log:
        targets, executed_total = parse_bazel_log(log.read())
    print("netman test summary (per target; counts are gtest test cases):")
    passed, failed = summarize(targets, args.testlogs, args.bazel_exit,
                               executed_total, sys.stdout)
    print(f"{passed} passed, {failed} failed")
    return 0 if passed > 0 and failed == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception:  # pylint: disable=broad-except
        # Exit 2 (not 1, "tests failed") so .ci/run knows no count was printed.
        import traceback
        traceback.print_exc()
        sys.exit(2)
