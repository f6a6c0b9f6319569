#!/usr/bin/env python3
# Copyright netman authors.
#
# Command-line test of the tcp_server binary, run as a subprocess:
#   - every bad flag value is a usage error: exit status 2 and a message on
#     stderr naming the flag (abseil's own errors, such as a value that is not
#     a number, exit 1 and name the flag too); the binary must not start
#     listening;
#   - --help prints the usage line and every flag with its default, exit 0;
#   - a run with every flag set serves: echo works, --max_body and the
#     heartbeat (--heartbeat_idle_time / --heartbeat_check_interval) take
#     effect, and SIGTERM makes it exit 0.
#
#   python3 tcp_server_flags_test.py path/to/tcp_server
#
# Standard library only. Nothing waits by sleeping: the test waits for the
# "listening on" line, for EOF, or for the process to exit, each with a
# deadline. Exits 0 on success; otherwise prints every failure and exits 1.

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

DEADLINE = 10.0  # seconds for any one wait
LISTENING_PREFIX = b"tcp_server listening on "
# Keeps a binary that wrongly accepts a bad flag off the default port 8999.
SAFE = ["--host=127.0.0.1", "--port=0"]

# (extra arguments, text stderr must contain, wanted exit status)
USAGE_ERRORS = [
    (SAFE + ["--loops=-3"], "--loops", 2),
    (SAFE + ["--loops=100000"], "--loops", 2),
    (SAFE + ["--log_level=bogus"], "--log_level", 2),
    (SAFE + ["--shutdown_timeout=-5s"], "--shutdown_timeout", 2),
    (SAFE + ["--shutdown_timeout=inf"], "--shutdown_timeout", 2),
    (SAFE + ["--heartbeat_idle_time=1s", "--heartbeat_check_interval=2s"],
     "--heartbeat_check_interval", 2),
    (SAFE + ["--heartbeat_idle_time=0", "--heartbeat_check_interval=1s"],
     "--heartbeat_idle_time", 2),
    (SAFE + ["--heartbeat_idle_time=-1s"], "--heartbeat_idle_time", 2),
    (SAFE + ["--tcp_keepalive=-1s"], "--tcp_keepalive", 2),
    (SAFE + ["--tcp_keepalive=1500ms"], "--tcp_keepalive", 2),
    (SAFE + ["--output_policy=drop"], "--output_policy", 2),
    (["--port=0", "--host="], "--host", 2),
    (["--port=0", "--host=example.com"], "--host", 2),
    (["--port=0", "--host=1.2.3.4.5"], "--host", 2),
    (["--host=127.0.0.1", "--port=65536"], "--port", 2),
    (["--host=127.0.0.1", "--port=-1"], "--port", 2),
    (SAFE + ["--handshake_timeout=-1s"], "--handshake_timeout", 2),
    (SAFE + ["--tls_cert=/nonexistent/cert.pem", "--tls_key=/nonexistent/key.pem"],
     "--tls_cert", 2),
    (SAFE + ["--tls_key=/nonexistent/key.pem"], "--tls_key", 2),
    (SAFE + ["--tls_min_version=1.1"], "--tls_min_version", 2),
    (SAFE + ["stray-argument"], "stray-argument", 2),
    # Rejected by abseil itself, which exits 1.
    (SAFE + ["--loops=abc"], "'loops'", 1),
    (SAFE + ["--max_body=-1"], "'max_body'", 1),
    (SAFE + ["--no_such_flag=1"], "'no_such_flag'", 1),
]

ALL_FLAGS = [
    "host", "port", "loops", "max_body", "heartbeat_idle_time",
    "heartbeat_check_interval", "tcp_keepalive", "max_output_bytes",
    "output_policy", "shutdown_timeout", "log_level", "handshake_timeout",
    "tls_cert", "tls_key", "tls_min_version", "tls_client_ca", "tls_ciphers",
    "tls_alpn",
]


class TestFailure(Exception):
  pass


def frame(msg_id, body):
  return struct.pack("<II", len(body), msg_id) + body


def read_line(proc, deadline):
  """The next stdout line (without newline), or None at EOF."""
  line = b""
  while not line.endswith(b"\n"):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
      raise TestFailure("no complete stdout line in time (got %r)" % line)
    ready, _, _ = select.select([proc.stdout], [], [], remaining)
    if not ready:
      continue
    chunk = os.read(proc.stdout.fileno(), 1)
    if not chunk:
      return None if not line else line
    line += chunk
  return line.rstrip(b"\n")


def run_to_exit(binary, args):
  """Runs the binary; returns (status, stdout, stderr).

  Fails at once if it prints the "listening" line (it accepted the flags).
  """
  proc = subprocess.Popen([binary] + args, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  try:
    deadline = time.monotonic() + DEADLINE
    out = []
    while True:
      line = read_line(proc, deadline)
      if line is None:
        break
      if line.startswith(LISTENING_PREFIX):
        raise TestFailure("accepted the flags and started: %r" % line)
      out.append(line)
    status = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    return status, b"\n".join(out).decode(), proc.stderr.read().decode()
  except subprocess.TimeoutExpired:
    raise TestFailure("did not exit within %.0fs" % DEADLINE)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def check_usage_error(binary, args, needle, want_status):
  status, _, stderr = run_to_exit(binary, args)
  if status != want_status:
    raise TestFailure("exit status %d, want %d (stderr %r)"
                      % (status, want_status, stderr))
  if needle not in stderr:
    raise TestFailure("stderr does not name %s: %r" % (needle, stderr))
  return stderr.strip().splitlines()[0]


def check_help(binary):
  status, stdout, stderr = run_to_exit(binary, ["--help"])
  if status != 0:
    raise TestFailure("--help exited %d, want 0 (stderr %r)" % (status, stderr))
  if "Usage: tcp_server" not in stdout:
    raise TestFailure("--help printed no usage line: %r" % stdout)
  for name in ALL_FLAGS:
    if "--%s " % name not in stdout:
      raise TestFailure("--help does not list --%s:\n%s" % (name, stdout))
  # The binary's heartbeat default (the library's is off).
  if "default: 5m;" not in stdout:
    raise TestFailure("--help does not show the 5m heartbeat default:\n%s"
                      % stdout)


def recv_exact(sock, n):
  data = b""
  while len(data) < n:
    chunk = sock.recv(n - len(data))
    if not chunk:
      raise TestFailure("EOF after %d of %d bytes" % (len(data), n))
    data += chunk
  return data


def wait_closed(sock, what):
  """Waits (up to DEADLINE) for the server to close `sock`."""
  try:
    while sock.recv(4096):
      pass
  except ConnectionResetError:
    pass
  except socket.timeout:
    raise TestFailure("%s: still open after %.0fs" % (what, DEADLINE))


def check_good_flags(binary, stderr_path):
  idle = 0.3
  args = ["--host=127.0.0.1", "--port=0", "--loops=1", "--max_body=1024",
          "--heartbeat_idle_time=300ms", "--heartbeat_check_interval=50ms",
          "--tcp_keepalive=60s", "--max_output_bytes=1048576",
          "--output_policy=close", "--shutdown_timeout=2s", "--log_level=debug"]
  with open(stderr_path, "wb") as stderr_file:
    proc = subprocess.Popen([binary] + args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=stderr_file)
  try:
    line = read_line(proc, time.monotonic() + DEADLINE)
    if line is None or not line.startswith(LISTENING_PREFIX):
      raise TestFailure("no 'listening' line (got %r, status %s)"
                        % (line, proc.poll()))
    port = int(line.rpartition(b":")[2])

    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
      s.sendall(frame(0, b"flags"))
      if recv_exact(s, 13) != frame(0, b"flags"):
        raise TestFailure("echo reply differs")
    print("ok: serves with every flag set")

    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
      s.sendall(frame(0, b"x" * 1025))
      wait_closed(s, "connection with a body over --max_body=1024")
    print("ok: --max_body closes an oversize message's connection")

    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as s:
      wait_closed(s, "silent connection with --heartbeat_idle_time=300ms")
    elapsed = time.monotonic() - start
    if elapsed < idle:
      raise TestFailure("silent connection closed after %.3fs, before the "
                        "idle time" % elapsed)
    print("ok: heartbeat closed a silent connection after %.3fs" % elapsed)

    proc.send_signal(signal.SIGTERM)
    stats = read_line(proc, time.monotonic() + DEADLINE)
    status = proc.wait(timeout=DEADLINE)
    if status != 0:
      raise TestFailure("exit status %d after SIGTERM, want 0" % status)
    counters = json.loads(stats)
    if counters.get("idle_closes") != 1:
      raise TestFailure("stats show %r idle closes, want 1: %s"
                        % (counters.get("idle_closes"), stats))
    print("ok: SIGTERM exits 0; stats %s" % stats.decode())
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
    proc.stdout.close()


def main():
  if len(sys.argv) != 2:
    sys.exit("usage: %s path/to/tcp_server" % sys.argv[0])
  binary = sys.argv[1]
  tmp = os.environ.get("TEST_TMPDIR", "/tmp")
  failures = []

  def attempt(name, fn, *args):
    try:
      result = fn(*args)
      print("ok: %s%s" % (name, ": " + result if result else ""))
    except (TestFailure, OSError, ValueError) as e:
      failures.append("%s: %s" % (name, e))
      print("FAIL: %s: %s" % (name, e), file=sys.stderr)

  for args, needle, want in USAGE_ERRORS:
    attempt(" ".join(args), check_usage_error, binary, args, needle, want)
  attempt("--help", check_help, binary)
  stderr_path = os.path.join(tmp, "tcp_server_flags.stderr")
  attempt("good flags", check_good_flags, binary, stderr_path)
  if failures:
    try:
      with open(stderr_path, "rb") as f:
        print("--- server stderr of the good-flags run:\n%s"
              % f.read().decode(errors="replace"), file=sys.stderr)
    except OSError:
      pass
    print("%d FAILED:\n  %s" % (len(failures), "\n  ".join(failures)),
          file=sys.stderr)
    return 1
  print("PASS")
  return 0


if __name__ == "__main__":
  sys.exit(main())
