#!/usr/bin/env bash
# Copyright netman authors.
#
# ws_echo_server_test: runs ws_echo_server_test.py (standard-library Python 3)
# against the ws_echo_server binary from the test's runfiles.
set -euo pipefail

root="${TEST_SRCDIR:?run with bazel test}/netman"
python="$(command -v python3 || true)"
[[ -n "${python}" ]] || { echo "FAIL: python3 not found on PATH" >&2; exit 1; }
exec "${python}" "${root}/tools/bench/ws_echo_server_test.py" \
  "${root}/tools/bench/ws_echo_server"
