#!/usr/bin/env bash
# Copyright netman authors.
#
# run_bench_smoke_test: runs tools/bench/run_bench.py --smoke (each server --
# netman, the epoll ceiling, Asio naive, Asio batched -- at one tiny point,
# replies verified, and a 50-connection idle memory check) into the test's
# temporary directory, then checks what it wrote: the generated section of
# BENCHMARKS.md with its tables (each Asio named as naive or batched), a
# well-formed SVG, and the raw JSON with zero errors. Then re-renders the
# report from that JSON with the Asio results renamed as a run made before
# the split saved them ("asio"), which must come out as Asio naive. Then
# the TLS rows (--smoke --tls_only: tcp_server plain vs TLS 1.3 at 64 B and
# 4 KiB, full and resumed handshakes, 50 idle TLS connections) into their
# own block, checked the same way.
# Measures nothing worth keeping.
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
               "bench_throughput.svg", "| 1 | 64 B | 4 | 16 |",
               "| Asio naive | Asio batched |", "netman / Asio naive", "netman / Asio batched",
               "*Asio naive* = one message at a time"):
  if needle not in md:
    fail("BENCHMARKS.md lacks %r" % needle)
root = ET.parse(os.path.join(out, "bench_throughput.svg")).getroot()
if not root.tag.endswith("svg") or not root.findall(".//{http://www.w3.org/2000/svg}polyline") \
    and not root.findall(".//{http://www.w3.org/2000/svg}circle"):
  fail("the SVG has no data")
data = json.load(open(os.path.join(out, "results.json")))
servers = sorted({r["server"] for r in data["results"]})
if servers != ["asio_batched", "asio_naive", "epoll", "netman"]:
  fail("expected results for all four servers, got %s" % servers)
for r in data["results"] + data["sanity"]:
  if r["errors"] != 0 or r["messages"] <= 0:
    fail("%s: %d errors, %d messages (%s)" % (r["server"], r["errors"], r["messages"],
                                              r["first_error"]))
if sorted(m["server"] for m in data["memory"]) != servers:
  fail("memory checks: %s" % [m["server"] for m in data["memory"]])
for m in data["memory"]:
  if m["opened"] != 50 or m["open_at_end"] != 50:
    fail("memory check for %s: %s" % (m["server"], m))
# A run saved before the Asio baseline was split: one "asio", the naive one.
for key in ("results", "memory", "sanity"):
  data[key] = [dict(r, server="asio" if r["server"] == "asio_naive" else r["server"])
               for r in data[key] if r["server"] != "asio_batched"]
os.makedirs(os.path.join(out, "legacy"))
json.dump(data, open(os.path.join(out, "legacy", "results.json"), "w"))
PY

"${python}" "${root}/tools/bench/run_bench.py" --render_from="${out}/legacy/results.json" \
  --out_dir="${out}/legacy"

"${python}" - "${out}/legacy" <<'PY'
import os, sys
md = open(os.path.join(sys.argv[1], "BENCHMARKS.md")).read()
row = [l for l in md.splitlines() if l.startswith("| 1 | 64 B | 4 | 16 |")][0]
cells = [c.strip() for c in row.split("|")[1:-1]]
# loops body conns pipeline | netman ceiling naive batched | 4 ratios | errors
if cells[6] == "n/a" or cells[7] != "n/a" or cells[9] == "**n/a**" or cells[10] != "**n/a**":
  print("FAIL: legacy render: %s" % row, file=sys.stderr)
  sys.exit(1)
PY

mkdir -p "${out}/tls"
"${python}" "${root}/tools/bench/run_bench.py" --smoke --tls_only --bin_dir="${root}" \
  --out_dir="${out}/tls" --json_out="${out}/tls/results.json"

"${python}" - "${out}/tls" <<'PY'
import json, os, sys
out = sys.argv[1]
def fail(msg):
  print("FAIL: " + msg, file=sys.stderr)
  sys.exit(1)
md = open(os.path.join(out, "BENCHMARKS.md")).read()
for needle in ("<!-- BEGIN GENERATED TLS", "<!-- END GENERATED TLS", "### TLS results",
               "| 64 B |", "| 4 KiB |", "| full |", "| resumed |", "| TLS 1.3 | 50 |",
               "ECDSA P-256", "TLSv1.3, TLS_AES_", "best possible TLS / plain"):
  if needle not in md:
    fail("TLS section lacks %r" % needle)
if "### Targets (issue 4)" in md:
  fail("--tls_only wrote the plain matrix's section too")
tls = json.load(open(os.path.join(out, "results.json")))["tls"]
runs = tls["throughput"] + tls["handshakes"] + [tls["check"]]
for r in runs:
  if r["errors"] != 0 or r["messages"] <= 0:
    fail("%s: %d errors, %d messages (%s)" % (r.get("variant", "check"), r["errors"],
                                              r["messages"], r["first_error"]))
for r in tls["throughput"]:
  if (r["variant"] == "tls") != ("tls" in r):
    fail("throughput row %s: TLS mode and variant disagree" % r["variant"])
for r in tls["handshakes"]:
  resumed = r["tls"]["resumed_in_window"]
  if (r["variant"] == "resumed") != (resumed > 0) or resumed > r["messages"]:
    fail("handshakes %s: %d of %d resumed" % (r["variant"], resumed, r["messages"]))
if sorted(tls["aead"]) != ["4096", "64"] or any(v <= 0 for v in tls["aead"].values()):
  fail("the cipher's ceiling was not measured: %s" % tls["aead"])
if sorted(m["variant"] for m in tls["memory"]) != ["plain", "tls"] or \
    any(m["opened"] != 50 or m["open_at_end"] != 50 for m in tls["memory"]):
  fail("TLS memory checks: %s" % tls["memory"])
print("PASS")
PY
