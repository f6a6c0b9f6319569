#!/usr/bin/env bash
# Copyright netman authors.
#
# loadgen_smoke_test: runs loadgen_smoke_test.py (standard-library Python 3)
# with the binaries from the test's runfiles.
set -euo pipefail

root="${TEST_SRCDIR:?run with bazel test}/netman"
# Debian's python3 starts much faster than pyenv's shim; either will do.
python="/usr/bin/python3"
[[ -x "${python}" ]] || python="$(command -v python3 || true)"
[[ -n "${python}" ]] || { echo "FAIL: python3 not found on PATH" >&2; exit 1; }
exec "${python}" "${root}/tools/loadgen/loadgen_smoke_test.py" \
  "${root}/tools/loadgen/loadgen" "${root}/netman/server/tcp_server" \
  "${root}/tools/bench/epoll_echo_server" "${root}/tools/bench/ws_echo_server" \
  "${root}/netman/client/testing/tls_echo_server.py"
