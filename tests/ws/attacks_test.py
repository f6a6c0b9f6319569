#!/usr/bin/env python3
# Copyright netman authors.
#
# Attacks on ws_server, and its HTTP side, over real sockets. The Go
# netman's WebSocket server crashes on a 14-byte frame declaring a huge
# length, spins at 100% CPU on an unmasked frame, refuses a handshake split
# over two TCP segments or with lower-case header names. Here each attack
# is made on a one-loop server while a canary client, connected before the
# attack, keeps echoing on that same loop: after every attack the server
# must be alive and the canary answered within CANARY_BOUND seconds.
#
#   * a frame declaring 2^63-1 bytes (1009 or 1002), one with the 64-bit MSB
#     set (1002), 14 bytes each: a close, not a crash, nothing allocated;
#   * an unmasked client frame: 1002, no CPU spin while the peer does not
#     answer the close, TCP closed after a bounded wait;
#   * the opening handshake split at every byte, and in two pieces at every
#     point; lower/upper-case header names; "Connection: keep-alive,
#     Upgrade"; odd whitespace;
#   * a stalled and a trickled handshake closed at --handshake_timeout;
#   * an oversize request head (431 or 400);
#   * requests that must be refused with an HTTP response then a close,
#     never a WebSocket frame: 404, 400, 426 (+ Sec-WebSocket-Version: 13),
#     403 for an Origin outside --origins; GET / is the chat page (200);
#   * 200 random blobs after the handshake: each ends in a close or EOF.
#
#   python3 attacks_test.py WS_SERVER

import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsproto import (IO_TIMEOUT, OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, Conn,  # noqa: E402
                     ServerProcess, Suite, TestFailure, WsClient, accept_for, check, frame,
                     new_key, upgrade_request)

CANARY_BOUND = float(os.environ.get("NETMAN_WS_CANARY_BOUND", "2.0"))
rng = random.Random(1337)


class Attacks:
  def __init__(self, binary):
    self.server = ServerProcess(binary, "--loops=1", "--max_message=1048576",
                                "--handshake_timeout=1s")
    self.port = self.server.port
    self.canary = WsClient.connect(self.port)
    self.canary_n = 0

  def canary_ok(self, what):
    self.server.check_alive("after " + what)
    self.canary_n += 1
    payload = b"canary %d" % self.canary_n
    start = time.monotonic()
    self.canary.echo(OP_BINARY, payload, "the canary after " + what)
    took = time.monotonic() - start
    check(took < CANARY_BOUND, "the canary waited %.2fs after %s (bound %.1fs)" %
          (took, what, CANARY_BOUND))

  # --- frames -------------------------------------------------------------------
  def huge_length(self):
    c = WsClient.connect(self.port)
    c.send(b"\x82\xff" + struct.pack("!Q", (1 << 63) - 1) + b"\x01\x02\x03\x04")
    c.expect_close((1009, 1002), "a 14-byte frame declaring 2^63-1 bytes")
    c.close()
    self.canary_ok("a frame declaring 2^63-1 bytes")

  def msb_length(self):
    c = WsClient.connect(self.port)
    c.send(b"\x82\xff" + struct.pack("!Q", (1 << 63) + 5) + b"\x01\x02\x03\x04")
    c.expect_close((1002,), "a 64-bit length with the most significant bit set")
    c.close()
    self.canary_ok("a 64-bit length with the MSB set")

  def huge_length_many(self):
    # 50 connections at once, each one 14-byte frame declaring 2^63-1 (one
    # write of all 50): RSS must not move by more than a few MiB.
    before = self.server.rss_bytes()
    conns = [WsClient.connect(self.port) for _ in range(50)]
    for c in conns:
      c.send(b"\x81\xff" + struct.pack("!Q", (1 << 63) - 1) + b"abcd")
    for c in conns:
      c.expect_close((1009, 1002), "one of 50 huge-length frames")
      c.close()
    grown = self.server.rss_bytes() - before
    check(grown < 64 << 20, "RSS grew by %d bytes for 50 huge-length frames" % grown)
    self.canary_ok("50 huge-length frames")

  def unmasked(self):
    c = WsClient.connect(self.port)
    c.send(frame(OP_TEXT, b"not masked", masked=False))
    f = c.recv_frame()
    check(f.opcode == OP_CLOSE, "an unmasked frame: got %r, want a close 1002" % f)
    code, _ = c.parse_close(f.payload)
    check(code == 1002, "an unmasked frame: close code %s, want 1002" % code)
    # We do not answer the close. The server must not spin meanwhile, and
    # must end the connection itself after a bounded wait.
    cpu0, t0 = self.server.cpu_seconds(), time.monotonic()
    self.canary_ok("an unmasked frame (close not answered yet)")
    rest = c.read_until_eof("an unmasked frame whose close we never answer")
    elapsed = time.monotonic() - t0
    cpu = self.server.cpu_seconds() - cpu0
    check(rest == b"", "%d bytes after the close frame" % len(rest))
    check(cpu < 0.25 + 0.25 * elapsed,
          "the server used %.2fs CPU in the %.2fs it waited for our close" % (cpu, elapsed))
    c.close()
    self.canary_ok("an unmasked frame")

  def unmasked_control(self):
    c = WsClient.connect(self.port)
    c.send(frame(OP_PING, b"unmasked ping", masked=False))
    c.expect_close((1002,), "an unmasked ping")
    c.close()
    self.canary_ok("an unmasked ping")

  def garbage_after_handshake(self):
    # 200 random blobs, 1 in 3 after a valid message. Each connection ends in
    # a close frame (1002, 1007 or 1009) or, if the blob is a valid start,
    # stays open until we end it; never a crash, never a reply to garbage
    # that is not a well-formed message.
    conns = []
    for i in range(200):
      c = WsClient.connect(self.port)
      blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300)))
      prefix = frame(OP_TEXT, b"valid") if i % 3 == 0 else b""
      c.send(prefix + blob)
      conns.append(c)
    self.canary_ok("200 random blobs")
    for c in conns:
      c.close()
    self.canary_ok("closing the 200 random-blob connections")

  # --- the opening handshake --------------------------------------------------------
  def split_every_byte(self):
    key = new_key()
    request = upgrade_request(key, b"/split/path?x=1")
    c = WsClient(self.port)
    for i in range(len(request)):
      c.send(request[i:i + 1])
      self.canary.barrier()
    c.expect_101(key)
    c.echo(OP_TEXT, b"after a byte-by-byte handshake")
    c.close()
    for cut in range(1, len(request)):
      c = WsClient(self.port)
      c.send(request[:cut])
      self.canary.barrier()
      c.send(request[cut:] + frame(OP_BINARY, b"x%d" % cut))
      c.expect_101(key)
      c.expect_message(OP_BINARY, b"x%d" % cut, "echo after the handshake split at %d" % cut)
      c.close()
    self.canary_ok("split handshakes")

  def header_variants(self):
    variants = {
        "lower-case names": lambda k: (
            b"GET /chat HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\n"
            b"connection: Upgrade\r\nsec-websocket-key: " + k +
            b"\r\nsec-websocket-version: 13\r\n\r\n"),
        "upper-case names and values": lambda k: (
            b"GET / HTTP/1.1\r\nHOST: 127.0.0.1\r\nUPGRADE: WEBSOCKET\r\n"
            b"CONNECTION: UPGRADE\r\nSEC-WEBSOCKET-KEY: " + k +
            b"\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n"),
        "Connection: keep-alive, Upgrade": lambda k: upgrade_request(
            k, connection=b"keep-alive, Upgrade"),
        "Connection: Upgrade,keep-alive and Upgrade: WebSocket": lambda k: upgrade_request(
            k, connection=b"Upgrade,keep-alive", upgrade=b"WebSocket"),
        "whitespace and tabs around values": lambda k: (
            b"GET / HTTP/1.1\r\nHost:127.0.0.1\r\nUpgrade:\t websocket \t\r\n"
            b"Connection:   keep-alive ,  upgrade  \r\nSec-WebSocket-Key:  " + k +
            b"  \r\nSec-WebSocket-Version:13\r\n\r\n"),
        "extra headers, cookies, a query": lambda k: upgrade_request(
            k, path=b"/chat?room=a%20b&x=%C3%A9", extra=b"Cookie: a=b; c=d\r\n"
            b"User-Agent: test\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat\r\n"
            b"Accept-Encoding: gzip\r\n"),
    }
    failures = []
    for name, build in variants.items():
      key = new_key()
      c = WsClient(self.port)
      try:
        c.send(build(key))
        c.expect_101(key)
        c.echo(OP_TEXT, name.encode(), name)
      except (TestFailure, EOFError, OSError) as e:
        failures.append("%s: %s" % (name, e))
      c.close()
    check(not failures, "handshake variants refused:\n" + "\n".join(failures))
    self.canary_ok("handshake variants")

  def stalled_handshake(self):
    c = Conn(self.port)
    c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
    start = time.monotonic()
    self.canary_ok("a stalled handshake (still open)")
    rest = c.read_until_eof("a handshake stalled past --handshake_timeout=1s")
    took = time.monotonic() - start
    check(0.5 <= took, "closed after %.2fs, before --handshake_timeout=1s" % took)
    check(not rest or rest.startswith(b"HTTP/1.1 4"),
          "a stalled handshake got %r (want nothing or an HTTP 4xx response)" % rest[:80])
    c.close()
    self.canary_ok("a stalled handshake")

  def trickled_handshake(self):
    # One byte every 100 ms never completes the head within 1 s: the
    # deadline is for the whole head, not reset by each byte.
    c = Conn(self.port)
    request = upgrade_request(new_key()) + b"X-Pad: " + b"p" * 200 + b"\r\n"
    start = time.monotonic()
    closed = False
    for i in range(len(request)):
      try:
        c.send(request[i:i + 1])
      except (BrokenPipeError, ConnectionResetError):
        closed = True
        break
      r, _, _ = __import__("select").select([c.sock], [], [], 0.1)  # the attack's pace
      if r:
        closed = True
        break
      if time.monotonic() - start > 8:
        break
    took = time.monotonic() - start
    check(closed, "a handshake trickled for %.1fs was not closed (--handshake_timeout=1s)" %
          took)
    check(took < 5, "a trickled handshake was closed only after %.1fs" % took)
    c.close()
    self.canary_ok("a trickled handshake")

  def oversize_head(self):
    c = Conn(self.port)
    request = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\n" +
               b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(1024)) +
               b"Sec-WebSocket-Key: " + new_key() + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")

    def writer():
      try:
        c.sock.sendall(request)
      except OSError:
        pass  # the server may close before it has read everything
    t = threading.Thread(target=writer)
    t.start()
    try:
      status, line, headers = c.read_http_head()
    except (ConnectionResetError, EOFError) as e:
      raise TestFailure("a 1 MiB request head: no HTTP response before the close (%s)" % e)
    check(status in (431, 400), "a 1 MiB request head: %r, want 431 or 400" % line)
    c.read_until_eof("after the 431/400")
    t.join()
    c.close()
    self.canary_ok("an oversize head")

  # --- refusals: an HTTP response, then a close ------------------------------------
  def refused(self, request, statuses, what, header=None):
    c = Conn(self.port)
    try:
      c.send(request)
    except (BrokenPipeError, ConnectionResetError):
      pass
    try:
      status, line, headers = c.read_http_head()
    except EOFError:
      raise TestFailure("%s: closed without an HTTP response" % what)
    check(status in statuses, "%s: %r, want %s" % (what, line, statuses))
    if header:
      check(headers.get(header[0].lower(), "").strip() == header[1],
            "%s: header %s is %r, want %r" % (what, header[0], headers.get(header[0].lower()),
                                             header[1]))
    body_len = int(headers.get("content-length", "0") or 0)
    rest = c.read_until_eof(what)
    # Whatever follows the head is its body (if any) and nothing else: no
    # WebSocket frame after a refusal.
    check(len(rest) <= body_len or "content-length" not in headers,
          "%s: %d bytes after a %d-byte body: %r" % (what, len(rest), body_len,
                                                   rest[body_len:body_len + 40]))
    c.close()
    return status, headers, rest

  def refusals(self):
    key = new_key()
    cases = [
        (b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", (404,), "GET without Upgrade, not /",
         None),
        (upgrade_request(key, version=b"8"), (426,), "Sec-WebSocket-Version: 8",
         ("Sec-WebSocket-Version", "13")),
        (upgrade_request(key, version=b"14"), (426,), "Sec-WebSocket-Version: 14",
         ("Sec-WebSocket-Version", "13")),
        (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Version: 13\r\n\r\n", (400,), "no Sec-WebSocket-Key", None),
        (upgrade_request(b"dG9vIHNob3J0"), (400,), "a key of 9 bytes", None),
        (upgrade_request(b"not base64 at all!!!!!!!"), (400,), "a key that is not base64",
         None),
        (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
         b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n", (400, 200),
         "Upgrade without Connection: Upgrade", None),
        (upgrade_request(key).replace(b"GET ", b"POST ", 1), (400, 404, 405),
         "POST with the upgrade headers", None),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40) + b"\r\n\r\n", (400,),
         "a TLS ClientHello", None),
        (b"GET / HTTP/1.1\r\nHost x\r\nno colon here\r\n\r\n", (400,),
         "a header line without a colon", None),
        (b"GET /\r\n\r\n", (400, 505), "HTTP/0.9 style request line", None),
    ]
    failures = []
    for request, statuses, what, header in cases:
      try:
        self.refused(request, statuses, what, header)
      except (TestFailure, EOFError, OSError) as e:
        failures.append(str(e))
    check(not failures, "%d of %d refusals wrong:\n%s" % (len(failures), len(cases),
                                                         "\n".join(failures)))
    self.canary_ok("refused requests")

  def chat_page(self):
    c = Conn(self.port)
    c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status, line, headers = c.read_http_head()
    check(status == 200, "GET /: %r, want 200" % line)
    check(headers.get("content-type", "").startswith("text/html"),
          "GET /: Content-Type %r, want text/html" % headers.get("content-type"))
    check("content-length" in headers, "GET /: no Content-Length in %r" % headers)
    body = c.read_exact(int(headers["content-length"]))
    for needle in (b'id="messages"', b'id="input"', b'id="send"', b'id="status"',
                   b'id="name"', b"/chat"):
      check(needle in body, "GET /: the page has no %r" % needle)
    c.close()

  def origins(self, binary):
    s = ServerProcess(binary, "--loops=1", "--origins=http://good.example,https://also.ok")
    try:
      for origin, want in ((b"http://good.example", 101), (b"https://also.ok", 101),
                           (b"http://evil.example", 403), (b"http://good.example.evil", 403)):
        key = new_key()
        c = WsClient(s.port)
        c.send(upgrade_request(key, extra=b"Origin: " + origin + b"\r\n"))
        if want == 101:
          c.expect_101(key)
          c.echo(OP_TEXT, b"allowed origin")
        else:
          status, line, _ = c.read_http_head()
          check(status == 403, "Origin %r: %r, want 403" % (origin, line))
          c.read_until_eof("after the 403")
        c.close()
    finally:
      s.stop()


def main():
  binary = sys.argv[1]
  suite = Suite("ws_attacks")
  a = Attacks(binary)
  case = suite.case
  try:
    case("a 14-byte frame declaring 2^63-1 bytes -> 1009/1002, others served", a.huge_length)
    case("a 64-bit length with the MSB set -> 1002, others served", a.msb_length)
    case("50 huge-length frames at once: RSS bounded, others served", a.huge_length_many)
    case("an unmasked data frame -> 1002, no CPU spin, TCP closed", a.unmasked)
    case("an unmasked ping -> 1002", a.unmasked_control)
    case("the handshake split at every byte and at every 2-piece cut", a.split_every_byte)
    case("handshake header-name case, token lists, whitespace accepted", a.header_variants)
    case("a stalled handshake closed at --handshake_timeout, others served",
         a.stalled_handshake)
    case("a trickled handshake closed at --handshake_timeout", a.trickled_handshake)
    case("a 1 MiB request head -> 431/400, then close", a.oversize_head)
    case("bad requests -> HTTP 4xx then close, never a frame", a.refusals)
    case("GET / -> 200 text/html, the chat page", a.chat_page)
    case("200 random blobs after the handshake, others served", a.garbage_after_handshake)
    case("--origins allow-list: 101 or 403", a.origins, binary)
    case("SIGTERM after the attacks: exit 0", a.server.stop)
  finally:
    a.server.kill()
  suite.finish()


if __name__ == "__main__":
  main()
