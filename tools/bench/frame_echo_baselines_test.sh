#!/usr/bin/env bash
# Copyright netman authors.
#
# frame_echo_baselines_test: runs frame_echo_baselines_test.py (standard-library
# Python 3) against the netman-frame baselines from the test's runfiles: the
# epoll ceiling, Asio naive and Asio batched.
set -euo pipefail

root="${TEST_SRCDIR:?run with bazel test}/netman"
python="$(command -v python3 || true)"
[[ -n "${python}" ]] || { echo "FAIL: python3 not found on PATH" >&2; exit 1; }
exec "${python}" "${root}/tools/bench/frame_echo_baselines_test.py" \
  "${root}/tools/bench/epoll_echo_server" \
  "${root}/tools/bench/asio_naive_echo_server" \
  "${root}/tools/bench/asio_batched_echo_server"
