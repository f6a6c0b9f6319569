#!/usr/bin/env python3
# Copyright netman authors.
#
# End-to-end test of the tcp_server binary with a plain socket client: the
# bytes on the wire are checked against frames built here with struct (the
# Go netman wire format: little-endian uint32 body length, uint32 message id,
# then the body), independently of netman's own packer and client.
#
#   python3 tcp_server_e2e_test.py path/to/tcp_server
#
# Standard library only (socket, struct, subprocess, sys, os, signal, select,
# time). Exits 0 on success; on failure prints what went wrong and the
# server's stderr, and exits 1.

import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

STARTUP_DEADLINE = 10.0  # seconds to wait for the "listening" line
IO_TIMEOUT = 10.0  # seconds per socket operation
EXIT_DEADLINE = 10.0  # seconds for the server to exit after SIGTERM
LISTENING_PREFIX = b"tcp_server listening on "


class TestFailure(Exception):
  pass


def frame(msg_id, body):
  return struct.pack("<II", len(body), msg_id) + body


def describe(data, limit=64):
  if len(data) <= limit:
    return repr(data)
  return "%r... (%d bytes)" % (data[:limit], len(data))


def recv_exact(sock, n, what):
  """Reads exactly n bytes or raises TestFailure."""
  chunks = []
  got = 0
  while got < n:
    try:
      chunk = sock.recv(min(n - got, 1 << 20))
    except socket.timeout:
      raise TestFailure("%s: timed out after %.0fs with %d of %d bytes received"
                        % (what, IO_TIMEOUT, got, n))
    except OSError as e:
      raise TestFailure("%s: recv failed after %d of %d bytes: %s"
                        % (what, got, n, e))
    if not chunk:
      raise TestFailure("%s: server closed the connection after %d of %d bytes"
                        % (what, got, n))
    chunks.append(chunk)
    got += len(chunk)
  return b"".join(chunks)


def expect_reply(sock, expected, what):
  got = recv_exact(sock, len(expected), what)
  if got != expected:
    raise TestFailure("%s: reply bytes differ\n  want %s\n  got  %s"
                      % (what, describe(expected), describe(got)))


def connect(port):
  sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
  sock.settimeout(IO_TIMEOUT)
  return sock


def start_server(binary, stderr_file):
  return subprocess.Popen(
      [binary, "--host=127.0.0.1", "--port=0", "--loops=2"],
      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr_file)


def wait_listening(proc):
  """Returns the port from the server's "listening on" line."""
  # Read the first stdout line with a deadline (select on the pipe).
  line = b""
  deadline = time.monotonic() + STARTUP_DEADLINE
  while not line.endswith(b"\n"):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
      raise TestFailure("no 'listening' line within %.0fs (got %r)"
                        % (STARTUP_DEADLINE, line))
    ready, _, _ = select.select([proc.stdout], [], [], remaining)
    if not ready:
      continue
    chunk = os.read(proc.stdout.fileno(), 4096)
    if not chunk:
      raise TestFailure("server exited before listening (status %s, stdout %r)"
                        % (proc.wait(), line))
    line += chunk
  line = line.rstrip(b"\n")
  if not line.startswith(LISTENING_PREFIX):
    raise TestFailure("unexpected first stdout line: %r" % line)
  address = line[len(LISTENING_PREFIX):].decode()
  host, _, port = address.rpartition(":")
  if host != "127.0.0.1" or not port.isdigit():
    raise TestFailure("unexpected listening address %r" % address)
  return int(port)


def test_echo(sock):
  sock.sendall(frame(0, b"hello"))
  expected = struct.pack("<II", 5, 0) + b"hello"
  assert expected == b"\x05\x00\x00\x00\x00\x00\x00\x00hello"
  expect_reply(sock, expected, "echo of b'hello'")


def test_empty_body(sock):
  sock.sendall(frame(0, b""))
  expect_reply(sock, b"\x00" * 8, "echo of an empty body")


def test_pipelined(sock, count=500):
  bodies = [b"message %d" % i for i in range(count)]
  sock.sendall(b"".join(frame(0, body) for body in bodies))
  for i, body in enumerate(bodies):
    expect_reply(sock, frame(0, body), "pipelined message %d of %d" % (i, count))


def test_large_body(sock):
  body = bytes(i % 251 for i in range(1 << 20))
  # The server echoes only once the whole message is in, so sending it all
  # before reading cannot deadlock.
  sock.sendall(frame(0, body))
  expect_reply(sock, frame(0, body), "echo of a 1 MiB body")


def test_connection_count(first, port):
  second = connect(port)
  # A round trip on the second socket proves the server has registered it.
  second.sendall(frame(0, b"second"))
  expect_reply(second, frame(0, b"second"), "echo on the second connection")
  first.sendall(frame(1, b""))
  expect_reply(first, frame(1, b"2"), "connection count (id 1) with 2 open")
  second.sendall(frame(1, b""))
  expect_reply(second, frame(1, b"2"), "connection count (id 1) on the second")
  return second


def stop_server(proc, sockets):
  proc.send_signal(signal.SIGTERM)
  try:
    status = proc.wait(timeout=EXIT_DEADLINE)
  except subprocess.TimeoutExpired:
    raise TestFailure("server did not exit within %.0fs of SIGTERM"
                      % EXIT_DEADLINE)
  if status != 0:
    raise TestFailure("server exited with status %d after SIGTERM (want 0)"
                      % status)
  # Stop() closes every connection: each socket reads EOF, nothing else.
  for i, sock in enumerate(sockets):
    try:
      rest = sock.recv(4096)
    except ConnectionResetError:
      rest = b""
    except socket.timeout:
      raise TestFailure("connection %d still open after the server exited" % i)
    if rest:
      raise TestFailure("connection %d: unexpected bytes before EOF: %s"
                        % (i, describe(rest)))


def main():
  if len(sys.argv) != 2:
    sys.exit("usage: %s path/to/tcp_server" % sys.argv[0])
  binary = sys.argv[1]
  tmp = os.environ.get("TEST_TMPDIR", "/tmp")
  stderr_path = os.path.join(tmp, "tcp_server_e2e.stderr")
  proc = None
  step = "starting the server"
  try:
    with open(stderr_path, "wb") as stderr_file:
      proc = start_server(binary, stderr_file)
    port = wait_listening(proc)
    print("tcp_server is on port %d" % port)
    step = "connecting"
    sock = connect(port)
    tests = [
        ("echo", lambda: test_echo(sock)),
        ("empty body", lambda: test_empty_body(sock)),
        ("500 pipelined messages", lambda: test_pipelined(sock)),
        ("1 MiB body", lambda: test_large_body(sock)),
    ]
    for name, test in tests:
      step = name
      test()
      print("ok: %s" % name)
    step = "connection count"
    second = test_connection_count(sock, port)
    print("ok: %s" % step)
    step = "SIGTERM"
    stop_server(proc, [sock, second])
    print("ok: clean exit on SIGTERM")
    step = "server stderr"
    with open(stderr_path, "rb") as f:
      stderr = f.read()
    if b"ERROR" in stderr:
      raise TestFailure("server stderr has ERROR lines")
  except (TestFailure, OSError) as e:
    print("FAIL (%s): %s" % (step, e), file=sys.stderr)
    try:
      with open(stderr_path, "rb") as f:
        print("--- server stderr:\n%s" % f.read().decode(errors="replace"),
              file=sys.stderr)
    except OSError:
      pass
    return 1
  finally:
    if proc is not None and proc.poll() is None:
      proc.kill()
      proc.wait()
  print("--- server stderr:\n%s" % stderr.decode(errors="replace"))
  print("PASS")
  return 0


if __name__ == "__main__":
  sys.exit(main())
