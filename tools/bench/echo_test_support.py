# Copyright netman authors.
#
# What the benchmark baselines' end-to-end tests share (standard-library
# Python 3 only): the failure type, a blocking client socket that reads
# exact byte counts and to EOF, and a server process started with --port=0
# whose "<name> listening on 127.0.0.1:<port>" line gives the port and which
# must exit 0 on SIGTERM. Used by ws_echo_server_test.py and
# frame_echo_baselines_test.py, which add their protocol's framing.

import os
import re
import select
import signal
import socket
import subprocess
import sys


class TestFailure(Exception):
  pass


def check(cond, what):
  if not cond:
    raise TestFailure(what)


class StreamClient:
  """A TCP client to 127.0.0.1 with a read buffer."""

  def __init__(self, port):
    self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    self.buf = b""

  def close(self):
    self.sock.close()

  def send(self, data):
    self.sock.sendall(data)

  def _fill(self):
    chunk = self.sock.recv(1 << 20)
    if not chunk:
      raise EOFError("the server closed the connection")
    self.buf += chunk

  def read_exact(self, n):
    while len(self.buf) < n:
      self._fill()
    out, self.buf = self.buf[:n], self.buf[n:]
    return out

  def expect_eof(self, what):
    """Reads to the end of the stream (a reset counts too); returns what came."""
    try:
      while True:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
          break
        self.buf += chunk
    except ConnectionResetError:
      pass
    except socket.timeout:
      raise TestFailure("%s: the server did not close the connection" % what)
    rest, self.buf = self.buf, b""
    return rest


class Server:
  """A server binary on 127.0.0.1, any free port, with extra `flags`."""

  def __init__(self, binary, *flags):
    self.name = os.path.basename(binary)
    self.proc = subprocess.Popen([binary, "--host=127.0.0.1", "--port=0"] + list(flags),
                                 stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([self.proc.stdout], [], [], 10)
    line = self.proc.stdout.readline() if ready else ""
    m = re.search(r"^%s listening on 127\.0\.0\.1:(\d+)$" % re.escape(self.name), line.strip())
    if not m:
      self.proc.kill()
      raise TestFailure("%s printed %r instead of its listening line" % (self.name, line))
    self.port = int(m.group(1))

  def stop(self):
    check(self.proc.poll() is None, "%s died (exit %s)" % (self.name, self.proc.poll()))
    self.proc.send_signal(signal.SIGTERM)
    try:
      code = self.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
      self.proc.kill()
      raise TestFailure("%s ignored SIGTERM" % self.name)
    check(code == 0, "%s exited %d" % (self.name, code))


def run(main):
  """Runs `main`, turning a failure into 'FAIL: ...' and exit status 1."""
  try:
    main()
  except (TestFailure, EOFError, OSError) as e:
    print("FAIL: %s: %s" % (type(e).__name__, e), file=sys.stderr)
    sys.exit(1)
