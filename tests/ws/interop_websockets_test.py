#!/usr/bin/python3
# Copyright netman authors.
#
# Interop with Python's `websockets` library (Debian python3-websockets, so
# this runs with Debian's /usr/bin/python3): a strict client no one here
# wrote. It fails the connection on any protocol error of the server's
# (masked server frames, bad close codes, bad UTF-8, a wrong
# Sec-WebSocket-Accept, bad extension parameters).
#   * echo of text (non-ASCII) and binary messages up to 4 MiB, fragmented
#     sends, 100 concurrent clients;
#   * ping with payload -> pong; close 1000 with a reason -> 1000 back;
#   * permessage-deflate: negotiated by the library's default offer and
#     with server_no_context_takeover / client_max_window_bits, compressed
#     echo of compressible and random data;
#   * chat mode between two library clients; --origins refuses with 403;
#     SIGTERM -> close code 1001.
#
#   /usr/bin/python3 interop_websockets_test.py WS_SERVER

import asyncio
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsproto import IO_TIMEOUT, ServerProcess, Suite, TestFailure, check, run_async  # noqa: E402
from websockets_cases import going_away  # noqa: E402

import websockets  # noqa: E402  (Debian python3-websockets)
from websockets.extensions.permessage_deflate import (  # noqa: E402
    ClientPerMessageDeflateFactory, PerMessageDeflate)

MIB = 1 << 20
rng = random.Random(42)


def uri(server, path="/echo"):
  return "ws://127.0.0.1:%d%s" % (server.port, path)


def deflate_of(ws):
  exts = [e for e in ws.extensions if isinstance(e, PerMessageDeflate)]
  return exts[0] if exts else None


async def echo_suite(server, compression, expect_deflate):
  async with websockets.connect(uri(server), compression=compression, max_size=8 * MIB,
                                open_timeout=IO_TIMEOUT) as ws:
    if not expect_deflate:
      check(not ws.extensions, "extensions negotiated: %r" % ws.extensions)
    else:
      check(deflate_of(ws) is not None,
            "permessage-deflate not negotiated (server has --permessage_deflate): %r" %
            ws.extensions)
    texts = ["", "a", "h\u00e9llo w\u00f6rld \u03ba\u1f79\u03c3\u03bc\u03b5 \U0001F600",
             "x" * 125, "y" * 126, "z" * 65536, "word " * (MIB // 5)]
    for t in texts:
      await ws.send(t)
      got = await ws.recv()
      check(got == t, "text of %d chars came back as %r..." % (len(t), str(got)[:40]))
    for n in (0, 1, 126, 65536, MIB, 4 * MIB):
      b = rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""
      await ws.send(b)
      got = await ws.recv()
      check(got == b, "binary of %d bytes came back as %d bytes" % (n, len(got)))
    # A fragmented message: the library sends each item as a frame.
    parts = ["frag%d " % i for i in range(50)]
    await ws.send(parts)
    got = await ws.recv()
    check(got == "".join(parts), "a 50-fragment text came back as %r" % got[:60])
    waiter = await ws.ping(b"ping payload")
    await asyncio.wait_for(waiter, IO_TIMEOUT)
    await ws.close(1000, "done here")
    check(ws.close_code == 1000, "close code %s after our close 1000" % ws.close_code)


async def concurrent(server, compression):
  async def one(i):
    async with websockets.connect(uri(server), compression=compression,
                                  open_timeout=IO_TIMEOUT) as ws:
      for j in range(20):
        msg = "client %d message %d" % (i, j)
        await ws.send(msg)
        got = await ws.recv()
        check(got == msg, "client %d got %r for %r" % (i, got, msg))
  await asyncio.gather(*(one(i) for i in range(100)))


async def deflate_params(server):
  offers = [
      ClientPerMessageDeflateFactory(server_no_context_takeover=True),
      ClientPerMessageDeflateFactory(client_max_window_bits=True),
      ClientPerMessageDeflateFactory(client_no_context_takeover=True,
                                     client_max_window_bits=10),
  ]
  for factory in offers:
    async with websockets.connect(uri(server), extensions=[factory], compression=None,
                                  open_timeout=IO_TIMEOUT) as ws:
      d = deflate_of(ws)
      check(d is not None, "offer %r declined" % factory.get_request_params())
      for i in range(10):
        msg = ("compressible %d " % i) * 500
        await ws.send(msg)
        check(await ws.recv() == msg, "echo %d with offer %r" % (i, factory.get_request_params()))
      await ws.close()


async def chat(server):
  async with websockets.connect(uri(server, "/chat"), open_timeout=IO_TIMEOUT) as a, \
      websockets.connect(uri(server, "/chat"), open_timeout=IO_TIMEOUT) as b:
    # Both subscribed once their handshakes are done.
    await a.send("hello from a")
    check(await b.recv() == "hello from a", "b did not get a's message")
    check(await a.recv() == "hello from a", "a did not get its own message")
    await b.send("hello from b")
    check(await a.recv() == "hello from b", "a did not get b's message")
    check(await b.recv() == "hello from b", "b did not get its own message")


async def origins(server):
  async with websockets.connect(uri(server), origin="http://good.example",
                                open_timeout=IO_TIMEOUT) as ws:
    await ws.send("allowed")
    check(await ws.recv() == "allowed", "echo for an allowed Origin")
  try:
    async with websockets.connect(uri(server), origin="http://evil.example",
                                  open_timeout=IO_TIMEOUT):
      raise TestFailure("an Origin outside --origins was upgraded")
  except websockets.InvalidStatusCode as e:
    check(e.status_code == 403, "an Origin outside --origins got HTTP %d, want 403" %
          e.status_code)


def main():
  binary = sys.argv[1]
  print("websockets %s" % websockets.__version__)
  suite = Suite("ws_interop_websockets")
  plain = ServerProcess(binary, "--loops=2")
  deflate = ServerProcess(binary, "--loops=2", "--permessage_deflate=true")
  chat_server = ServerProcess(binary, "--mode=chat", "--loops=2")
  origin_server = ServerProcess(binary, "--origins=http://good.example")
  try:
    suite.case("echo without compression (text, binary to 4 MiB, fragments, ping, close)",
               run_async, echo_suite, plain, None, False)
    suite.case("the library's deflate offer to a server without deflate: declined, echo works",
               run_async, echo_suite, plain, "deflate", False)
    suite.case("echo with permessage-deflate (library default offer)", run_async, echo_suite,
               deflate, "deflate", True)
    suite.case("permessage-deflate parameter offers", run_async, deflate_params, deflate)
    suite.case("100 concurrent clients, no compression", run_async, concurrent, plain, None)
    suite.case("100 concurrent clients, deflate", run_async, concurrent, deflate, "deflate")
    suite.case("chat mode: two clients see each other's messages", run_async, chat,
               chat_server)
    suite.case("--origins: the library's Origin header allowed (101) or refused (403)",
               run_async, origins, origin_server)
    suite.case("SIGTERM: the client gets close 1001, exit 0", run_async, going_away,
               lambda: websockets.connect(uri(plain), open_timeout=IO_TIMEOUT), plain.proc)
    suite.case("SIGTERM (deflate server): exit 0", deflate.stop)
    suite.case("SIGTERM (chat server): exit 0", chat_server.stop)
    suite.case("SIGTERM (origins server): exit 0", origin_server.stop)
  finally:
    for s in (plain, deflate, chat_server, origin_server):
      s.kill()
  suite.finish()


if __name__ == "__main__":
  main()
