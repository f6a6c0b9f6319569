#!/usr/bin/env bash
# Copyright netman authors.
#
# Runs udp_server_e2e_test.py (standard-library Python 3) against the
# udp_server binary from the test's runfiles.
set -euo pipefail

dir="${TEST_SRCDIR:?run with bazel test}/netman/netman/udp"
python=/usr/bin/python3
[[ -x "${python}" ]] || python="$(command -v python3 || true)"
if [[ -z "${python}" ]]; then
  echo "FAIL: python3 not found on PATH (${PATH})" >&2
  exit 1
fi
echo "using ${python} ($("${python}" --version 2>&1))"
exec "${python}" "${dir}/udp_server_e2e_test.py" "${dir}/udp_server"
