#!/usr/bin/env bash
# Copyright netman authors.
#
# run_bench_smoke_test: runs tools/bench/run_bench.py --smoke (each server at
# one tiny point, replies verified, and a 50-connection idle memory check)
# into the test's temporary directory, then checks what it wrote: the
# generated section of BENCHMARKS.md with its tables, a well-formed SVG, and
# the raw JSON with zero errors. Measures nothing worth keeping.
set -euo pipefail

root="${TEST_SRCDIR:?run with bazel test}/netman"
out="${TEST_TMPDIR:-$(mktemp -d)}/bench_out"
mkdir -p "${out}"
python="$(command -v python3 || true)"
[[ -n "${python}" ]] || { echo "FAIL: python3 not found on PATH" >&2; exit 1; }

"${python}" "${root}/tools/bench/run_bench.py" --smoke --bin_dir="${root}" \
  --out_dir="${out}" --json_out="${out}/results.json"

"${python}" - "${out}" <<'PY'
import json, os, sys
import xml.etree.ElementTree as ET
out = sys.argv[1]
def fail(msg):
  print("FAIL: " + msg, file=sys.stderr)
  sys.exit(1)
md = open(os.path.join(out, "BENCHMARKS.md")).read()
for needle in ("<!-- BEGIN GENERATED", "<!-- END GENERATED", "### Targets (issue 4)",
               "### Throughput", "### Latency", "### Memory per idle connection",
               "bench_throughput.svg", "| 1 | 64 B | 4 | 16 |"):
  if needle not in md:
    fail("BENCHMARKS.md lacks %r" % needle)
root = ET.parse(os.path.join(out, "bench_throughput.svg")).getroot()
if not root.tag.endswith("svg") or not root.findall(".//{http://www.w3.org/2000/svg}polyline") \
    and not root.findall(".//{http://www.w3.org/2000/svg}circle"):
  fail("the SVG has no data")
data = json.load(open(os.path.join(out, "results.json")))
servers = sorted({r["server"] for r in data["results"]})
if servers != ["asio", "epoll", "netman"]:
  fail("expected results for all three servers, got %s" % servers)
for r in data["results"] + data["sanity"]:
  if r["errors"] != 0 or r["messages"] <= 0:
    fail("%s: %d errors, %d messages (%s)" % (r["server"], r["errors"], r["messages"],
                                              r["first_error"]))
for m in data["memory"]:
  if m["opened"] != 50 or m["open_at_end"] != 50:
    fail("memory check for %s: %s" % (m["server"], m))
print("PASS")
PY
