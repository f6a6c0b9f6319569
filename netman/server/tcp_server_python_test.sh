#!/usr/bin/env bash
# Copyright netman authors.
#
# Runs a standard-library Python 3 test script (the first argument, a file
# in this package) against the tcp_server binary from the test's runfiles:
# the launcher of tcp_server_e2e_test and tcp_server_flags_test.
set -euo pipefail

dir="${TEST_SRCDIR:?run with bazel test}/netman/netman/server"
script="${1:?usage: tcp_server_python_test.sh <script.py>}"
# The system python3 (tools/setup.sh installs it); else whatever is on PATH.
python=/usr/bin/python3
[[ -x "${python}" ]] || python="$(command -v python3 || true)"
if [[ -z "${python}" ]]; then
  echo "FAIL: python3 not found on PATH (${PATH})" >&2
  exit 1
fi
echo "using ${python} ($("${python}" --version 2>&1))"
exec "${python}" "${dir}/${script}" "${dir}/tcp_server"
