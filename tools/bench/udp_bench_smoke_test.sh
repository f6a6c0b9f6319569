#!/usr/bin/env bash
# Copyright netman authors.
#
# Smoke test of the UDP benchmark machinery: one short round of
# udp_bench.py (bare echo, udp_server batched, udp_server one datagram per
# call) with loadgen --mode=udp, from the test's runfiles. Checks that every
# server answered and that no reply failed loadgen's verification. Speed is
# not asserted here (batching is: //netman/udp:udp_socket_test).
set -euo pipefail
root="${TEST_SRCDIR:?run with bazel test}/netman"
out="$(python3 "${root}/tools/bench/udp_bench.py" --bin_dir="${root}" --rounds=1 \
  --peers=20 --pipeline=2 --duration=1 --warmup=0.3)"
echo "${out}"
python3 - "${out##*$'\n'}" <<'PY'
import json, sys
summary = json.loads(sys.argv[1])
for kind, m in summary["median"].items():
  assert m["msgs_per_s"] > 0, "%s answered nothing" % kind
  assert m["errors"] == 0, "%s: %d replies failed verification" % (kind, m["errors"])
print("PASS")
PY
