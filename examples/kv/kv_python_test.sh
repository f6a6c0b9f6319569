#!/usr/bin/env bash
# Copyright netman authors.
#
# Runs kv_python_test.py with Debian's /usr/bin/python3 (python3-protobuf;
# the pyenv python3 on PATH does not see Debian's packages).
set -euo pipefail
dir="${TEST_SRCDIR:?run with bazel test}/netman/examples/kv"
python=/usr/bin/python3
if ! "${python}" -c "import google.protobuf" 2>/dev/null; then
  echo "FAIL: ${python} cannot import google.protobuf: apt-get install python3-protobuf" \
       "(tools/setup.sh)" >&2
  exit 1
fi
exec "${python}" "${dir}/kv_python_test.py" "${dir}/kv_server" "${dir}/kv_client" "${dir}"
