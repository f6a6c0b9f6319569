#!/usr/bin/env python3
# Copyright netman authors.
#
# Tests the benchmark's netman-frame echo baselines (the epoll ceiling, Asio
# naive, Asio batched) over real sockets on 127.0.0.1, each with the same
# cases, standard-library Python 3 only. A frame is uint32 LE body length,
# uint32 LE message id, body; the reply must be the same length, id and body.
#   * the "<name> listening on 127.0.0.1:<port>" line the driver waits for;
#   * one frame, an empty body, ids kept;
#   * 300 frames of random sizes in one write, replies in order;
#   * frames split at every byte (one byte per send, made real with a round
#     trip on another connection in between), and at random points;
#   * a frame larger than the Asio batched server's 64 KiB read buffer, then
#     small frames again;
#   * 32 MiB of requests sent while the client reads nothing (the servers
#     must pause reading, not buffer without bound, and lose nothing);
#   * a half-close: replies to what was sent still arrive, then EOF;
#   * a body over --max_body closes the connection, and the server keeps
#     serving everyone else;
#   * --threads=2 serves too; SIGTERM exits 0.
#
#   python3 frame_echo_baselines_test.py SERVER_BINARY...

import os
import random
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echo_test_support import StreamClient, Server, TestFailure, check, run  # noqa: E402

MAX_BODY = 200000


def frame(msg_id, body):
  return struct.pack("<II", len(body), msg_id) + body


class Client(StreamClient):
  def expect_echo(self, msg_id, body, what):
    length, got_id = struct.unpack("<II", self.read_exact(8))
    check((length, got_id) == (len(body), msg_id),
          "%s: reply header length %d id %d, want %d and %d" %
          (what, length, got_id, len(body), msg_id))
    check(self.read_exact(length) == body, "%s: the body of %d bytes differs" % (what, length))


def test_server(binary, rng):
  server = Server(binary, "--max_body=%d" % MAX_BODY)
  port = server.port
  name = server.name
  try:
    aux = Client(port)
    aux_id = [0]

    def barrier():
      """A round trip on another connection: with one server thread, bytes
      sent before it on any connection have most likely been read."""
      aux_id[0] += 1
      aux.send(frame(aux_id[0], b"barrier"))
      aux.expect_echo(aux_id[0], b"barrier", "barrier")

    c = Client(port)
    c.send(frame(7, b"hello"))
    c.expect_echo(7, b"hello", "one frame")
    c.send(frame(0xFFFFFFFF, b""))
    c.expect_echo(0xFFFFFFFF, b"", "an empty body")
    print("ok: %s: one frame, an empty body" % name)

    msgs = [(rng.getrandbits(32), rng.randbytes(rng.choice((0, 1, 7, 64, 300, 4096, 5000))))
            for _ in range(300)]
    c.send(b"".join(frame(i, b) for i, b in msgs))
    for n, (i, b) in enumerate(msgs):
      c.expect_echo(i, b, "pipelined frame %d" % n)
    print("ok: %s: 300 frames in one write" % name)

    stream_msgs = [(1, b"a"), (2, b""), (3, b"x" * 20)]
    stream = b"".join(frame(i, b) for i, b in stream_msgs)
    for k in range(len(stream)):
      c.send(stream[k:k + 1])
      barrier()
    for i, b in stream_msgs:
      c.expect_echo(i, b, "frames sent byte by byte")
    for _ in range(20):
      msgs = [(rng.getrandbits(32), rng.randbytes(rng.randrange(0, 3000))) for _ in range(10)]
      stream = b"".join(frame(i, b) for i, b in msgs)
      cuts = sorted(rng.sample(range(1, len(stream)), 5))
      for a, z in zip([0] + cuts, cuts + [len(stream)]):
        c.send(stream[a:z])
        barrier()
      for i, b in msgs:
        c.expect_echo(i, b, "frames split at random points")
    print("ok: %s: frames split byte by byte and at random points" % name)

    big = rng.randbytes(150000)  # over the batched server's 64 KiB buffer
    c.send(frame(9, big)[:108])  # the header and 100 bytes of the body
    barrier()
    c.send(frame(9, big)[108:] + frame(10, b"after"))
    c.expect_echo(9, big, "a 150,000-byte frame")
    c.expect_echo(10, b"after", "a small frame after the big one")
    c.send(frame(11, big) + frame(12, b"x"))
    c.expect_echo(11, big, "a 150,000-byte frame in one write")
    c.expect_echo(12, b"x", "a small frame after it")
    print("ok: %s: frames larger than 64 KiB" % name)

    # Backpressure: 32 MiB of requests (more than the kernel's socket buffers
    # hold) while this client reads nothing.
    body = rng.randbytes(4096)
    count = 8 * 1024
    sender = threading.Thread(target=c.send,
                              args=(b"".join(frame(i, body) for i in range(count)),))
    sender.start()
    sender.join(timeout=1.0)  # the server's buffers and the kernel's fill up
    barrier()  # the server still serves others meanwhile
    for i in range(count):
      c.expect_echo(i, body, "a reply to a client that did not read for a while")
    sender.join()
    print("ok: %s: 32 MiB sent to a client not reading, nothing lost" % name)

    c.send(frame(20, b"one") + frame(21, b"two"))
    c.sock.shutdown(socket.SHUT_WR)
    c.expect_echo(20, b"one", "half-close")
    c.expect_echo(21, b"two", "half-close")
    check(c.expect_eof("half-close") == b"", "bytes after the replies of a half-closed client")
    c.close()
    print("ok: %s: half-close: replies, then EOF" % name)

    for what, data in (("a header announcing too large a body",
                        struct.pack("<II", MAX_BODY + 1, 5)),
                       ("too large a body after a good frame",
                        frame(4, b"fine") + struct.pack("<II", 0xFFFFFFFF, 5) + b"x" * 100)):
      c = Client(port)
      c.send(data)
      rest = c.expect_eof(what)
      check(rest in (b"", frame(4, b"fine")), "%s: got %r" % (what, rest[:80]))
      c.close()
    barrier()
    c = Client(port)
    c.send(frame(30, b"still here"))
    c.expect_echo(30, b"still here", "a new connection after the bad ones")
    c.close()
    aux.close()
    print("ok: %s: bodies over --max_body close; it keeps serving" % name)
  finally:
    server.stop()

  two = Server(binary, "--max_body=%d" % MAX_BODY, "--threads=2")
  try:
    clients = [Client(two.port) for _ in range(8)]
    for i, c in enumerate(clients):
      c.send(frame(i, b"thread test %d" % i))
    for i, c in enumerate(clients):
      c.expect_echo(i, b"thread test %d" % i, "--threads=2")
      c.close()
    print("ok: %s: --threads=2" % name)
  finally:
    two.stop()


def main():
  binaries = sys.argv[1:]
  check(binaries, "usage: frame_echo_baselines_test.py SERVER_BINARY...")
  rng = random.Random(20261126)
  for binary in binaries:
    test_server(binary, rng)
  print("PASS")


if __name__ == "__main__":
  run(main)
