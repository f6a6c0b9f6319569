#!/usr/bin/env python3
# Copyright netman authors.
#
# RFC 6455 conformance of ws_server (echo mode), over real sockets, with a
# client written from the RFC (wsproto.py, standard library only). The cases
# follow the Autobahn|Testsuite categories (the suite itself needs Python 2
# and cannot run here); "[a.b.c]" in a case name is the Autobahn case it is
# modelled on:
#   1  framing: text and binary echo at every length-form boundary, also
#      written a few bytes at a time;
#   2  ping/pong: pong echoes the ping's payload, 125-byte limit, unsolicited
#      pongs ignored, pings between fragments;
#   3  reserved bits -> 1002, after the valid message before them is echoed;
#   4  reserved opcodes (data and control) -> 1002;
#   5  fragmentation: reassembly, control frames between fragments,
#      fragmented control frames and orphan continuations -> 1002;
#   6  UTF-8: valid edge cases echoed (also code points split over frames and
#      a fragment per byte), invalid sequences -> 1007, fail-fast before the
#      message ends;
#   7  closing: codes echoed, reasons, invalid codes and 1-byte payloads ->
#      1002, invalid UTF-8 reasons -> 1007, nothing answered after a close;
#   9  big messages: 1-4 MiB single-frame and fragmented, and the message
#      limit (--max_message) enforced from the declared length (1009).
# After every failing case the server must still be alive and serving (a
# fresh connection echoes).
#
#   python3 conformance_test.py WS_SERVER

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsproto import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RSV1,  # noqa: E402
                     RSV2, RSV3, Closed, ServerProcess, Suite, TestFailure, WsClient, check,
                     close_payload, frame)

rng = random.Random(6455)


def rand_bytes(n):
  return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


class Conformance:
  def __init__(self, binary):
    self.binary = binary
    self.server = ServerProcess(binary, "--loops=1")
    self.port = self.server.port

  def connect(self, **kw):
    return WsClient.connect(self.port, **kw)

  def still_serving(self, what):
    self.server.check_alive(what)
    c = self.connect()
    c.echo(OP_TEXT, b"still serving", "a fresh connection after " + what)
    c.send_close(1000)
    c.expect_close((1000,), "the fresh connection's close")
    c.close()

  def expect_failure(self, data, codes, echoes=(), what=""):
    """Sends `data` on a new connection, expects the `echoes` (opcode,
    payload) first, then a close with one of `codes`, then EOF."""
    c = self.connect()
    try:
      c.send(data)
    except (BrokenPipeError, ConnectionResetError):
      pass
    for op, payload in echoes:
      c.expect_message(op, payload, what + " (the valid message before the bad frame)")
    c.expect_close(codes, what)
    c.close()
    self.still_serving(what)

  # --- 1: framing ---------------------------------------------------------------
  def framing_lengths(self, opcode):
    c = self.connect()
    for n in (0, 1, 125, 126, 127, 128, 65535, 65536, 65537):
      payload = (b"*" * n) if opcode == OP_TEXT else rand_bytes(n)
      c.echo(opcode, payload, "%d-byte message" % n)
    c.close()

  def framing_chopped(self):
    c = self.connect()
    payload = rand_bytes(65536)
    data = frame(OP_BINARY, payload)
    for i in range(0, len(data), 997):
      c.send(data[i:i + 997])
    c.expect_message(OP_BINARY, payload, "65536 bytes written 997 at a time [1.1.8]")
    c.close()

  def framing_length_not_shortest(self):
    # RFC 6455 5.2 tells senders to use the minimal length encoding; a 16-bit
    # form for 5 bytes is still decodable. Either echo or 1002 is conformant,
    # but never a crash or a hang.
    c = self.connect()
    c.send(frame(OP_TEXT, b"hello", length_form=16))
    try:
      c.expect_message(OP_TEXT, b"hello", "5 bytes in the 16-bit form")
    except TestFailure as e:
      if "close 1002" not in str(e) and "1002" not in str(e):
        raise
    c.close()
    self.still_serving("a non-minimal length")

  def many_frames_one_write(self):
    c = self.connect()
    msgs = [(OP_TEXT if i % 2 else OP_BINARY, rand_bytes(i * 7) if i % 2 == 0 else
             ("m%d" % i).encode()) for i in range(200)]
    c.send(b"".join(frame(op, p) for op, p in msgs))
    for op, p in msgs:
      c.expect_message(op, p, "200 messages in one write")
    c.close()

  # --- 2: ping/pong -------------------------------------------------------------
  def ping(self, payload):
    c = self.connect()
    c.send_frame(OP_PING, payload)
    f = c.recv_frame()
    check(f.opcode == OP_PONG and f.payload == payload,
          "ping with %d bytes: got %r, want a pong with the same payload" % (len(payload), f))
    c.close()

  def ping_chopped(self):
    c = self.connect()
    payload = rand_bytes(125)
    data = frame(OP_PING, payload)
    for i in range(len(data)):
      c.send(data[i:i + 1])
    f = c.recv_frame()
    check(f.opcode == OP_PONG and f.payload == payload, "got %r" % f)
    c.close()

  def unsolicited_pong(self, payload):
    c = self.connect()
    c.send_frame(OP_PONG, payload)
    c.echo(OP_TEXT, b"after the pong", "the echo after an unsolicited pong (no reply to it)")
    c.close()

  def pong_then_ping(self):
    c = self.connect()
    c.send(frame(OP_PONG, b"unsolicited") + frame(OP_PING, b"solicited"))
    f = c.recv_frame()
    check(f.opcode == OP_PONG and f.payload == b"solicited",
          "got %r, want only the pong for 'solicited' [2.9]" % f)
    c.close()

  def ten_pings(self):
    c = self.connect()
    payloads = [b"payload-%d" % i for i in range(10)]
    c.send(b"".join(frame(OP_PING, p) for p in payloads))
    for p in payloads:
      f = c.recv_frame()
      check(f.opcode == OP_PONG and f.payload == p, "got %r, want pong %r" % (f, p))
    c.close()

  # --- 4 and 3: opcodes and reserved bits -------------------------------------
  def reserved_opcode(self, opcode):
    self.expect_failure(frame(OP_TEXT, b"valid") + frame(opcode, b"reserved") +
                        frame(OP_PING, b"not answered"), (1002,),
                        echoes=[(OP_TEXT, b"valid")], what="opcode 0x%x" % opcode)

  def reserved_bits(self, opcode, rsv):
    payload = close_payload(1000) if opcode == OP_CLOSE else b"reserved bits"
    self.expect_failure(frame(OP_TEXT, b"valid") + frame(opcode, payload, rsv=rsv),
                        (1002,), echoes=[(OP_TEXT, b"valid")],
                        what="RSV %d on opcode 0x%x" % (rsv, opcode))

  # --- 5: fragmentation -----------------------------------------------------------
  def fragmented(self, opcode, parts, interleave=None):
    c = self.connect()
    data = b""
    for i, part in enumerate(parts):
      data += frame(opcode if i == 0 else OP_CONT, part, fin=i == len(parts) - 1)
      if interleave is not None and i < len(parts) - 1:
        data += frame(interleave, b"between %d" % i)
    c.send(data)
    if interleave == OP_PING:
      for i in range(len(parts) - 1):
        f = c.recv_frame()
        check(f.opcode == OP_PONG and f.payload == b"between %d" % i,
              "pong for the ping between fragments: got %r" % f)
    c.expect_message(opcode, b"".join(parts), "message in %d fragments" % len(parts))
    c.close()

  def fragment_per_write(self):
    # Each fragment in its own write, a barrier between, so the server really
    # holds a partial message between reads.
    c = self.connect()
    aux = self.connect()
    parts = [b"frag%d-" % i for i in range(8)]
    for i, part in enumerate(parts):
      c.send(frame(OP_TEXT if i == 0 else OP_CONT, part, fin=i == len(parts) - 1))
      aux.barrier()
    c.expect_message(OP_TEXT, b"".join(parts), "8 fragments in 8 reads")
    c.close()
    aux.close()

  def empty_fragments(self):
    c = self.connect()
    c.send(frame(OP_TEXT, b"", fin=False) + frame(OP_CONT, b"", fin=False) +
           frame(OP_CONT, b"", fin=True))
    c.expect_message(OP_TEXT, b"", "three empty fragments [6.1.3]")
    c.close()

  # --- 6: UTF-8 -------------------------------------------------------------------
  VALID_UTF8 = [
      b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
      "\u03ba\u1f79\u03c3\u03bc\u03b5".encode(),  # kosme [6.5.1]
      b"\x00", b"\xc2\x80", b"\xe0\xa0\x80", b"\xf0\x90\x80\x80",  # first of each length
      b"\x7f", b"\xdf\xbf", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf",  # last of each length
      b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd",  # around the surrogates; U+FFFD
      b"\xef\xbf\xbe", b"\xef\xbf\xbf",  # noncharacters are valid UTF-8 [6.11]
  ]
  INVALID_UTF8 = [
      b"\x80", b"\xbf", b"\x80\xbf",  # lone continuation bytes [6.6]
      b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf",  # overlong
      b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xc0\xaf", b"\xe0\x80\xaf",
      b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\x80\xed\xb0\x80",  # surrogates
      b"\xf4\x90\x80\x80", b"\xf7\xbf\xbf\xbf",  # above U+10FFFF
      b"\xf5", b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80", b"\xfe", b"\xff",
      b"\xc2", b"\xe0\xa0", b"\xf0\x90\x80",  # truncated at the end of the message
      b"\xc2\x41", b"\xe0\xa0\x41", b"abc\xce\xbaxyz\xf0\x90\x80",
      "\u03ba\u1f79\u03c3\u03bc\u03b5".encode() + b"\xed\xa0\x80edited",  # [6.3.1]
  ]

  def utf8_valid(self):
    c = self.connect()
    for s in self.VALID_UTF8:
      c.echo(OP_TEXT, s, "valid UTF-8 %r" % s)
    c.close()

  def utf8_valid_split_everywhere(self):
    # [6.2.3/6.2.4] every code point split over frames: one fragment per byte.
    c = self.connect()
    s = b"".join(self.VALID_UTF8[:2]) + b"\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"
    data = b"".join(frame(OP_TEXT if i == 0 else OP_CONT, s[i:i + 1], fin=i == len(s) - 1)
                    for i in range(len(s)))
    c.send(data)
    c.expect_message(OP_TEXT, s, "%d bytes of UTF-8, one fragment per byte" % len(s))
    # And at every two-fragment split point.
    for cut in range(1, len(s)):
      c.send(frame(OP_TEXT, s[:cut], fin=False) + frame(OP_CONT, s[cut:]))
      c.expect_message(OP_TEXT, s, "split at byte %d" % cut)
    c.close()

  def utf8_invalid(self, s, fragmented):
    if fragmented:
      data = b"".join(frame(OP_TEXT if i == 0 else OP_CONT, s[i:i + 1], fin=i == len(s) - 1)
                      for i in range(len(s)))
    else:
      data = frame(OP_TEXT, s)
    self.expect_failure(data, (1007,), what="invalid UTF-8 %r%s" %
                        (s, " a byte per fragment" if fragmented else ""))

  def utf8_invalid_cases(self):
    # One connection per vector, but a single case (one line in the output)
    # per group; every vector is named in a failure.
    failures = []
    for s in self.INVALID_UTF8:
      for fragmented in (False, True):
        try:
          self.utf8_invalid(s, fragmented)
        except (TestFailure, EOFError, OSError) as e:
          failures.append("%r%s: %s" % (s, " fragmented" if fragmented else "", e))
    check(not failures, "%d of %d invalid vectors not closed with 1007:\n%s" %
          (len(failures), 2 * len(self.INVALID_UTF8), "\n".join(failures)))

  def utf8_code_point_split_then_invalid(self):
    # The first byte of a 3-byte code point ends one frame, the next frame
    # goes on with ASCII: invalid across the frame boundary -> 1007.
    self.expect_failure(frame(OP_TEXT, b"ab\xe2\x82", fin=False) + frame(OP_CONT, b"A"),
                        (1007,), what="a code point cut short by the next fragment")

  def utf8_fail_fast(self):
    # [6.4.1/6.4.2] The invalid fragment has FIN=0 and no more is sent: the
    # server must fail the connection on the bytes it has, without waiting
    # for the end of the message.
    for first, second in ((b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", b"\xf4\x90\x80\x80"),
                          (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4", b"\x90")):
      c = self.connect()
      c.send(frame(OP_TEXT, first, fin=False))
      c.barrier()
      c.send(frame(OP_CONT, second, fin=False))
      c.expect_close((1007,), "invalid fragment %r with the message still open" % second)
      c.close()
    self.still_serving("fail-fast UTF-8")

  def utf8_fail_fast_in_frame(self):
    # [6.4.3/6.4.4] Stricter: the invalid bytes open a 1000-byte frame whose
    # rest never comes. A parser that validates payload as it arrives fails
    # at once; one that waits for whole frames would hang here.
    c = self.connect()
    whole = frame(OP_TEXT, b"\xf4\x90\x80\x80" + b"a" * 996)
    c.send(whole[:-900])
    c.expect_close((1007,), "invalid bytes at the start of a frame whose rest never came")
    c.close()
    self.still_serving("fail-fast UTF-8 inside a frame")

  def binary_not_validated(self):
    c = self.connect()
    c.echo(OP_BINARY, b"\xff\xfe\xc0\x80\xed\xa0\x80", "invalid UTF-8 in a binary message")
    c.close()

  # --- 7: closing -------------------------------------------------------------------
  def close_code_echoed(self, code, reason=b""):
    c = self.connect()
    c.send_close(code, reason)
    got, got_reason = c.expect_close((code,), "close %d" % code, reply=False)
    c.close()

  def close_no_payload(self):
    c = self.connect()
    c.send_close()
    c.expect_close((None, 1000), "close without a payload [7.3.1]", reply=False)
    c.close()

  def close_reason_max(self):
    self.close_code_echoed(1000, b"r" * 123)

  def close_then(self, after, what):
    # [7.1.2-7.1.4] nothing after our close is answered.
    c = self.connect()
    c.send(frame(OP_CLOSE, close_payload(1000)) + after)
    try:
      f = c.recv_frame()
    except EOFError:
      raise TestFailure("%s: EOF without a close frame" % what)
    check(f.opcode == OP_CLOSE, "%s: got %r before the close frame" % (what, f))
    rest = c.read_until_eof(what)
    check(rest == b"", "%s: %d bytes after the close frame: %r" % (what, len(rest), rest[:60]))
    c.close()

  def close_mid_fragmented(self):
    # [7.1.5] a message left open, then close: the close is answered, the
    # partial message is not echoed.
    c = self.connect()
    c.send(frame(OP_TEXT, b"fragment one", fin=False) + frame(OP_CLOSE, close_payload(1000)))
    c.expect_close((1000,), "close with a fragmented message open", reply=False)
    c.close()

  def close_after_big(self):
    # [7.1.6] a big message, a ping and a close in one go: the echo and the
    # pong (in either order), then the close.
    c = self.connect()
    payload = rand_bytes(256 * 1024)
    c.send(frame(OP_BINARY, payload) + frame(OP_PING, b"p") +
           frame(OP_CLOSE, close_payload(1000)))
    pongs = []
    op, got = c.recv_message(pongs)
    check(op == OP_BINARY and got == payload, "the big message before the close differs")
    if not pongs:
      f = c.recv_frame()
      check(f.opcode == OP_PONG and f.payload == b"p", "want the pong, got %r" % f)
    c.expect_close((1000,), "the close after them", reply=False)
    c.close()

  def server_initiated_wait(self):
    # A server that fails a connection waits for our close before ending TCP
    # (we answer at once; expect_close checks the EOF follows).
    self.expect_failure(frame(OP_CLOSE, b"\x03"), (1002,), what="1-byte close payload [7.3.2]")

  # --- 9: big messages ------------------------------------------------------------
  def big(self, opcode, size, frag=None):
    c = self.connect()
    payload = (b"big text \xce\xba " * (size // 12 + 1))[:size] if opcode == OP_TEXT \
        else rand_bytes(size)
    if opcode == OP_TEXT:
      payload = payload[:len(payload.decode("utf-8", "ignore").encode())]
    if frag:
      parts = [payload[i:i + frag] for i in range(0, len(payload), frag)]
      data = b"".join(frame(opcode if i == 0 else OP_CONT, p, fin=i == len(parts) - 1)
                      for i, p in enumerate(parts))
    else:
      data = frame(opcode, payload)
    c.send(data)
    c.expect_message(opcode, payload, "%d bytes%s" %
                     (len(payload), " in %d-byte fragments" % frag if frag else ""))
    c.close()


def limits(binary, suite):
  """--max_message enforced from the declared length (1009), for a single
  frame (only its header sent) and for fragments adding up to too much."""
  limit = 1 << 20
  server = ServerProcess(binary, "--loops=1", "--max_message=%d" % limit)
  try:
    def at_limit():
      c = WsClient.connect(server.port)
      payload = rand_bytes(limit)
      c.echo(OP_BINARY, payload, "a message of exactly --max_message")
      c.close()

    def over_declared():
      c = WsClient.connect(server.port)
      c.send(frame(OP_BINARY, b"", length=limit + 1)[:14])  # the header and mask key only
      c.expect_close((1009,), "a frame declaring --max_message + 1 (header only sent)")
      c.close()

    def over_fragmented():
      c = WsClient.connect(server.port)
      half = limit // 2
      c.send(frame(OP_BINARY, rand_bytes(half), fin=False) +
             frame(OP_CONT, rand_bytes(half), fin=False) + frame(OP_CONT, b"x", fin=True))
      c.expect_close((1009,), "fragments adding up to --max_message + 1")
      c.close()

    def default_limit():
      # The default is 16 MiB: a header declaring 16 MiB + 1 is refused at once.
      s2 = ServerProcess(binary, "--loops=1")
      try:
        c = WsClient.connect(s2.port)
        c.send(frame(OP_BINARY, b"", length=(16 << 20) + 1)[:14])
        c.expect_close((1009,), "16 MiB + 1 declared with the default --max_message")
        c.close()
      finally:
        s2.stop()

    suite.case("9.x message of exactly --max_message (1 MiB) echoed", at_limit)
    suite.case("9.x declared length over --max_message -> 1009 before the payload", over_declared)
    suite.case("9.x fragments over --max_message -> 1009", over_fragmented)
    suite.case("9.x default --max_message is 16 MiB", default_limit)
    suite.case("9.x server alive after the limit cases", server.check_alive)
  finally:
    server.stop()


def main():
  binary = sys.argv[1]
  suite = Suite("ws_conformance")
  t = Conformance(binary)
  case = suite.case
  try:
    # 1
    case("1.1.x text echo at every length boundary (0..65537)", t.framing_lengths, OP_TEXT)
    case("1.2.x binary echo at every length boundary (0..65537)", t.framing_lengths, OP_BINARY)
    case("1.1.8 65536 bytes written in 997-byte pieces", t.framing_chopped)
    case("1.x 200 messages in one write", t.many_frames_one_write)
    case("1.x non-minimal length form: echo or 1002, never a hang", t.framing_length_not_shortest)
    # 2
    case("2.1 ping without payload -> pong", t.ping, b"")
    case("2.2 ping with text payload -> same payload", t.ping, b"Hello, world!")
    case("2.3 ping with binary payload -> same payload", t.ping, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")
    case("2.4 ping with 125-byte payload", t.ping, rand_bytes(125))
    case("2.5 ping with 126-byte payload -> 1002", t.expect_failure,
         frame(OP_PING, b"\xfe" * 126), (1002,), (), "ping of 126 bytes")
    case("2.6 125-byte ping written a byte at a time", t.ping_chopped)
    case("2.7 unsolicited empty pong ignored", t.unsolicited_pong, b"")
    case("2.8 unsolicited pong with payload ignored", t.unsolicited_pong, b"unsolicited")
    case("2.9 unsolicited pong then ping -> only that ping's pong", t.pong_then_ping)
    case("2.10 ten pings -> ten pongs in order", t.ten_pings)
    # 3
    for i, (op, rsv) in enumerate([(OP_TEXT, RSV3), (OP_TEXT, RSV2), (OP_TEXT, RSV1),
                                   (OP_TEXT, RSV1 | RSV2 | RSV3), (OP_BINARY, RSV2 | RSV3),
                                   (OP_PING, RSV1 | RSV3), (OP_CLOSE, RSV1 | RSV2)]):
      case("3.%d RSV=%d on opcode 0x%x (no extension) -> 1002" % (i + 1, rsv, op),
           t.reserved_bits, op, rsv)
    # 4
    for op in (3, 4, 5, 6, 7):
      case("4.1.x reserved data opcode 0x%x -> 1002" % op, t.reserved_opcode, op)
    for op in (0xB, 0xC, 0xD, 0xE, 0xF):
      case("4.2.x reserved control opcode 0x%x -> 1002" % op, t.reserved_opcode, op)
    # 5
    case("5.1 fragmented ping -> 1002", t.expect_failure,
         frame(OP_PING, b"frag", fin=False) + frame(OP_CONT, b"ment"), (1002,), (),
         "ping with FIN=0")
    case("5.2 fragmented pong -> 1002", t.expect_failure,
         frame(OP_PONG, b"frag", fin=False) + frame(OP_CONT, b"ment"), (1002,), (),
         "pong with FIN=0")
    case("5.3 text in 2 fragments", t.fragmented, OP_TEXT, [b"fragment1", b"fragment2"])
    case("5.4 text in 2 fragments, one read each", t.fragment_per_write)
    case("5.6 ping between text fragments -> pong, then the message", t.fragmented, OP_TEXT,
         [b"fragment1", b"fragment2"], OP_PING)
    case("5.8 unsolicited pong between fragments ignored", t.fragmented, OP_BINARY,
         [b"a", b"b", b"c"], OP_PONG)
    case("5.9 continuation (FIN=1) with nothing to continue -> 1002", t.expect_failure,
         frame(OP_CONT, b"orphan") + frame(OP_TEXT, b"never echoed"), (1002,), (),
         "orphan continuation")
    case("5.12 continuation (FIN=0) with nothing to continue -> 1002", t.expect_failure,
         frame(OP_CONT, b"orphan", fin=False), (1002,), (), "orphan non-final continuation")
    case("5.15 message, then an orphan continuation -> echo, then 1002", t.expect_failure,
         frame(OP_TEXT, b"frag1", fin=False) + frame(OP_CONT, b"frag2") +
         frame(OP_CONT, b"orphan", fin=False) + frame(OP_TEXT, b"never"), (1002,),
         [(OP_TEXT, b"frag1frag2")], "orphan continuation after a complete message")
    case("5.17 a new text message inside an open one -> 1002", t.expect_failure,
         frame(OP_TEXT, b"open", fin=False) + frame(OP_TEXT, b"again"), (1002,), (),
         "text frame while a message is open")
    case("5.18 a binary message inside an open text one -> 1002", t.expect_failure,
         frame(OP_TEXT, b"open", fin=False) + frame(OP_BINARY, b"again", fin=False), (1002,),
         (), "binary frame while a message is open")
    case("5.19 text in 5 fragments with pings between", t.fragmented, OP_TEXT,
         [b"f1", b"f2", b"f3", b"f4", b"f5"], OP_PING)
    case("5.x binary in 64 fragments", t.fragmented, OP_BINARY,
         [rand_bytes(rng.randrange(0, 300)) for _ in range(64)])
    case("6.1.3 three empty fragments -> empty text", t.empty_fragments)
    # 6
    case("6.2-6.12 valid UTF-8 edge cases echoed", t.utf8_valid)
    case("6.2.3 valid UTF-8 one fragment per byte and split at every byte",
         t.utf8_valid_split_everywhere)
    case("6.3-6.21 invalid UTF-8 -> 1007 (whole and a byte per fragment)",
         t.utf8_invalid_cases)
    case("6.x code point cut short by the next fragment -> 1007",
         t.utf8_code_point_split_then_invalid)
    case("6.4.1-2 fail-fast: 1007 on an invalid fragment, message still open", t.utf8_fail_fast)
    case("6.4.3-4 fail-fast: 1007 on invalid bytes, frame still incomplete",
         t.utf8_fail_fast_in_frame)
    case("6.x binary messages are not UTF-8 checked", t.binary_not_validated)
    # 7
    case("7.1.1 echo then close 1000", t.close_code_echoed, 1000, b"")
    case("7.1.2 close then close: one close back, then EOF", t.close_then,
         frame(OP_CLOSE, close_payload(1000)), "a second close")
    case("7.1.3 close then ping: no pong", t.close_then, frame(OP_PING, b"late"),
         "a ping after the close")
    case("7.1.4 close then text: no echo", t.close_then, frame(OP_TEXT, b"late"),
         "a message after the close")
    case("7.1.5 close with a fragmented message open", t.close_mid_fragmented)
    case("7.1.6 256 KiB message, ping and close in one write", t.close_after_big)
    case("7.3.1 close without payload", t.close_no_payload)
    case("7.3.2 close with a 1-byte payload -> 1002", t.server_initiated_wait)
    case("7.3.4 close 1000 with reason", t.close_code_echoed, 1000, b"Hello World!")
    case("7.3.5 close with a 123-byte reason", t.close_reason_max)
    case("7.3.6 close with a 124-byte reason (payload 126) -> 1002", t.expect_failure,
         frame(OP_CLOSE, close_payload(1000, b"r" * 124)), (1002,), (), "close payload 126")
    case("7.5.1 close reason not UTF-8 -> 1007", t.expect_failure,
         frame(OP_CLOSE, close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
                                             b"\xed\xa0\x80edited")), (1007,), (),
         "close reason with a surrogate")
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
      case("7.7.x valid close code %d echoed" % code, t.close_code_echoed, code, b"")
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
      case("7.9.x invalid close code %d -> 1002" % code, t.expect_failure,
           frame(OP_CLOSE, close_payload(code)), (1002,), (), "close code %d" % code)
    # 9
    for size in (64 << 10, 1 << 20, 4 << 20):
      case("9.1.x text message of %d bytes" % size, t.big, OP_TEXT, size)
      case("9.2.x binary message of %d bytes" % size, t.big, OP_BINARY, size)
    for frag in (64, 4096, 65536, 1 << 20):
      size = (1 << 20) if frag <= 4096 else (4 << 20)
      case("9.3.x text of %d bytes in %d-byte fragments" % (size, frag), t.big, OP_TEXT, size,
           frag)
      case("9.4.x binary of %d bytes in %d-byte fragments" % (size, frag), t.big, OP_BINARY,
           size, frag)
    limits(binary, suite)
    case("SIGTERM: the echo server exits 0", t.server.stop)
  finally:
    t.server.kill()
  suite.finish()


if __name__ == "__main__":
  main()
