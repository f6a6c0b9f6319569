#!/usr/bin/env bash
# Copyright netman authors.
#
# Runs tls_interop_test.py (standard-library Python: ssl, subprocess) against
# the tcp_server binary from the test's runfiles, with the openssl CLI for
# the test certificates and s_client.
set -euo pipefail

root="${TEST_SRCDIR:?run with bazel test}/netman"
python=/usr/bin/python3
[[ -x "${python}" ]] || python="$(command -v python3 || true)"
if [[ -z "${python}" ]]; then
  echo "FAIL: python3 not found on PATH (${PATH})" >&2
  exit 1
fi
if ! command -v openssl >/dev/null; then
  echo "FAIL: the openssl CLI is missing (Debian package openssl; tools/setup.sh)" >&2
  exit 1
fi
echo "using ${python} ($("${python}" --version 2>&1)), $(openssl version)"
exec "${python}" "${root}/netman/tls/tls_interop_test.py" "${root}/netman/server/tcp_server"
