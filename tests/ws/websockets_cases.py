# Copyright netman authors.
#
# Test cases shared by the interop tests that drive ws_server with the
# Python `websockets` library (interop_websockets_test.py over ws://,
# interop_wss_test.py over wss://).
import asyncio
import signal

import websockets  # noqa: E402  (Debian python3-websockets)

from wsproto import IO_TIMEOUT, TestFailure, check


async def going_away(connect, proc, log_tail=lambda: ""):
  """SIGTERM to the server `proc`: the client `connect()` opened gets close
  1001 (Going Away) instead of a message, and the server exits 0."""
  async with connect() as ws:
    await ws.send("before")
    await ws.recv()
    proc.send_signal(signal.SIGTERM)
    try:
      await asyncio.wait_for(ws.recv(), IO_TIMEOUT)
      raise TestFailure("a message instead of the close after SIGTERM")
    except websockets.ConnectionClosed as e:
      code = e.rcvd.code if e.rcvd else None
      check(code == 1001, "close code %s after SIGTERM, want 1001 (%r)" % (code, e))
  code = proc.wait(timeout=IO_TIMEOUT)
  check(code == 0, "exit status %d after SIGTERM; stderr:\n%s" % (code, log_tail()))
