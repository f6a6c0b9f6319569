#!/usr/bin/env python3
# Copyright netman authors.
#
# ws_server as a program (wsproto.py client, standard library only):
#   * --mode=chat: every text message goes to every connection, the sender
#     included, exactly once each, in each sender's order; binary messages
#     and pings are not broadcast;
#   * chat with --permessage_deflate: a message published once reaches
#     subscribers with and without deflate (and with different parameters)
#     intact;
#   * --ping_interval / --pong_timeout: the server pings; a client that
#     answers stays, one that never answers is closed after the timeout;
#   * --heartbeat_idle_time: a silent WebSocket is closed, an active one kept;
#   * --chat_page=PATH: GET / serves that file;
#   * SIGINT and SIGTERM: every open WebSocket gets a close frame 1001, then
#     the process exits 0; a half-finished handshake does not hold it up;
#   * bad flag values are refused at start-up.
#
#   python3 server_test.py WS_SERVER

import os
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsproto import (IO_TIMEOUT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, Closed,  # noqa: E402
                     Conn, ServerProcess, Suite, TestFailure, WsClient, check)


def chat(binary):
  s = ServerProcess(binary, "--mode=chat", "--loops=2")
  try:
    clients = [WsClient.connect(s.port, path=b"/chat") for _ in range(5)]
    # Each client is subscribed once the handshake is done; a message sent
    # now must reach all five.
    per_sender = 20
    for round_ in range(per_sender):
      for i, c in enumerate(clients):
        c.send_text(b"from %d #%d" % (i, round_))
    want = sorted(b"from %d #%d" % (i, r) for i in range(len(clients))
                  for r in range(per_sender))
    for j, c in enumerate(clients):
      got = []
      for _ in range(len(want)):
        op, payload = c.recv_message()
        check(op == OP_TEXT, "client %d got opcode 0x%x" % (j, op))
        got.append(payload)
      check(sorted(got) == want, "client %d got %d messages, not each of the %d once: "
            "missing %r, extra %r" % (j, len(got), len(want),
                                      sorted(set(want) - set(got))[:5],
                                      [g for g in got if g not in want][:5]))
      for i in range(len(clients)):
        mine = [g for g in got if g.startswith(b"from %d #" % i)]
        check(mine == [b"from %d #%d" % (i, r) for r in range(per_sender)],
              "client %d saw sender %d's messages out of order: %r" % (j, i, mine[:5]))
    # A closed subscriber is dropped; the others still get everything.
    clients[0].send_close(1000)
    clients[0].expect_close((1000,), "a chat client's close")
    clients[0].close()
    clients[1].send_text(b"after one left")
    for c in clients[1:]:
      c.expect_message(OP_TEXT, b"after one left", "broadcast after a subscriber left")
    # Binary messages are not published as chat (echoed back or ignored; in
    # neither case do the others get it): the next text shows nothing came
    # before it.
    clients[1].send_frame(OP_BINARY, b"\x00binary")
    clients[2].send_text(b"marker")
    for c in clients[2:]:
      c.expect_message(OP_TEXT, b"marker", "the others after a binary message")
    for c in clients[1:]:
      c.close()
  finally:
    s.stop()


def ping_interval(binary):
  s = ServerProcess(binary, "--loops=1", "--ping_interval=200ms", "--pong_timeout=600ms")
  try:
    good = WsClient.connect(s.port)
    bad = WsClient.connect(s.port)
    start = time.monotonic()
    # One loop serves both: `good` answers every ping, `bad` never does.
    good_pings, bad_pings, bad_closed_at = 0, 0, None
    while True:
      now = time.monotonic()
      check(now - start < IO_TIMEOUT, "no verdict after %.1fs: good got %d pings, bad %d" %
            (now - start, good_pings, bad_pings))
      if bad_closed_at is not None and now - bad_closed_at > 1.5:
        break
      socks = [good.sock] + ([bad.sock] if bad_closed_at is None else [])
      ready, _, _ = select.select(socks, [], [], 0.05)
      if good.sock in ready or good.buf:
        f = good.recv_frame()
        check(f.opcode == OP_PING, "the answering client got %r" % f)
        good.send_frame(OP_PONG, f.payload)
        good_pings += 1
      if bad_closed_at is None and (bad.sock in ready or bad.buf):
        try:
          f = bad.recv_frame()
        except EOFError:
          f = None
        if f is None or f.opcode == OP_CLOSE:
          bad_closed_at = time.monotonic()
        else:
          check(f.opcode == OP_PING, "the silent client got %r" % f)
          bad_pings += 1
    took = bad_closed_at - start
    check(bad_pings >= 1, "the silent client was closed without a ping first")
    check(took < 5, "a client that never answers pings was closed only after %.1fs" % took)
    check(good_pings >= 5, "only %d pings in %.1fs at --ping_interval=200ms" %
          (good_pings, time.monotonic() - start))
    bad.close()
    good.send_text(b"still here")
    op, payload = good.recv_message()
    check(payload == b"still here", "echo after the pings: %r" % payload)
    good.close()
  finally:
    s.stop()


def chat_mixed_deflate(binary):
  # A published message is framed (and compressed) once for all
  # subscribers: subscribers with and without permessage-deflate, and with
  # different parameters, must each get it intact.
  s = ServerProcess(binary, "--mode=chat", "--loops=2", "--permessage_deflate=true")
  try:
    offers = [None, "permessage-deflate", "permessage-deflate; client_max_window_bits",
              "permessage-deflate; server_no_context_takeover; client_no_context_takeover"]
    clients = [WsClient.connect(s.port, path=b"/chat", extensions=o) for o in offers]
    check(clients[0].deflate is None and all(c.deflate is not None for c in clients[1:]),
          "negotiation: %r" % [c.deflate for c in clients])
    for i, c in enumerate(clients):
      text = (b"message from %d: " % i) + b"compressible text " * (50 * (i + 1))
      if c.deflate is not None:
        c.send_frame(OP_TEXT, c.compress(text), rsv=4)
      else:
        c.send_text(text)
      for j, r in enumerate(clients):
        op, payload = r.recv_message()
        check(op == OP_TEXT and payload == text,
              "client %d (offer %r) got %r... for client %d's message" %
              (j, offers[j], payload[:30], i))
    for c in clients:
      c.close()
  finally:
    s.stop()


def heartbeat(binary):
  s = ServerProcess(binary, "--loops=1", "--heartbeat_idle_time=1s")
  try:
    silent = WsClient.connect(s.port)
    active = WsClient.connect(s.port)
    start = time.monotonic()
    closed_at = None
    n = 0
    while time.monotonic() - start < IO_TIMEOUT:
      if closed_at is not None and time.monotonic() - closed_at > 1.0:
        break
      # `active` sends a message every 250 ms (the pace is the test's
      # subject, not a synchronisation); `silent` sends nothing.
      n += 1
      active.echo(OP_TEXT, b"alive %d" % n)
      if closed_at is None:
        ready, _, _ = select.select([silent.sock], [], [], 0.25)
        if ready:
          try:
            f = silent.recv_frame()
            if f.opcode == OP_CLOSE:
              closed_at = time.monotonic()
          except EOFError:
            closed_at = time.monotonic()
      else:
        select.select([], [], [], 0.25)
    check(closed_at is not None, "a silent WebSocket was not closed by --heartbeat_idle_time=1s")
    took = closed_at - start
    check(0.5 < took < 5, "the silent WebSocket was closed after %.2fs (--heartbeat_idle_time=1s)" % took)
    active.echo(OP_TEXT, b"the active one is still served")
    active.close()
    silent.close()
  finally:
    s.stop()


def chat_page_flag(binary):
  page = os.path.join(os.environ.get("TEST_TMPDIR", "/tmp"), "other_page.html")
  body = b"<!doctype html><title>another page</title><p id=other>\xc3\xa9</p>\n"
  with open(page, "wb") as f:
    f.write(body)
  s = ServerProcess(binary, "--mode=chat", "--chat_page=" + page)
  try:
    c = Conn(s.port)
    c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    status, line, headers = c.read_http_head()
    check(status == 200, "GET / with --chat_page: %r" % line)
    check(headers.get("content-type", "").startswith("text/html"), "Content-Type %r" %
          headers.get("content-type"))
    got = c.read_exact(int(headers.get("content-length", "0")))
    check(got == body, "GET / served %r, want the --chat_page file %r" % (got[:80], body))
    c.close()
  finally:
    s.stop()


def shutdown(binary, signum):
  s = ServerProcess(binary, "--loops=2")
  try:
    clients = [WsClient.connect(s.port) for _ in range(6)]
    for c in clients:
      c.echo(OP_TEXT, b"before the signal")
    half = Conn(s.port)
    half.send(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")  # never finished
    s.proc.send_signal(signum)
    for i, c in enumerate(clients):
      c.expect_close((1001,), "client %d on signal %d" % (i, signum))
      c.close()
    code = s.proc.wait(timeout=IO_TIMEOUT)
    check(code == 0, "exit status %d after signal %d; stderr:\n%s" % (code, signum,
                                                                      s.stderr_tail()))
    half.close()
  finally:
    s.kill()


def bad_flags(binary):
  for flag in ("--mode=bogus", "--max_message=-1", "--ping_interval=-1s", "--port=70000"):
    p = subprocess.run([binary, "--host=127.0.0.1", flag], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=IO_TIMEOUT, text=True)
    check(p.returncode != 0, "%s accepted (exit 0)" % flag)
    check("listening" not in p.stdout, "%s: the server started: %r" % (flag, p.stdout))


def main():
  binary = sys.argv[1]
  suite = Suite("ws_server")
  suite.case("chat: 5 clients x 20 messages, each to all once, sender order kept", chat, binary)
  suite.case("chat with deflate: subscribers with and without it all get each message",
             chat_mixed_deflate, binary)
  suite.case("--heartbeat_idle_time=1s: a silent WebSocket is closed, an active one kept", heartbeat,
             binary)
  suite.case("--chat_page=PATH: GET / serves that file", chat_page_flag, binary)
  suite.case("--ping_interval/--pong_timeout: silent peer closed, answering peer kept",
             ping_interval, binary)
  suite.case("SIGTERM: close 1001 to every WebSocket, exit 0", shutdown, binary,
             signal.SIGTERM)
  suite.case("SIGINT: close 1001 to every WebSocket, exit 0", shutdown, binary, signal.SIGINT)
  suite.case("bad flag values refused", bad_flags, binary)
  suite.finish()


if __name__ == "__main__":
  main()
