#!/usr/bin/env bash
# Copyright netman authors.
#
# Launcher of the WebSocket tests in this package: runs a test script
# against //netman/ws:ws_server from the test's runfiles.
#
#   ws_test.sh python  SCRIPT.py   standard-library Python 3 (any python3)
#   ws_test.sh debian  SCRIPT.py   Debian's /usr/bin/python3 with Debian's
#                                  python3-websockets (the pyenv python3 on
#                                  PATH does not see Debian's packages)
#
# The interop tests need tools that tools/setup.sh installs (Debian's
# python3-websockets and chromium, and Node's `ws` from npm). When one is
# missing the test FAILS and says what to install: CI runs setup first, so a
# missing tool there is a real failure. To skip the interop tests on a
# machine without them, run
#   bazel test --test_env=NETMAN_WS_INTEROP_SKIP=1 //tests/ws/...
set -euo pipefail

root="${TEST_SRCDIR:?run with bazel test}/netman"
kind="${1:?usage: ws_test.sh python|debian SCRIPT.py}"
script="${root}/tests/ws/${2:?usage: ws_test.sh python|debian SCRIPT.py}"
server="${root}/netman/ws/ws_server"
[[ -x "${server}" ]] || { echo "FAIL: ${server} is not in the runfiles" >&2; exit 1; }

case "${kind}" in
  python)
    python=/usr/bin/python3
    [[ -x "${python}" ]] || python="$(command -v python3 || true)"
    [[ -n "${python}" ]] || { echo "FAIL: python3 not found (PATH=${PATH})" >&2; exit 1; }
    ;;
  debian)
    python=/usr/bin/python3
    if ! "${python}" -c 'import websockets' 2>/dev/null; then
      if [[ "${NETMAN_WS_INTEROP_SKIP:-}" == 1 ]]; then
        echo "SKIPPED (NETMAN_WS_INTEROP_SKIP=1): ${python} cannot import websockets"
        exit 0
      fi
      echo "FAIL: ${python} cannot import websockets: install Debian's python3-websockets" \
        "(tools/setup.sh does), or skip the interop tests with" \
        "--test_env=NETMAN_WS_INTEROP_SKIP=1" >&2
      exit 1
    fi
    ;;
  *) echo "FAIL: unknown python kind '${kind}'" >&2; exit 1 ;;
esac
echo "using ${python} ($("${python}" --version 2>&1))"
exec "${python}" "${script}" "${server}" "${@:3}"
