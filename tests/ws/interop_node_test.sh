#!/usr/bin/env bash
# Copyright netman authors.
#
# interop_node_test: runs node/interop.js (Node's `ws` client against
# //netman/ws:ws_server). `ws` comes from the npm registry: tools/setup.sh
# runs `npm ci` in tests/ws/node (package.json and package-lock.json are
# committed, node_modules is not), since Bazel tests cannot reach the
# network. This script finds that node_modules beside the real package.json
# (the runfiles entry is a symlink into the source tree).
#
# A missing node or node_modules FAILS the test with what to run; set
# NETMAN_WS_INTEROP_SKIP=1 (bazel test --test_env=NETMAN_WS_INTEROP_SKIP=1)
# to skip it on a machine without them.
set -euo pipefail

root="${TEST_SRCDIR:?run with bazel test}/netman"
server="${root}/netman/ws/ws_server"
skip_or_fail() {
  if [[ "${NETMAN_WS_INTEROP_SKIP:-}" == 1 ]]; then
    echo "SKIPPED (NETMAN_WS_INTEROP_SKIP=1): $*"
    exit 0
  fi
  echo "FAIL: $* (or skip with --test_env=NETMAN_WS_INTEROP_SKIP=1)" >&2
  exit 1
}

node="$(command -v node || true)"
[[ -n "${node}" ]] || node=/usr/bin/node
[[ -x "${node}" ]] || skip_or_fail "node not found: install Debian's nodejs (tools/setup.sh does)"
package_json="$(readlink -f "${root}/tests/ws/node/package.json")"
modules="$(dirname "${package_json}")/node_modules"
[[ -f "${modules}/ws/package.json" ]] ||
  skip_or_fail "${modules}/ws is missing: run tools/setup.sh (it runs" \
    "'npm ci' in tests/ws/node)"
echo "using ${node} ($("${node}" --version)), ${modules}"
NODE_PATH="${modules}" exec "${node}" "${root}/tests/ws/node/interop.js" "${server}"
