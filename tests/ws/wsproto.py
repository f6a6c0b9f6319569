# Copyright netman authors.
#
# The client side of the WebSocket tests, written here from RFC 6455 and
# RFC 7692 with the Python 3 standard library only (no websockets package):
#   * ServerProcess: the ws_server binary on 127.0.0.1, any free port; its
#     "ws_server listening on 127.0.0.1:<port>" line gives the port, and it
#     must exit 0 on SIGTERM. Its stderr goes to a file shown on failure.
#   * Conn: a TCP client with a read buffer (exact reads, HTTP heads, EOF).
#   * WsClient: the opening handshake (checked: 101, Upgrade, Connection,
#     Sec-WebSocket-Accept), frames built bit by bit so a test can break any
#     rule (mask, RSV bits, opcodes, lengths that lie), server frames parsed
#     strictly (never masked, shortest length form, no RSV bits unless
#     permessage-deflate owns RSV1), messages reassembled and inflated, and
#     close frames checked (code, reason, then EOF).
#   * Suite: named cases run in order; each failure is reported with its
#     evidence and the others still run; a JUnit XML file for Bazel
#     ($XML_OUTPUT_FILE) so CI counts every case.
#
# Nothing here sleeps to synchronise: a test that needs the server to have
# read some bytes before sending more uses a ping round trip on another
# connection of a one-loop server (WsClient.barrier).

import asyncio
import base64
import hashlib
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import xml.sax.saxutils
import zlib

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 4, 2, 1  # the `rsv` argument of frame(): bits 6, 5, 4

# Seconds a test waits for something the server should do at once. Large
# because sanitizer builds on a loaded 2-core machine are slow; a passing
# test never waits for it.
IO_TIMEOUT = float(os.environ.get("NETMAN_WS_TEST_IO_TIMEOUT", "20"))

DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 7.2.1


class TestFailure(Exception):
  pass


def check(cond, what):
  if not cond:
    raise TestFailure(what)


def run_async(coro_fn, *args):
  """Runs an async case; library errors become TestFailure with their repr."""
  async def bounded():
    return await asyncio.wait_for(coro_fn(*args), timeout=3 * IO_TIMEOUT)
  try:
    asyncio.run(bounded())
  except TestFailure:
    raise
  except Exception as e:  # the library's errors carry the evidence
    raise TestFailure("%s: %r" % (type(e).__name__, e))


def accept_for(key):
  return base64.b64encode(hashlib.sha1(key + GUID).digest())


def new_key(rng=random):
  return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(16)))


def mask(payload, key):
  """payload XOR the 4-byte key repeated (fast for megabytes)."""
  n = len(payload)
  if n == 0:
    return b""
  stream = (key * (n // 4 + 1))[:n]
  return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(
      n, "little")


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, key=b"\x37\xfa\x21\x3d",
          length=None, length_form=None):
  """A client frame. `length` overrides the declared payload length (a lie);
  `length_form` forces 7, 16 or 64 for the length encoding."""
  n = len(payload) if length is None else length
  out = bytes([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)])
  mask_bit = 0x80 if masked else 0
  form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
  if form == 7:
    out += bytes([mask_bit | n])
  elif form == 16:
    out += bytes([mask_bit | 126]) + struct.pack("!H", n)
  else:
    out += bytes([mask_bit | 127]) + struct.pack("!Q", n)
  if masked:
    out += key
    payload = mask(payload, key)
  return out + payload


def close_payload(code=None, reason=b""):
  return b"" if code is None else struct.pack("!H", code) + reason


def upgrade_request(key, path=b"/", version=b"13", extra=b"", host=b"127.0.0.1",
                    connection=b"Upgrade", upgrade=b"websocket"):
  return (b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nUpgrade: " + upgrade +
          b"\r\nConnection: " + connection + b"\r\nSec-WebSocket-Key: " + key +
          b"\r\nSec-WebSocket-Version: " + version + b"\r\n" + extra + b"\r\n")


def deflate_message(payload, compressor=None, wbits=15):
  """RFC 7692 7.2.1: DEFLATE, sync flush, the final 00 00 ff ff removed.
  With a `compressor` the context is taken over from earlier messages."""
  c = compressor or zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -wbits)
  data = c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH)
  check(data.endswith(DEFLATE_TAIL), "zlib did not end a sync flush with 00 00 ff ff")
  return data[:-4]


def parse_extensions(value):
  """'a; x=1; y, b' -> [('a', {'x': '1', 'y': None}), ('b', {})]."""
  out = []
  for ext in value.split(","):
    parts = [p.strip() for p in ext.split(";")]
    if not parts[0]:
      continue
    params = {}
    for p in parts[1:]:
      if not p:
        continue
      name, eq, val = p.partition("=")
      params[name.strip()] = val.strip().strip('"') if eq else None
    out.append((parts[0], params))
  return out


# --- the server process -------------------------------------------------------

class ServerProcess:
  """The ws_server binary on 127.0.0.1, any free port, with extra `flags`."""

  def __init__(self, binary, *flags):
    self.binary = binary
    self.flags = list(flags)
    self.stderr_file = tempfile.NamedTemporaryFile(
        prefix="ws_server.", suffix=".stderr", dir=os.environ.get("TEST_TMPDIR"), delete=False)
    self.proc = subprocess.Popen([binary, "--host=127.0.0.1", "--port=0"] + self.flags,
                                 stdout=subprocess.PIPE, stderr=self.stderr_file, text=True)
    ready, _, _ = select.select([self.proc.stdout], [], [], IO_TIMEOUT)
    line = self.proc.stdout.readline() if ready else ""
    m = re.search(r"^ws_server listening on 127\.0\.0\.1:(\d+)$", line.strip())
    if not m:
      self.proc.kill()
      self.proc.wait()
      raise TestFailure("ws_server %s printed %r instead of 'ws_server listening on "
                        "127.0.0.1:<port>'; stderr:\n%s" % (" ".join(self.flags), line,
                                                            self.stderr_tail()))
    self.port = int(m.group(1))

  def stderr_tail(self, n=30):
    try:
      with open(self.stderr_file.name, "rb") as f:
        lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
      return ""
    return "\n".join(lines[-n:])

  def alive(self):
    return self.proc.poll() is None

  def check_alive(self, what=""):
    check(self.alive(), "ws_server died%s (exit %s); stderr:\n%s" %
          (" " + what if what else "", self.proc.poll(), self.stderr_tail()))

  def cpu_seconds(self):
    """User + system CPU time the server has used so far."""
    with open("/proc/%d/stat" % self.proc.pid) as f:
      fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

  def rss_bytes(self):
    with open("/proc/%d/status" % self.proc.pid) as f:
      for line in f:
        if line.startswith("VmRSS:"):
          return int(line.split()[1]) * 1024
    return 0

  def open_fds(self):
    return len(os.listdir("/proc/%d/fd" % self.proc.pid))

  def stop(self, signum=signal.SIGTERM):
    """Sends `signum`; the server must exit 0 within IO_TIMEOUT."""
    self.check_alive("before it was stopped")
    self.proc.send_signal(signum)
    try:
      code = self.proc.wait(timeout=IO_TIMEOUT)
    except subprocess.TimeoutExpired:
      self.proc.kill()
      self.proc.wait()
      raise TestFailure("ws_server ignored signal %d for %ss" % (signum, IO_TIMEOUT))
    check(code == 0, "ws_server exited %d after signal %d; stderr:\n%s" %
          (code, signum, self.stderr_tail()))

  def kill(self):
    if self.alive():
      self.proc.kill()
      self.proc.wait()


# --- clients ------------------------------------------------------------------

class Conn:
  """A TCP client to 127.0.0.1 with a read buffer."""

  def __init__(self, port, timeout=IO_TIMEOUT):
    self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    self.buf = b""

  def close(self):
    try:
      self.sock.close()
    except OSError:
      pass

  def send(self, data):
    self.sock.sendall(data)

  def fill(self):
    try:
      chunk = self.sock.recv(1 << 20)
    except socket.timeout:
      raise TestFailure("no reply from the server within %ss" % self.sock.gettimeout())
    if not chunk:
      raise EOFError("the server closed the connection")
    self.buf += chunk

  def read_exact(self, n):
    while len(self.buf) < n:
      self.fill()
    out, self.buf = self.buf[:n], self.buf[n:]
    return out

  def read_until_eof(self, what="the server"):
    """Reads to the end of the stream (a reset counts); returns what came."""
    try:
      while True:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
          break
        self.buf += chunk
    except (ConnectionResetError, BrokenPipeError):
      pass
    except socket.timeout:
      raise TestFailure("%s: the server did not close the connection within %ss" %
                        (what, self.sock.gettimeout()))
    rest, self.buf = self.buf, b""
    return rest

  def read_http_head(self):
    """(status code, status line, {lower-case name: value}); the body stays
    in the buffer."""
    while b"\r\n\r\n" not in self.buf:
      self.fill()
    end = self.buf.index(b"\r\n\r\n") + 4
    head, self.buf = self.buf[:end], self.buf[end:]
    lines = head[:-4].split(b"\r\n")
    m = re.match(rb"^HTTP/1\.1 (\d{3}) ", lines[0] + b" ")
    check(m, "not an HTTP/1.1 status line: %r" % lines[0][:100])
    headers = {}
    for line in lines[1:]:
      name, _, value = line.partition(b":")
      headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return int(m.group(1)), lines[0], headers

  def read_http_response(self, what):
    """A whole response (Content-Length or to EOF): (status, headers, body)."""
    status, line, headers = self.read_http_head()
    if "content-length" in headers:
      body = self.read_exact(int(headers["content-length"]))
    else:
      body = self.read_until_eof(what)
    return status, headers, body


class Frame:
  def __init__(self, fin, rsv, opcode, payload):
    self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

  def __repr__(self):
    return "Frame(fin=%d rsv=%d op=0x%x %d bytes %r)" % (
        self.fin, self.rsv, self.opcode, len(self.payload), self.payload[:40])


class Closed(Exception):
  """The server sent a close frame where a test expected a message."""

  def __init__(self, code, reason):
    super().__init__("close %s %r" % (code, reason))
    self.code, self.reason = code, reason


class WsClient(Conn):
  """A WebSocket client connection (handshake done by connect())."""

  def __init__(self, port, timeout=IO_TIMEOUT):
    super().__init__(port, timeout)
    self.deflate = None  # the negotiated permessage-deflate params, or None
    self.response_headers = {}
    self._inflater = None

  @classmethod
  def connect(cls, port, path=b"/", extensions=None, extra=b"", timeout=IO_TIMEOUT):
    c = cls(port, timeout)
    c.handshake(path, extensions, extra)
    return c

  def handshake(self, path=b"/", extensions=None, extra=b""):
    key = new_key()
    if extensions is not None:
      extra += b"Sec-WebSocket-Extensions: " + extensions.encode() + b"\r\n"
    self.send(upgrade_request(key, path, extra=extra))
    self.expect_101(key)

  def expect_101(self, key):
    status, line, headers = self.read_http_head()
    check(status == 101, "status line %r, want 101" % line)
    check(headers.get("upgrade", "").lower() == "websocket", "Upgrade header in %r" % headers)
    check("upgrade" in [t.strip().lower() for t in headers.get("connection", "").split(",")],
          "Connection header in %r" % headers)
    check(headers.get("sec-websocket-accept", "").encode() == accept_for(key),
          "Sec-WebSocket-Accept %r, want %r" % (headers.get("sec-websocket-accept"),
                                                accept_for(key)))
    self.response_headers = headers
    exts = parse_extensions(headers.get("sec-websocket-extensions", ""))
    check(len(exts) <= 1, "more than one extension accepted: %r" % exts)
    if exts:
      name, params = exts[0]
      check(name == "permessage-deflate", "unknown extension accepted: %r" % name)
      self.deflate = params
      bits = params.get("server_max_window_bits")
      self._server_wbits = int(bits) if bits else 15
      self._inflater = zlib.decompressobj(-self._server_wbits)
      bits = params.get("client_max_window_bits")
      self.client_wbits = int(bits) if bits else 15
      self._compressor = None

  def compress(self, payload, takeover=True):
    """`payload` compressed for this connection: within the negotiated
    client_max_window_bits, and with the context taken over from the
    previous compress() call if `takeover` and the server did not ask for
    client_no_context_takeover."""
    check(self.deflate is not None, "compress() without permessage-deflate negotiated")
    if not takeover or "client_no_context_takeover" in self.deflate:
      return deflate_message(payload, wbits=self.client_wbits)
    if self._compressor is None:
      self._compressor = zlib.compressobj(6, zlib.DEFLATED, -self.client_wbits)
    return deflate_message(payload, self._compressor)

  # Frames out.
  def send_frame(self, opcode, payload=b"", **kw):
    self.send(frame(opcode, payload, **kw))

  def send_text(self, text):
    self.send_frame(OP_TEXT, text if isinstance(text, bytes) else text.encode())

  def send_close(self, code=None, reason=b""):
    self.send_frame(OP_CLOSE, close_payload(code, reason))

  # Frames in.
  def recv_frame(self):
    """The next server frame, checked: unmasked, shortest length form, RSV
    bits only as RSV1 on a data frame's first frame with deflate."""
    b0, b1 = self.read_exact(2)
    check(b1 & 0x80 == 0, "the server masked a frame (byte 1 = 0x%02x)" % b1)
    n = b1 & 0x7F
    if n == 126:
      (n,) = struct.unpack("!H", self.read_exact(2))
      check(n >= 126, "length %d not in the shortest form" % n)
    elif n == 127:
      (n,) = struct.unpack("!Q", self.read_exact(8))
      check(n >= 65536 and n < 1 << 63, "64-bit length %d not valid/shortest" % n)
    f = Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, self.read_exact(n))
    check(f.opcode in (0, 1, 2, 8, 9, 10), "server sent reserved opcode 0x%x" % f.opcode)
    allowed_rsv = RSV1 if self.deflate is not None and f.opcode in (1, 2) else 0
    check(f.rsv & ~allowed_rsv == 0, "server frame with RSV bits %d: %r" % (f.rsv, f))
    if f.opcode >= 8:
      check(f.fin and n <= 125, "server control frame fragmented or > 125 bytes: %r" % f)
    return f

  def recv_message(self, pongs=None):
    """(opcode, payload) of the next data message, reassembled and inflated.
    Pongs are collected in `pongs` (a list) if given, else they fail the
    test; a ping from the server is answered and skipped. A close raises
    Closed."""
    opcode, parts, compressed = None, [], False
    while True:
      f = self.recv_frame()
      if f.opcode == OP_PING:
        self.send_frame(OP_PONG, f.payload)
        continue
      if f.opcode == OP_CLOSE:
        code, reason = self.parse_close(f.payload)
        raise Closed(code, reason)
      if f.opcode == OP_PONG and pongs is not None:
        pongs.append(f.payload)
        continue
      check(f.opcode in (OP_CONT, OP_TEXT, OP_BINARY), "unexpected frame %r" % f)
      if opcode is None:
        check(f.opcode != OP_CONT, "server sent a continuation with no message open")
        opcode, compressed = f.opcode, bool(f.rsv & RSV1)
      else:
        check(f.opcode == OP_CONT, "server started a message inside another: %r" % f)
        check(f.rsv == 0, "RSV bits on a continuation frame: %r" % f)
      parts.append(f.payload)
      if f.fin:
        break
    payload = b"".join(parts)
    if compressed:
      payload = self.inflate(payload)
    if opcode == OP_TEXT:
      try:
        payload.decode("utf-8")
      except UnicodeDecodeError as e:
        raise TestFailure("server sent invalid UTF-8 in a text message: %s" % e)
    return opcode, payload

  def inflate(self, data):
    if "server_no_context_takeover" in self.deflate:
      # The server promised a fresh context per message: decode with one.
      self._inflater = zlib.decompressobj(-self._server_wbits)
    try:
      out = self._inflater.decompress(data + DEFLATE_TAIL)
    except zlib.error as e:
      raise TestFailure("the server's compressed message does not inflate (window bits %d): "
                        "%s" % (self._server_wbits, e))
    return out

  def expect_message(self, opcode, payload, what=""):
    try:
      op, got = self.recv_message()
    except Closed as e:
      raise TestFailure("%s: got a close %s %r instead of the echo" % (what, e.code, e.reason))
    check(op == opcode, "%s: opcode 0x%x, want 0x%x" % (what, op, opcode))
    check(got == payload, "%s: payload of %d bytes %r differs from the %d bytes %r sent" %
          (what, len(got), got[:40], len(payload), payload[:40]))

  def echo(self, opcode, payload, what="echo"):
    self.send_frame(opcode, payload)
    self.expect_message(opcode, payload, what)

  @staticmethod
  def parse_close(payload):
    check(len(payload) != 1, "server close frame with a 1-byte payload")
    if not payload:
      return None, b""
    (code,) = struct.unpack("!H", payload[:2])
    reason = payload[2:]
    try:
      reason.decode("utf-8")
    except UnicodeDecodeError:
      raise TestFailure("server close reason is not UTF-8: %r" % reason)
    return code, reason

  def expect_close(self, codes, what="", reply=True, allow_messages=False):
    """Reads frames until a close frame whose code is in `codes` (None in
    `codes` accepts a close without a code); then answers with a close (if
    `reply`) and expects the server to end the TCP connection. Returns
    (code, reason). Data frames before the close fail the test unless
    `allow_messages`."""
    while True:
      try:
        f = self.recv_frame()
      except EOFError:
        raise TestFailure("%s: the connection ended without a close frame (want %s)" %
                          (what, codes))
      if f.opcode == OP_CLOSE:
        break
      if f.opcode == OP_PONG or allow_messages:
        continue
      raise TestFailure("%s: got %r, want a close frame %s" % (what, f, codes))
    code, reason = self.parse_close(f.payload)
    check(code in codes, "%s: close code %s (reason %r), want one of %s" %
          (what, code, reason, codes))
    if reply:
      try:
        self.send(frame(OP_CLOSE, close_payload(code) if code else b""))
      except (BrokenPipeError, ConnectionResetError):
        pass
    rest = self.read_until_eof(what)
    check(rest == b"", "%s: %d bytes after the close frame: %r" % (what, len(rest), rest[:40]))
    return code, reason

  def barrier(self, token=None):
    """Ping round trip: on a one-loop server, when this returns the server
    has read everything sent on any connection before it."""
    token = token or b"barrier %d" % random.getrandbits(32)
    self.send_frame(OP_PING, token)
    while True:
      f = self.recv_frame()
      if f.opcode == OP_PONG and f.payload == token:
        return
      check(f.opcode in (OP_PONG, OP_PING), "barrier: unexpected %r" % f)


# --- running cases ------------------------------------------------------------

class Suite:
  """Named cases run in order; a failing case does not stop the others."""

  def __init__(self, name):
    self.name = name
    self.results = []  # (case name, seconds, failure text or None)

  def case(self, name, fn, *args):
    start = time.monotonic()
    failure = None
    try:
      fn(*args)
    except (TestFailure, EOFError, OSError, Closed, AssertionError) as e:
      failure = "%s: %s" % (type(e).__name__, e)
      if not isinstance(e, TestFailure):
        failure += "\n" + traceback.format_exc()
    seconds = time.monotonic() - start
    self.results.append((name, seconds, failure))
    if failure:
      print("FAIL %s (%.2fs)\n    %s" % (name, seconds, failure.replace("\n", "\n    ")),
            flush=True)
    else:
      print("ok   %s (%.2fs)" % (name, seconds), flush=True)
    return failure is None

  def finish(self):
    """Writes the JUnit XML, prints the totals, exits 0 or 1."""
    failed = [r for r in self.results if r[2]]
    out = os.environ.get("XML_OUTPUT_FILE")
    if out:
      esc = xml.sax.saxutils.quoteattr
      with open(out, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        f.write('<testsuite name=%s tests="%d" failures="%d">\n' %
                (esc(self.name), len(self.results), len(failed)))
        for name, seconds, failure in self.results:
          f.write('  <testcase name=%s classname=%s time="%.3f"' %
                  (esc(name), esc(self.name), seconds))
          if failure:
            f.write('>\n    <failure message=%s>%s</failure>\n  </testcase>\n' %
                    (esc(failure.splitlines()[0]), xml.sax.saxutils.escape(failure)))
          else:
            f.write("/>\n")
        f.write("</testsuite>\n</testsuites>\n")
    print("%s: %d cases, %d failed%s" % (self.name, len(self.results), len(failed),
                                        "".join("\n  FAILED: " + r[0] for r in failed)))
    sys.exit(1 if failed or not self.results else 0)
