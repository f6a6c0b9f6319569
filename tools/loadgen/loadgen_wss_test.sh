#!/usr/bin/env bash
# Copyright netman authors.
#
# loadgen_wss_test: runs loadgen_wss_test.py (standard-library Python 3, the
# openssl CLI for the test PKI) with the binaries from the test's runfiles.
set -euo pipefail

root="${TEST_SRCDIR:?run with bazel test}/netman"
python="/usr/bin/python3"
[[ -x "${python}" ]] || python="$(command -v python3 || true)"
[[ -n "${python}" ]] || { echo "FAIL: python3 not found on PATH" >&2; exit 1; }
command -v openssl >/dev/null ||
  { echo "FAIL: the openssl CLI is missing (Debian package openssl; tools/setup.sh)" >&2; exit 1; }
exec "${python}" "${root}/tools/loadgen/loadgen_wss_test.py" \
  "${root}/tools/loadgen/loadgen" "${root}/netman/ws/ws_server" \
  "${root}/netman/client/testing/tls_echo_server.py"
