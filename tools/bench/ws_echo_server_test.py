#!/usr/bin/env python3
# Copyright netman authors.
#
# Tests ws_echo_server over real sockets on 127.0.0.1, with a client written
# here from RFC 6455 (standard-library Python 3 only):
#   * the upgrade: 101 with the right Sec-WebSocket-Accept, the request split
#     at many points (and byte by byte), the request and frames in one write;
#   * echo of text and binary messages in every length form, several frames
#     per write, and frame headers and payloads split across writes;
#   * ping -> pong (a pong is ignored), close -> close (status echoed), EOF;
#   * bad frames (unmasked, fragmented, RSV bits, unknown opcodes, long
#     control frames, payloads over --max_payload) -> close 1002, EOF;
#   * bad requests -> 400 (426 for another version), EOF; garbage and random
#     bytes never crash the server, which keeps serving everyone else;
#   * --threads=2 serves too.
#
# Splits are made real without sleeping: the server runs one loop thread,
# and after part of a request is sent on one connection a ping round trip on
# another (barrier()) means the server has read that part on its own before
# the rest is sent.
#
#   python3 ws_echo_server_test.py WS_ECHO_SERVER

import base64
import hashlib
import os
import random
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echo_test_support import StreamClient, Server, TestFailure, check, run  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_PAYLOAD = 300000


def accept_for(key):
  return base64.b64encode(hashlib.sha1(key + GUID).digest())


def upgrade_request(key, path=b"/", version=b"13", extra=b""):
  return (b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
          b"\r\nSec-WebSocket-Version: " + version + b"\r\n" + extra + b"\r\n")


def frame(opcode, payload, fin=True, rsv=0, masked=True, key=b"\x37\xfa\x21\x3d",
          length=None):
  """A client frame; `length` overrides the encoded payload length."""
  n = len(payload) if length is None else length
  out = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
  mask_bit = 0x80 if masked else 0
  if n < 126:
    out += bytes([mask_bit | n])
  elif n < 65536:
    out += bytes([mask_bit | 126]) + struct.pack("!H", n)
  else:
    out += bytes([mask_bit | 127]) + struct.pack("!Q", n)
  if masked:
    out += key
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
  return out + payload


def new_key(rng):
  return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(16)))


class Client(StreamClient):
  def send_in_background(self, data):
    t = threading.Thread(target=self.sock.sendall, args=(data,))
    t.start()
    return t

  def read_http_response(self):
    while b"\r\n\r\n" not in self.buf:
      self._fill()
    end = self.buf.index(b"\r\n\r\n") + 4
    head, self.buf = self.buf[:end], self.buf[end:]
    lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines[1:]:
      name, _, value = line.partition(b":")
      headers[name.strip().lower()] = value.strip()
    return lines[0], headers

  def read_frame(self):
    """(first byte, payload) of a server frame; checks it is unmasked and
    that its length is in the shortest form."""
    b0, b1 = self.read_exact(2)
    check(b1 & 0x80 == 0, "the server masked a frame")
    n = b1 & 0x7f
    if n == 126:
      (n,) = struct.unpack("!H", self.read_exact(2))
      check(n >= 126, "length %d not in the shortest form" % n)
    elif n == 127:
      (n,) = struct.unpack("!Q", self.read_exact(8))
      check(n >= 65536, "length %d not in the shortest form" % n)
    return b0, self.read_exact(n)

  def handshake(self, rng, path=b"/"):
    key = new_key(rng)
    self.send(upgrade_request(key, path))
    self.expect_101(key)

  def expect_101(self, key):
    status, headers = self.read_http_response()
    check(status.startswith(b"HTTP/1.1 101 "), "status line %r" % status)
    check(headers.get(b"upgrade", b"").lower() == b"websocket", "headers %r" % headers)
    check(headers.get(b"connection", b"").lower() == b"upgrade", "headers %r" % headers)
    check(headers.get(b"sec-websocket-accept") == accept_for(key),
          "accept %r, want %r" % (headers.get(b"sec-websocket-accept"), accept_for(key)))

  def expect_echo(self, opcode, payload, what):
    b0, got = self.read_frame()
    check(b0 == 0x80 | opcode, "%s: first byte 0x%02x, want 0x%02x" % (what, b0, 0x80 | opcode))
    check(got == payload, "%s: payload of %d bytes differs (want %d)" %
          (what, len(got), len(payload)))

  def expect_close(self, payload, what):
    b0, got = self.read_frame()
    check(b0 == 0x88, "%s: first byte 0x%02x, want a close frame" % (what, b0))
    check(got == payload, "%s: close payload %r, want %r" % (what, got, payload))
    rest = self.expect_eof(what)
    check(rest == b"", "%s: %d bytes after the close frame" % (what, len(rest)))


def main():
  binary = sys.argv[1]
  rng = random.Random(6455)
  server = Server(binary, "--max_payload=%d" % MAX_PAYLOAD)
  try:
    port = server.port
    aux = Client(port)
    aux.handshake(rng)
    seq = [0]

    def barrier():
      """The server has read everything sent before this returns."""
      seq[0] += 1
      token = b"barrier %d" % seq[0]
      aux.send(frame(0x9, token))
      aux.expect_echo(0xa, token, "barrier pong")

    # --- the upgrade ---------------------------------------------------------
    key = new_key(rng)
    request = upgrade_request(key, b"/any/path?x=1")
    crlfcrlf = len(request) - 4
    for cut in sorted({1, 4, 5, 20, crlfcrlf - 1, crlfcrlf, crlfcrlf + 1, crlfcrlf + 2,
                       crlfcrlf + 3}):
      c = Client(port)
      c.send(request[:cut])
      barrier()
      c.send(request[cut:])
      c.expect_101(key)
      c.send(frame(0x2, b"after the split"))
      c.expect_echo(0x2, b"after the split", "echo after a split handshake")
      c.close()
    c = Client(port)
    for i in range(len(request)):
      c.send(request[i:i + 1])
      barrier()
    c.expect_101(key)
    c.close()
    print("ok: the upgrade, split at every point tried and byte by byte")

    c = Client(port)
    key = new_key(rng)
    c.send(upgrade_request(key) + frame(0x1, b"first") + frame(0x2, b"second"))
    c.expect_101(key)
    c.expect_echo(0x1, b"first", "text after the request in one write")
    c.expect_echo(0x2, b"second", "binary after the request in one write")
    c.close()
    print("ok: the request and two frames in one write")

    # --- echo ------------------------------------------------------------------
    c = Client(port)
    c.handshake(rng)
    messages = []
    for n in (0, 1, 125, 126, 127, 65535, 65536, 200000):
      payload = bytes(rng.getrandbits(8) for _ in range(min(n, 4096))) * (n // 4096 + 1)
      messages.append((0x2, payload[:n]))
      messages.append((0x1, ("é%d" % n).encode()))
    writer = c.send_in_background(b"".join(frame(op, p) for op, p in messages))
    for op, p in messages:
      c.expect_echo(op, p, "message of %d bytes" % len(p))
    writer.join()
    print("ok: %d messages in every length form, one write" % len(messages))

    for n in (5, 300, 70000):
      payload = bytes(rng.getrandbits(8) for _ in range(n))
      f = frame(0x2, payload)
      header = 2 + (2 if 126 <= n < 65536 else 8 if n >= 65536 else 0) + 4
      for cut in sorted({1, 2, 3, 4, header - 1, header, header + 1, len(f) // 2, len(f) - 1}):
        if not 0 < cut < len(f):
          continue
        c.send(f[:cut])
        barrier()
        c.send(f[cut:])
        c.expect_echo(0x2, payload, "a %d-byte frame split at %d" % (n, cut))
    f = frame(0x2, b"bytes")
    for i in range(len(f)):
      c.send(f[i:i + 1])
      barrier()
    c.expect_echo(0x2, b"bytes", "a frame byte by byte")
    # A split frame completed by a read that also holds whole frames.
    f = frame(0x2, b"x" * 200)
    c.send(f[:7])
    barrier()
    c.send(f[7:] + frame(0x1, b"next") + frame(0x2, b"and next"))
    c.expect_echo(0x2, b"x" * 200, "split frame")
    c.expect_echo(0x1, b"next", "frame after a split frame")
    c.expect_echo(0x2, b"and next", "second frame after a split frame")
    print("ok: frame headers and payloads split across writes")

    # --- control frames --------------------------------------------------------
    c.send(frame(0x9, b"hello"))
    c.expect_echo(0xa, b"hello", "pong")
    c.send(frame(0xa, b"unsolicited") + frame(0x9, b"") + frame(0x2, b"data"))
    c.expect_echo(0xa, b"", "pong to an empty ping (the pong before it ignored)")
    c.expect_echo(0x2, b"data", "data after ping")
    c.send(frame(0x8, struct.pack("!H", 1000) + b"bye") + frame(0x2, b"ignored"))
    c.expect_close(struct.pack("!H", 1000), "close with a status and reason")
    c.close()
    c = Client(port)
    c.handshake(rng)
    c.send(frame(0x8, b""))
    c.expect_close(b"", "close without a status")
    c.close()
    print("ok: ping -> pong, pong ignored, close -> close and EOF")

    # --- bad frames: close 1002, then EOF --------------------------------------
    status_1002 = struct.pack("!H", 1002)
    bad_frames = {
        "an unmasked frame": frame(0x2, b"abc", masked=False),
        "a fragmented message": frame(0x1, b"part", fin=False) + frame(0x0, b"rest"),
        "a continuation frame": frame(0x0, b"rest"),
        "RSV1 set": frame(0x2, b"abc", rsv=4),
        "opcode 0x3": frame(0x3, b"abc"),
        "opcode 0xb": frame(0xb, b"abc"),
        "a fragmented ping": frame(0x9, b"abc", fin=False),
        "a 126-byte ping": frame(0x9, b"p" * 126),
        "a payload over --max_payload": frame(0x2, b"", length=MAX_PAYLOAD + 1),
        "a 64-bit length with its top bit set": frame(0x2, b"", length=1 << 63),
        "a close with a 1-byte body": frame(0x8, b"\x03"),
    }
    for what, data in bad_frames.items():
      for split in (False, True):
        c = Client(port)
        c.handshake(rng)
        good = frame(0x2, b"before")
        if split:  # the bad header arrives in two reads
          c.send(good + data[:1])
          barrier()
          c.send(data[1:])
        else:
          c.send(good + data)
        c.expect_echo(0x2, b"before", what + ": the frame before it")
        c.expect_close(status_1002, what)
        c.close()
    print("ok: %d kinds of bad frames -> close 1002, whole and split" % len(bad_frames))

    # --- bad requests ----------------------------------------------------------
    key = new_key(rng)
    bad_requests = {
        "garbage": (b"hello\r\n\r\n", b"400"),
        "POST": (upgrade_request(key).replace(b"GET", b"POST", 1), b"400"),
        "HTTP/1.0": (upgrade_request(key).replace(b"HTTP/1.1", b"HTTP/1.0", 1), b"400"),
        "no Upgrade": (upgrade_request(key).replace(b"Upgrade: websocket\r\n", b""), b"400"),
        "Upgrade: h2c": (upgrade_request(key).replace(b"websocket", b"h2c"), b"400"),
        "no Connection": (upgrade_request(key).replace(b"Connection: Upgrade\r\n", b""),
                          b"400"),
        "no key": (upgrade_request(key).replace(b"Sec-WebSocket-Key: " + key + b"\r\n", b""),
                   b"400"),
        "a short key": (upgrade_request(key[:20]), b"400"),
        "a key that is not base64": (upgrade_request(b"!" * 24), b"400"),
        "two keys": (upgrade_request(key, extra=b"Sec-WebSocket-Key: " + key + b"\r\n"),
                     b"400"),
        "version 8": (upgrade_request(key, version=b"8"), b"426"),
        "a header line without a colon": (upgrade_request(key, extra=b"oops\r\n"), b"400"),
        "binary garbage": (bytes(rng.getrandbits(8) for _ in range(3000)) + b"\r\n\r\n",
                           b"400"),
    }
    for what, (data, status) in bad_requests.items():
      c = Client(port)
      c.send(data)
      rest = c.expect_eof(what)
      check(rest.startswith(b"HTTP/1.1 " + status + b" "), "%s: got %r" % (what, rest[:80]))
      if status == b"426":
        check(b"\r\nSec-WebSocket-Version: 13\r\n" in rest, "426 without the version")
      c.close()
    # A request whose headers never end: closed once past the limit.
    c = Client(port)
    try:
      c.send(b"GET / HTTP/1.1\r\nX: " + b"a" * 300000)
    except (BrokenPipeError, ConnectionResetError):
      pass
    c.expect_eof("endless headers")
    c.close()
    print("ok: %d bad requests refused, endless headers closed" % len(bad_requests))

    # --- random bytes after the upgrade, then everyone is still served ---------
    for i in range(30):
      c = Client(port)
      c.handshake(rng)
      try:
        c.send(bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 2000))))
      except (BrokenPipeError, ConnectionResetError):
        pass
      barrier()
      c.close()
    barrier()
    c = Client(port)
    c.handshake(rng)
    c.send(frame(0x2, b"still here"))
    c.expect_echo(0x2, b"still here", "a new connection after the abuse")
    c.close()
    aux.close()
    print("ok: random bytes never crash it; it keeps serving")
  finally:
    server.stop()

  two = Server(binary, "--max_payload=%d" % MAX_PAYLOAD, "--threads=2")
  try:
    clients = [Client(two.port) for _ in range(8)]
    for c in clients:
      c.handshake(rng)
    for i, c in enumerate(clients):
      c.send(frame(0x2, b"thread test %d" % i))
    for i, c in enumerate(clients):
      c.expect_echo(0x2, b"thread test %d" % i, "--threads=2")
      c.close()
    print("ok: --threads=2")
  finally:
    two.stop()
  print("PASS")


if __name__ == "__main__":
  run(main)
