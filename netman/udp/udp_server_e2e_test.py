#!/usr/bin/env python3
# Copyright netman authors.
#
# End-to-end test of the udp_server binary with plain Python UDP sockets:
# datagrams are built here with struct (the Go netman wire format:
# little-endian uint32 body length, uint32 message id, then the body),
# independently of netman's packer and client.
#
#   python3 udp_server_e2e_test.py path/to/udp_server
#
# Checks: echo round trips, several messages in one datagram answered in one
# datagram, empty / truncated / garbage datagrams dropped and counted (the
# SIGUSR1 stats) without disturbing the peer or others, the session count,
# bad flag values (exit 2), and a graceful exit on SIGTERM. Standard library
# only. Exits 0 on success, 1 with a reason otherwise.

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

STARTUP_DEADLINE = 10.0
IO_TIMEOUT = 5.0
RETRIES = 3  # UDP is lossy: a request without a reply is sent again
EXIT_DEADLINE = 10.0
LISTENING_PREFIX = b"udp_server listening on "


class TestFailure(Exception):
  pass


def frame(msg_id, body):
  return struct.pack("<II", len(body), msg_id) + body


def check(cond, what):
  if not cond:
    raise TestFailure(what)


def start(binary, *flags):
  proc = subprocess.Popen([binary, "--host=127.0.0.1", "--port=0", "--loops=2",
                           "--log_level=warning"] + list(flags),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  deadline = time.time() + STARTUP_DEADLINE
  line = proc.stdout.readline()
  check(line.startswith(LISTENING_PREFIX),
        "no listening line before %.0fs: %r" % (STARTUP_DEADLINE, line))
  check(time.time() < deadline, "slow start")
  port = int(line[len(LISTENING_PREFIX):].strip().rsplit(b":", 1)[1])
  return proc, port


def client(port):
  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
  s.settimeout(IO_TIMEOUT)
  s.connect(("127.0.0.1", port))
  return s


def request(sock, datagram):
  """Sends `datagram`, returns the reply datagram (retrying on loss)."""
  for _ in range(RETRIES):
    sock.send(datagram)
    try:
      return sock.recv(65536)
    except socket.timeout:
      continue
  raise TestFailure("no reply to %r after %d tries" % (datagram[:32], RETRIES))


def stats(proc):
  proc.send_signal(signal.SIGUSR1)
  server = json.loads(proc.stdout.readline())
  udp = json.loads(proc.stdout.readline())
  return server, udp


def test_server(binary):
  proc, port = start(binary)
  try:
    a = client(port)
    b = client(port)
    # Echo, byte for byte.
    check(request(a, frame(0, b"hello")) == frame(0, b"hello"), "echo")
    check(request(a, frame(0, b"")) == frame(0, b""), "empty body echo")
    big = os.urandom(60000)
    check(request(b, frame(0, big)) == frame(0, big), "60000-byte echo")
    # Several messages in one datagram: the replies come in one datagram.
    many = frame(0, b"a") + frame(0, b"bb") + frame(0, b"ccc")
    check(request(a, many) == many, "three messages, one datagram")
    # Bad datagrams: dropped, counted, and the peer still works.
    for bad in [b"", frame(0, b"hello")[:5], frame(0, b"hello")[:-1],
                frame(0, b"ok") + b"\x01\x02", b"\xff" * 12]:
      a.send(bad)
    check(request(a, frame(0, b"after")) == frame(0, b"after"), "echo after bad datagrams")
    check(request(b, frame(0, b"other")) == frame(0, b"other"), "other peer unaffected")
    # Two peers: two sessions.
    check(request(a, frame(1, b"")) == frame(1, b"2"), "session count")
    server, udp = stats(proc)
    check(udp["dropped_empty"] == 1, "dropped_empty %r" % udp)
    check(udp["dropped_truncated"] == 3, "dropped_truncated %r" % udp)
    # 0xffffffff declares a 4 GiB body: over --max_body.
    check(udp["dropped_oversize"] == 1, "dropped_oversize %r" % udp)
    check(server["decode_errors"] == 5, "decode_errors %r" % server)
    check(server["connections_open"] == 2, "sessions %r" % server)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=EXIT_DEADLINE)
    check(proc.returncode == 0, "exit status %d: %s" % (proc.returncode, err))
    final = json.loads(out.splitlines()[0])
    check(final["connections_open"] == 0, "sessions left after exit: %r" % final)
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()


def test_bad_flags(binary):
  for flag in ["--udp_batch=0", "--udp_batch=5000", "--max_sessions=0",
               "--max_datagram_bytes=70000", "--loops=-1"]:
    r = subprocess.run([binary, flag], capture_output=True, timeout=EXIT_DEADLINE)
    name = flag.split("=")[0]
    check(r.returncode == 2, "%s: exit %d, want 2" % (flag, r.returncode))
    check(name.encode() in r.stderr, "%s: stderr does not name it: %r" % (flag, r.stderr))
  r = subprocess.run([binary, "--help"], capture_output=True, timeout=EXIT_DEADLINE)
  check(r.returncode == 0 and b"--udp_batch" in r.stdout, "--help")


def main():
  binary = sys.argv[1]
  try:
    test_server(binary)
    test_bad_flags(binary)
  except TestFailure as e:
    print("FAIL:", e)
    return 1
  print("PASS")
  return 0


if __name__ == "__main__":
  sys.exit(main())
