#!/usr/bin/env bash
# Copyright netman authors.
#
# tcp_server_flags_test: runs tcp_server_flags_test.py (standard-library
# Python 3) against the tcp_server binary from the test's runfiles.
set -euo pipefail

dir="${TEST_SRCDIR:?run with bazel test}/netman/netman/server"
# The system python3 (tools/setup.sh installs it); else whatever is on PATH.
python=/usr/bin/python3
[[ -x "${python}" ]] || python="$(command -v python3 || true)"
if [[ -z "${python}" ]]; then
  echo "FAIL: python3 not found on PATH (${PATH})" >&2
  exit 1
fi
echo "using ${python} ($("${python}" --version 2>&1))"
exec "${python}" "${dir}/tcp_server_flags_test.py" "${dir}/tcp_server"
