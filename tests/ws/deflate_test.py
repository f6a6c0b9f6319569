#!/usr/bin/env python3
# Copyright netman authors.
#
# permessage-deflate (RFC 7692) in ws_server, modelled on the Autobahn
# categories 12 (compressed echo) and 13 (negotiation parameters), with a
# client written here (wsproto.py + the standard library's zlib):
#   * negotiation: off unless --permessage_deflate; the response parameters
#     follow RFC 7692 section 7 (server_no_context_takeover when offered,
#     client_max_window_bits only when offered and then with a value 8..15,
#     server_max_window_bits never above the offer, unknown, duplicated or
#     out-of-range parameters decline that offer, the next offer may be taken);
#   * echo of compressed messages, text and binary, 0 B to 1 MiB, with and
#     without the client's context takeover, split over frames (RSV1 on the
#     first only), uncompressed messages on the same connection; the
#     server's replies inflate with the negotiated window and, when it says
#     server_no_context_takeover, with a fresh context each;
#   * errors: RSV1 on a continuation or a control frame -> 1002, data that
#     does not inflate -> a close, invalid UTF-8 after inflating -> 1007;
#   * a zip bomb (16 KiB inflating to 64 MiB, over --max_message) -> 1009
#     with the server's RSS bounded, while a canary keeps being served.
#
#   python3 deflate_test.py WS_SERVER

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsproto import (OP_BINARY, OP_CONT, OP_PING, OP_TEXT, RSV1, ServerProcess, Suite,  # noqa: E402
                     TestFailure, WsClient, check, deflate_message, frame, parse_extensions)

MAX_MESSAGE = 1 << 20
rng = random.Random(7692)


def rand_bytes(n):
  return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def compressible(n):
  words = [b"alpha ", b"beta ", b"gamma ", b"delta ", b"\xce\xba\xe1\xbd\xb9\xcf\x83 "]
  out = b"".join(rng.choice(words) for _ in range(n // 5 + 1))
  return out[:n].decode("utf-8", "ignore").encode()


class Deflate:
  def __init__(self, binary):
    self.server = ServerProcess(binary, "--loops=1", "--permessage_deflate=true",
                                "--max_message=%d" % MAX_MESSAGE)
    self.port = self.server.port

  def connect(self, offer="permessage-deflate"):
    return WsClient.connect(self.port, extensions=offer)

  # --- 13: negotiation ------------------------------------------------------------
  def off_by_default(self, binary):
    s = ServerProcess(binary, "--loops=1")
    try:
      c = WsClient.connect(s.port, extensions="permessage-deflate; client_max_window_bits")
      check(c.deflate is None, "deflate accepted by a server without --permessage_deflate: %r"
            % c.response_headers.get("sec-websocket-extensions"))
      c.echo(OP_TEXT, b"uncompressed")
      c.send(frame(OP_TEXT, deflate_message(b"compressed"), rsv=RSV1))
      c.expect_close((1002,), "RSV1 without the extension negotiated")
      c.close()
    finally:
      s.stop()

  def negotiated(self, offer, want):
    """Offers `offer`; `want` checks the accepted params (None: declined)."""
    c = self.connect(offer)
    got = c.deflate
    header = c.response_headers.get("sec-websocket-extensions")
    if want is None:
      check(got is None, "offer %r: accepted as %r, want declined" % (offer, header))
    else:
      check(got is not None, "offer %r: declined, want accepted" % offer)
      for name in got:
        check(name in ("server_no_context_takeover", "client_no_context_takeover",
                       "server_max_window_bits", "client_max_window_bits"),
              "offer %r: unknown parameter %r in the response %r" % (offer, name, header))
      check(len(parse_extensions(header)[0][1]) == len([p for p in header.split(";")[1:]
                                                        if p.strip()]),
            "offer %r: a duplicated parameter in the response %r" % (offer, header))
      want(got, header)
    # Whatever was negotiated, messages flow both ways.
    payload = compressible(3000)
    data = c.compress(payload) if got is not None else payload
    c.send(frame(OP_TEXT, data, rsv=RSV1 if got is not None else 0))
    c.expect_message(OP_TEXT, payload, "echo after offer %r" % offer)
    c.close()

  def negotiation(self):
    def plain(p, h):
      check("client_max_window_bits" not in p,
            "client_max_window_bits in %r though not offered (RFC 7692 7.1.2.2)" % h)
      bits = p.get("server_max_window_bits")
      check(bits is None or 8 <= int(bits) <= 15, "server_max_window_bits=%r in %r" % (bits, h))

    def client_bits(p, h):
      bits = p.get("client_max_window_bits", "15")
      check(bits is not None and bits.isdigit() and 8 <= int(bits) <= 15,
            "client_max_window_bits must have a value 8..15 in a response: %r" % h)

    def snct(p, h):
      plain(p, h)
      check("server_no_context_takeover" in p,
            "server_no_context_takeover offered but not in the response %r (RFC 7692 7.1.1.1)"
            % h)

    def snct_only(p, h):
      check("server_no_context_takeover" in p,
            "server_no_context_takeover offered but not in the response %r" % h)

    def server_bits(limit):
      def f(p, h):
        plain(p, h)
        bits = p.get("server_max_window_bits")
        check(bits is not None and int(bits) <= limit,
              "offer server_max_window_bits=%d: response %r (must echo a value <= %d)" %
              (limit, h, limit))
      return f

    cases = [
        ("permessage-deflate", plain),
        ("permessage-deflate; client_max_window_bits", client_bits),
        ("permessage-deflate; client_max_window_bits=12", lambda p, h: (
            client_bits(p, h), check(int(p.get("client_max_window_bits") or 12) <= 12,
                                     "client_max_window_bits above the offered 12: %r" % h))),
        ("permessage-deflate; server_no_context_takeover", snct),
        ("permessage-deflate; client_no_context_takeover", plain),
        ("permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
         "client_max_window_bits", lambda p, h: (snct_only(p, h), client_bits(p, h))),
        ("permessage-deflate; server_max_window_bits=15", server_bits(15)),
        ("permessage-deflate; unknown_param=1, permessage-deflate", plain),
        ("x-webkit-deflate-frame, permessage-deflate", plain),
    ]
    failures = []
    for offer, want in cases:
      try:
        self.negotiated(offer, want)
      except (TestFailure, EOFError, OSError) as e:
        failures.append("%s: %s" % (offer, e))
    check(not failures, "\n".join(failures))

  def narrow_server_window(self):
    # A server may accept server_max_window_bits=10 (then its messages must
    # inflate with a 2^10 window: wsproto decodes with exactly that) or
    # decline the offer; both are RFC 7692 conformant.
    def ok(p, h):
      check(int(p.get("server_max_window_bits") or 99) <= 10,
            "server_max_window_bits=10 offered, response %r" % h)
    c = self.connect("permessage-deflate; server_max_window_bits=10")
    if c.deflate is not None:
      ok(c.deflate, c.response_headers.get("sec-websocket-extensions"))
      payload = rand_bytes(2000) * 20  # repeats 2000 bytes apart: beyond a 1 KiB window
      c.send(frame(OP_BINARY, c.compress(payload), rsv=RSV1))
      c.expect_message(OP_BINARY, payload, "echo with server_max_window_bits=10")
    c.close()

  def declined(self):
    failures = []
    for offer in ("permessage-deflate; unknown_param=1",
                  "permessage-deflate; server_max_window_bits=7",
                  "permessage-deflate; server_max_window_bits=16",
                  "permessage-deflate; server_max_window_bits",
                  "permessage-deflate; client_max_window_bits=20",
                  "permessage-deflate; server_no_context_takeover=1",
                  "permessage-deflate; server_no_context_takeover; server_no_context_takeover"):
      try:
        self.negotiated(offer, None)
      except (TestFailure, EOFError, OSError) as e:
        failures.append("%s: %s" % (offer, e))
    check(not failures, "\n".join(failures))

  # --- 12: compressed echo -------------------------------------------------------
  def echo_sizes(self, offer, takeover):
    c = self.connect(offer)
    check(c.deflate is not None, "offer %r declined" % offer)
    for n in (0, 1, 16, 125, 1000, 4096, 65536, 262144, MAX_MESSAGE):
      for op, payload in ((OP_TEXT, compressible(n)), (OP_BINARY, rand_bytes(min(n, 65536)))):
        c.send(frame(op, c.compress(payload, takeover), rsv=RSV1))
        c.expect_message(op, payload, "compressed %d bytes (%s)" % (len(payload), offer))
    c.close()

  def server_context_takeover(self, binary):
    """--deflate_context_takeover: the server keeps its compression context
    between a connection's messages (no server_no_context_takeover in the
    response), so a repeated message compresses to a few bytes and inflates
    only with the client's context kept; a client asking for
    server_no_context_takeover still gets a fresh context per message."""
    s = ServerProcess(binary, "--loops=1", "--permessage_deflate=true",
                      "--deflate_context_takeover=true")
    try:
      payload = compressible(3000)
      c = WsClient.connect(s.port, extensions="permessage-deflate")
      check(c.deflate is not None, "deflate declined")
      check("server_no_context_takeover" not in c.deflate,
            "server_no_context_takeover in the response %r" % c.deflate)
      sizes = []
      for i in range(5):
        c.send(frame(OP_TEXT, c.compress(payload), rsv=RSV1))
        f = c.recv_frame()
        check(f.fin and f.opcode == OP_TEXT and f.rsv == RSV1, "reply %d: %r" % (i, f))
        sizes.append(len(f.payload))
        # The client's inflater keeps its context (no server_no_context_takeover).
        check(c.inflate(f.payload) == payload, "reply %d does not inflate to the message" % i)
      check(all(n * 4 < sizes[0] for n in sizes[1:]),
            "repeated message not compressed against the kept context: sizes %r" % sizes)
      c.close()
      fresh = WsClient.connect(s.port, extensions="permessage-deflate; server_no_context_takeover")
      check("server_no_context_takeover" in fresh.deflate, "not honoured: %r" % fresh.deflate)
      fresh_sizes = []
      for i in range(3):
        fresh.send(frame(OP_TEXT, fresh.compress(payload), rsv=RSV1))
        f = fresh.recv_frame()
        fresh_sizes.append(len(f.payload))
        check(fresh.inflate(f.payload) == payload, "fresh reply %d does not inflate" % i)
      check(len(set(fresh_sizes)) == 1, "a fresh context per message, yet sizes %r" % fresh_sizes)
      fresh.close()
    finally:
      s.stop()

  def mixed(self):
    c = self.connect()
    for i in range(20):
      payload = compressible(100 + i * 37)
      compressed = i % 2 == 0
      c.send(frame(OP_TEXT, c.compress(payload) if compressed else payload,
                   rsv=RSV1 if compressed else 0))
      c.expect_message(OP_TEXT, payload, "message %d (%s)" %
                       (i, "compressed" if compressed else "uncompressed"))
    c.close()

  def fragmented(self):
    c = self.connect()
    for size, pieces in ((10000, 2), (100000, 7), (600000, 40), (5000, 5000)):
      payload = compressible(size)
      data = c.compress(payload)
      step = max(1, len(data) // pieces)
      parts = [data[i:i + step] for i in range(0, len(data), step)]
      out = b""
      for i, part in enumerate(parts):
        out += frame(OP_TEXT if i == 0 else OP_CONT, part, fin=i == len(parts) - 1,
                     rsv=RSV1 if i == 0 else 0)
        if i == len(parts) // 2:
          out += frame(OP_PING, b"mid")
      c.send(out)
      pongs = []
      op, got = c.recv_message(pongs)
      check(op == OP_TEXT and got == payload,
            "a %d-byte message compressed into %d frames: echo differs" % (size, len(parts)))
      if not pongs:
        f = c.recv_frame()
        check(f.payload == b"mid", "want the pong, got %r" % f)
    c.close()

  def fail(self, data, codes, what, offer="permessage-deflate"):
    c = self.connect(offer)
    c.send(data)
    c.expect_close(codes, what)
    c.close()
    self.server.check_alive(what)

  def errors(self):
    d = deflate_message(b"hello hello hello")
    self.fail(frame(OP_TEXT, d[:5], fin=False, rsv=RSV1) + frame(OP_CONT, d[5:], rsv=RSV1),
              (1002,), "RSV1 on a continuation frame")
    self.fail(frame(OP_PING, b"x", rsv=RSV1), (1002,), "RSV1 on a ping")
    self.fail(frame(OP_TEXT, d, rsv=2), (1002,), "RSV2 with deflate negotiated")
    self.fail(frame(OP_BINARY, b"\xff\xff\xff\xff garbage", rsv=RSV1), (1002, 1007, 1011),
              "compressed data that does not inflate")
    self.fail(frame(OP_TEXT, deflate_message(b"ok \xed\xa0\x80 surrogate"), rsv=RSV1), (1007,),
              "invalid UTF-8 after inflating")

  def zip_bomb(self):
    canary = self.connect()
    canary.echo(OP_TEXT, b"canary before")
    # 64 MiB of zeros deflate to ~64 KiB; sent as one frame of that size,
    # well under --max_message, inflating to 64x --max_message.
    bomb = deflate_message(bytes(64 << 20))
    check(len(bomb) < MAX_MESSAGE, "the bomb itself is over the limit (%d)" % len(bomb))
    rss0 = self.server.rss_bytes()
    for op in (OP_BINARY, OP_TEXT):
      c = self.connect()
      c.send(frame(op, bomb, rsv=RSV1))
      c.expect_close((1009,), "%d compressed bytes inflating to 64 MiB (--max_message=1 MiB)" %
                     len(bomb))
      c.close()
      start = time.monotonic()
      canary.echo(OP_TEXT, b"canary after the bomb")
      check(time.monotonic() - start < 2, "the canary waited %.2fs after the bomb" %
            (time.monotonic() - start))
    grown = self.server.rss_bytes() - rss0
    check(grown < 32 << 20, "the server's RSS grew by %d MiB for two zip bombs" % (grown >> 20))
    # Fragmented: each frame small, the inflated total over the limit.
    c = self.connect()
    parts = [bomb[i:i + 4096] for i in range(0, len(bomb), 4096)]
    c.send(b"".join(frame(OP_BINARY if i == 0 else OP_CONT, p, fin=i == len(parts) - 1,
                          rsv=RSV1 if i == 0 else 0) for i, p in enumerate(parts)))
    c.expect_close((1009,), "a fragmented zip bomb")
    c.close()
    canary.echo(OP_TEXT, b"canary at the end")
    canary.close()


def main():
  binary = sys.argv[1]
  suite = Suite("ws_deflate")
  d = Deflate(binary)
  case = suite.case
  try:
    case("13.x deflate off by default (declined; RSV1 -> 1002)", d.off_by_default, binary)
    case("13.x negotiation: accepted offers and their response parameters", d.negotiation)
    case("13.x server_max_window_bits=10: accepted with <= 10 (and inflates), or declined",
         d.narrow_server_window)
    case("13.x invalid offers declined, handshake still succeeds", d.declined)
    case("12.x compressed echo 0 B..1 MiB, client context takeover", d.echo_sizes,
         "permessage-deflate; client_max_window_bits", True)
    case("12.x compressed echo, no client context takeover", d.echo_sizes,
         "permessage-deflate; client_no_context_takeover", False)
    case("12.x compressed echo, server_no_context_takeover requested", d.echo_sizes,
         "permessage-deflate; server_no_context_takeover", True)
    case("12.x server context takeover (--deflate_context_takeover), and declined on request",
         d.server_context_takeover, binary)
    case("12.x compressed and uncompressed messages mixed", d.mixed)
    case("12.x compressed messages fragmented, RSV1 on the first frame, ping between",
         d.fragmented)
    case("13.x RSV1 misuse -> 1002, bad data -> close, bad UTF-8 -> 1007", d.errors)
    case("zip bomb (64 MiB from 64 KiB) -> 1009, RSS bounded, canary served", d.zip_bomb)
    case("SIGTERM: exit 0", d.server.stop)
  finally:
    d.server.kill()
  suite.finish()


if __name__ == "__main__":
  main()
