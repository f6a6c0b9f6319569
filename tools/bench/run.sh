#!/usr/bin/env bash
# Copyright netman authors.
#
# run.sh: netman's end-to-end benchmark in one command. Builds the servers and
# the load generator with -c opt, then runs tools/bench/run_bench.py, which
# writes docs/BENCHMARKS.md (its generated section) and
# docs/bench_throughput.svg.
#
#   tools/bench/run.sh             # full matrix (10-20 minutes)
#   tools/bench/run.sh --quick     # small subset (~2 minutes)
#   tools/bench/run.sh --help      # run_bench.py's flags
#
# NETMAN_BAZEL_STARTUP_OPTS: Bazel startup options, e.g.
# "--output_base=/tmp/bazel_bench" to keep this build apart from your usual
# one. Workspace convenience symlinks are left alone (--symlink_prefix=/).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
read -r -a startup <<<"${NETMAN_BAZEL_STARTUP_OPTS:-}"
bazel "${startup[@]}" build -c opt --symlink_prefix=/ //tools/bench:run_bench \
  //netman/tls:tls_transport_benchmark
bin_dir="$(bazel "${startup[@]}" info -c opt --symlink_prefix=/ bazel-bin 2>/dev/null)"
exec python3 tools/bench/run_bench.py --bin_dir="${bin_dir}" --out_dir=docs "$@"
