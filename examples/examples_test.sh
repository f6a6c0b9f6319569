#!/usr/bin/env bash
# Copyright netman authors.
#
# examples_test: first checks that //examples:server and //examples:client
# reject bad flag values (exit 2, the message names the flag) and answer
# --help (usage and flags on stdout, exit 0). Then starts the server on a
# free port, runs the client --count=3 against it, checks the replies and the
# server's hook output, then stops the server with SIGTERM and checks it
# exits 0.
set -euo pipefail

runfiles="${TEST_SRCDIR:?run with bazel test}/netman/examples"
server="${runfiles}/server"
client="${runfiles}/client"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
server_err="${tmp}/server.stderr"
server_out="${tmp}/server.stdout"

server_pid=""
fail() {
  echo "FAIL: $*" >&2
  echo "--- server stdout:" >&2
  cat "${server_out}" >&2 2>/dev/null || true
  echo "--- server stderr:" >&2
  cat "${server_err}" >&2 2>/dev/null || true
  exit 1
}
cleanup() {
  if [[ -n "${server_pid}" ]]; then kill -KILL "${server_pid}" 2>/dev/null || true; fi
}
trap cleanup EXIT

# expect_usage_error BINARY NEEDLE ARG...: BINARY ARG... must exit 2 with
# NEEDLE (the flag's name) on stderr. A binary that accepts the flags and
# keeps running is killed at the deadline and fails.
expect_usage_error() {
  local binary="$1" needle="$2"
  shift 2
  local status=0 err
  err="$(timeout 10 "${binary}" "$@" 2>&1 >/dev/null </dev/null)" || status=$?
  if [[ ${status} -ne 2 ]]; then
    fail "$(basename "${binary}") $*: exit status ${status}, want 2 (stderr: ${err})"
  fi
  if [[ "${err}" != *"${needle}"* ]]; then
    fail "$(basename "${binary}") $*: stderr does not name ${needle}: ${err}"
  fi
  echo "ok: $(basename "${binary}") $*: ${err%%$'\n'*}"
}

# expect_help BINARY NEEDLE...: BINARY --help must exit 0 and print a usage
# line and each NEEDLE on stdout.
expect_help() {
  local binary="$1" name
  name="$(basename "${binary}")"
  shift
  local status=0 out
  out="$(timeout 10 "${binary}" --help 2>&1 </dev/null)" || status=$?
  if [[ ${status} -ne 0 ]]; then
    fail "${name} --help: exit status ${status}, want 0 (output: ${out})"
  fi
  for needle in "Usage: ${name} " "$@"; do
    [[ "${out}" == *"${needle}"* ]] || fail "${name} --help lacks '${needle}': ${out}"
  done
  if [[ "${out}" == *"SetProgramUsageMessage"* ]]; then
    fail "${name} --help has no usage message: ${out}"
  fi
  echo "ok: ${name} --help"
}

# The server: on 127.0.0.1 with a free port, so that one which wrongly
# accepts a flag cannot collide with anything.
safe=(--host=127.0.0.1 --port=0)
expect_usage_error "${server}" --loops "${safe[@]}" --loops=-3
expect_usage_error "${server}" --log_level "${safe[@]}" --log_level=bogus
expect_usage_error "${server}" --shutdown_timeout "${safe[@]}" --shutdown_timeout=-5s
expect_usage_error "${server}" --heartbeat_check_interval "${safe[@]}" \
  --heartbeat_idle_time=1s --heartbeat_check_interval=2s
expect_usage_error "${server}" --host --port=0 --host=
expect_usage_error "${server}" --port --host=127.0.0.1 --port=70000
expect_usage_error "${server}" stray "${safe[@]}" stray
expect_help "${server}" --host --port --loops --heartbeat_idle_time --log_level

# The client: port 1 has no server, so one that wrongly accepts a flag fails
# to connect (exit 1) instead of talking to something.
expect_usage_error "${client}" --count --port=1 --count=-1
expect_usage_error "${client}" --port --port=0
expect_usage_error "${client}" --port --port=70000
expect_usage_error "${client}" --timeout --port=1 --timeout=0s
expect_usage_error "${client}" --timeout --port=1 --timeout=-1s
expect_usage_error "${client}" --host --port=1 --host=
expect_usage_error "${client}" stray --port=1 stray
expect_help "${client}" --host --port --count --timeout

# The server's stdout goes through a FIFO so the test can wait for its
# "listening" line (with a deadline) and then for EOF when it exits.
fifo="${tmp}/server.fifo"
rm -f "${fifo}"
mkfifo "${fifo}"
"${server}" --host=127.0.0.1 --port=0 >"${fifo}" 2>"${server_err}" &
server_pid=$!
exec {server_stdout}<"${fifo}"
: >"${server_out}"

line=""
if ! IFS= read -r -t 10 line <&"${server_stdout}"; then
  fail "server printed no 'listening' line within 10s (got '${line}')"
fi
echo "${line}" >>"${server_out}"
if [[ ! "${line}" =~ ^server\ listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]]; then
  fail "unexpected first line from the server: '${line}'"
fi
port="${BASH_REMATCH[1]}"
echo "server is on port ${port}"

client_status=0
client_out="$("${client}" --host=127.0.0.1 --port="${port}" --count=3 2>&1)" ||
  client_status=$?
echo "--- client output:"
echo "${client_out}"
if [[ ${client_status} -ne 0 ]]; then
  fail "client exited with status ${client_status}"
fi
replies="$(grep -c '^reply id=1 body=ping...ping...ping$' <<<"${client_out}" || true)"
if [[ "${replies}" != 3 ]]; then
  fail "expected 3 'reply id=1 body=ping...ping...ping' lines, got ${replies}"
fi

kill -TERM "${server_pid}"
# Read the rest of the server's stdout until EOF (it exited) or the deadline.
while true; do
  read_status=0
  IFS= read -r -t 10 line <&"${server_stdout}" || read_status=$?
  if [[ ${read_status} -eq 0 ]]; then
    echo "${line}" >>"${server_out}"
  elif [[ ${read_status} -gt 128 ]]; then
    fail "server did not exit within 10s of SIGTERM"
  else
    [[ -n "${line}" ]] && echo "${line}" >>"${server_out}"
    break  # EOF
  fi
done
server_status=0
wait "${server_pid}" || server_status=$?
server_pid=""
echo "--- server stdout:"
cat "${server_out}"
if [[ ${server_status} -ne 0 ]]; then
  fail "server exited with status ${server_status} after SIGTERM (want 0)"
fi

for i in 0 1 2; do
  grep -q "^recv from client: id=0 body=hello netman ${i}\$" "${server_out}" ||
    fail "server did not print message ${i}"
done
grep -q '^connection [0-9]* open, peer 127\.0\.0\.1:' "${server_out}" ||
  fail "OnOpen hook output missing"
grep -q '^connection [0-9]* closed, name=client-[0-9]* ' "${server_out}" ||
  fail "OnClose hook output missing (or it did not find the name OnOpen stored)"
echo "PASS"
