#!/usr/bin/python3
# Copyright netman authors.
#
# wss:// end to end: the ws_server binary serving TLS (--tls_cert/--tls_key,
# netman/tls's transport) with Python's `websockets` library (Debian
# python3-websockets) over Python's ssl module (OpenSSL), clients no one
# here wrote. A throw-away PKI is made at test time with the openssl CLI
# (netman/client/testing/tls_echo_server.py make_certs; nothing committed).
#   * echo of text (non-ASCII) and binary messages up to 1 MiB (many TLS
#     records), a fragmented message and a ping, over TLS 1.3 and TLS 1.2,
#     the server certificate verified against the test CA and 127.0.0.1;
#   * the same with permessage-deflate negotiated (--permessage_deflate);
#   * 20 concurrent wss clients over 2 loops;
#   * an HTTPS GET / serves the chat page over the same port;
#   * a client that does not trust the CA fails verification; the server
#     logs the failed handshake and keeps serving;
#   * a plain ws:// client against the TLS port is refused (closed, never
#     upgraded, never left hanging) while an open wss connection keeps
#     echoing;
#   * SIGHUP reloads the certificate files: new handshakes see a
#     certificate from another CA, the open connection keeps working;
#   * SIGUSR1 prints the server's and the TLS counters as two JSON lines,
#     and a connection and its handshake show up in them;
#   * SIGTERM: the client gets close 1001, exit 0.
#
#   /usr/bin/python3 interop_wss_test.py WS_SERVER TLS_ECHO_SERVER_PY
#
# Nothing waits by sleeping: every wait is for a line, a message, EOF or a
# process, with a deadline.

import asyncio
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsproto import (IO_TIMEOUT, Conn, Suite, TestFailure, check, new_key, run_async,  # noqa: E402
                     upgrade_request)
from websockets_cases import going_away  # noqa: E402

import websockets  # noqa: E402  (Debian python3-websockets)
from websockets.extensions.permessage_deflate import PerMessageDeflate  # noqa: E402

MIB = 1 << 20
rng = random.Random(7)


class Pki:
  """Two independent test PKIs (CA + server certificate for 127.0.0.1 and
  localhost each), made with tls_echo_server.py's make_certs."""

  def __init__(self, tls_echo_server, directory):
    self.a = os.path.join(directory, "a")
    self.b = os.path.join(directory, "b")
    for d in (self.a, self.b):
      subprocess.run([sys.executable, tls_echo_server, "make_certs", d], check=True,
                     timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # The files the server is started with; SIGHUP re-reads them.
    self.cert = os.path.join(directory, "server.pem")
    self.key = os.path.join(directory, "server.key")
    self.install(self.a)

  def install(self, d):
    """Points the server's files at d's certificate (atomic renames)."""
    for name, dest in (("server.pem", self.cert), ("server.key", self.key)):
      tmp = dest + ".new"
      shutil.copyfile(os.path.join(d, name), tmp)
      os.replace(tmp, dest)

  def client(self, d, version=None):
    ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
    if version is not None:
      ctx.minimum_version = ctx.maximum_version = version
    return ctx


class WssServer:
  """ws_server with --tls_cert/--tls_key on 127.0.0.1, any free port; its
  stderr is collected by a thread so a test can wait for a log line."""

  def __init__(self, binary, pki, *flags):
    self.flags = ["--host=127.0.0.1", "--port=0", "--log_level=debug",
                  "--tls_cert=" + pki.cert, "--tls_key=" + pki.key] + list(flags)
    self.proc = subprocess.Popen([binary] + self.flags, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, errors="replace")
    self.lines = []
    self.cond = threading.Condition()
    threading.Thread(target=self._drain, daemon=True).start()
    port = []
    reader = threading.Thread(target=lambda: port.append(self.proc.stdout.readline()),
                              daemon=True)
    reader.start()
    reader.join(IO_TIMEOUT)
    line = port[0].strip() if port else ""
    prefix = "ws_server listening on 127.0.0.1:"
    if not line.startswith(prefix):
      self.kill()
      raise TestFailure("ws_server %s printed %r instead of '%s<port>'; stderr:\n%s" %
                        (" ".join(self.flags), line, prefix, self.log_tail()))
    self.port = int(line[len(prefix):])

  def _drain(self):
    for line in self.proc.stderr:
      with self.cond:
        self.lines.append(line.rstrip("\n"))
        self.cond.notify_all()

  def log_tail(self, n=30):
    with self.cond:
      return "\n".join(self.lines[-n:])

  def log_count(self, needle):
    with self.cond:
      return sum(needle in line for line in self.lines)

  def wait_for_log(self, needle, count=1):
    """Waits until `count` stderr lines contain `needle`."""
    end = time.monotonic() + IO_TIMEOUT
    with self.cond:
      while sum(needle in line for line in self.lines) < count:
        left = end - time.monotonic()
        if left <= 0:
          raise TestFailure("no%s log line with %r within %ss; log:\n%s" % (
              "" if count == 1 else " %d" % count, needle, IO_TIMEOUT,
              "\n".join(self.lines[-30:])))
        self.cond.wait(left)

  def stats(self):
    """SIGUSR1: the server's counters line and the TLS counters line."""
    self.proc.send_signal(signal.SIGUSR1)
    lines = []
    reader = threading.Thread(
        target=lambda: lines.extend(self.proc.stdout.readline() for _ in range(2)), daemon=True)
    reader.start()
    reader.join(IO_TIMEOUT)
    check(len(lines) == 2, "SIGUSR1 printed %d line(s) within %ss, want 2; stderr:\n%s" %
          (len(lines), IO_TIMEOUT, self.log_tail()))
    return json.loads(lines[0]), json.loads(lines[1])["tls"]

  def check_alive(self, what=""):
    check(self.proc.poll() is None, "ws_server died %s (exit %s); stderr:\n%s" %
          (what, self.proc.poll(), self.log_tail()))

  def stop(self):
    self.check_alive("before it was stopped")
    self.proc.send_signal(signal.SIGTERM)
    try:
      code = self.proc.wait(timeout=IO_TIMEOUT)
    except subprocess.TimeoutExpired:
      self.kill()
      raise TestFailure("ws_server ignored SIGTERM for %ss" % IO_TIMEOUT)
    check(code == 0, "ws_server exited %d after SIGTERM; stderr:\n%s" % (code, self.log_tail()))

  def kill(self):
    if self.proc.poll() is None:
      self.proc.kill()
    self.proc.wait()

  def uri(self, path="/echo", scheme="wss"):
    return "%s://127.0.0.1:%d%s" % (scheme, self.port, path)


def deflate_of(ws):
  exts = [e for e in ws.extensions if isinstance(e, PerMessageDeflate)]
  return exts[0] if exts else None


def peer_cert_sha256(ws):
  der = ws.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
  return hashlib.sha256(der).hexdigest()[:16]


async def echo_suite(server, ctx, version, compression):
  async with websockets.connect(server.uri(), ssl=ctx, compression=compression,
                                max_size=4 * MIB, open_timeout=IO_TIMEOUT) as ws:
    negotiated = ws.transport.get_extra_info("ssl_object").version()
    check(negotiated == version, "negotiated %s, want %s" % (negotiated, version))
    if compression is None:
      check(not ws.extensions, "extensions negotiated: %r" % ws.extensions)
    else:
      check(deflate_of(ws) is not None, "permessage-deflate not negotiated over wss: %r" %
            ws.extensions)
    for t in ["", "a", "h\u00e9llo w\u00f6rld \u03ba\u1f79\u03c3\u03bc\u03b5 \U0001F600",
              "y" * 126, "z" * 65536, "word " * (MIB // 5)]:
      await ws.send(t)
      got = await ws.recv()
      check(got == t, "text of %d chars came back as %r..." % (len(t), str(got)[:40]))
    for n in (0, 1, 125, 126, 16383, 16384, 16385, 65536, MIB):
      b = rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""
      await ws.send(b)
      got = await ws.recv()
      check(got == b, "binary of %d bytes came back as %d bytes" % (n, len(got)))
    # Several messages before reading any reply: they share TLS records.
    burst = [("burst %d " % i) * 20 for i in range(50)]
    for m in burst:
      await ws.send(m)
    for m in burst:
      got = await ws.recv()
      check(got == m, "burst reply %r, want %r" % (got[:30], m[:30]))
    parts = ["frag%d " % i for i in range(50)]
    await ws.send(parts)
    got = await ws.recv()
    check(got == "".join(parts), "a 50-fragment text came back as %r" % got[:60])
    await asyncio.wait_for(await ws.ping(b"ping over tls"), IO_TIMEOUT)
    await ws.close(1000, "done")
    check(ws.close_code == 1000, "close code %s after our close 1000" % ws.close_code)


async def concurrent(server, ctx):
  async def one(i):
    async with websockets.connect(server.uri(), ssl=ctx, open_timeout=IO_TIMEOUT) as ws:
      for j in range(10):
        msg = "wss client %d message %d" % (i, j)
        await ws.send(msg)
        got = await ws.recv()
        check(got == msg, "client %d got %r for %r" % (i, got, msg))
  await asyncio.gather(*(one(i) for i in range(20)))


def https_page(server, ctx):
  with urllib.request.urlopen(server.uri("/", "https"), context=ctx,
                              timeout=IO_TIMEOUT) as r:
    body = r.read()
    check(r.status == 200, "GET / over TLS: HTTP %d" % r.status)
    check(r.headers.get_content_type() == "text/html",
          "GET / over TLS: Content-Type %r" % r.headers.get("Content-Type"))
    check(b"WebSocket" in body or b"<html" in body.lower(),
          "GET / over TLS: not the chat page: %r" % body[:200])


def connected_socket(server):
  """A TCP connection to the server and the log's name for it
  ("127.0.0.1:<our port>"), for a client library to run over."""
  sock = socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT)
  return sock, "(127.0.0.1:%d) closed during its handshake" % sock.getsockname()[1]


async def untrusted(server, trusted, untrusted_ctx):
  sock, closed = connected_socket(server)
  try:
    async with websockets.connect(server.uri(), ssl=untrusted_ctx, sock=sock,
                                  server_hostname="127.0.0.1", open_timeout=IO_TIMEOUT):
      raise TestFailure("a client that does not trust the CA completed the handshake")
  except ssl.SSLCertVerificationError as e:
    check(e.verify_code == 20 or "unable to get local issuer" in str(e),
          "verification failed for another reason: %r" % e)
  finally:
    sock.close()
  # The server saw that connection end during its TLS handshake (asyncio's
  # ssl closes without an alert), logged it, and serves the next one.
  server.wait_for_log(closed)
  async with websockets.connect(server.uri(), ssl=trusted, open_timeout=IO_TIMEOUT) as ws:
    await ws.send("after the untrusted client")
    check(await ws.recv() == "after the untrusted client", "echo after an untrusted client")


async def plain_ws_refused(server, ctx):
  async with websockets.connect(server.uri(), ssl=ctx, open_timeout=IO_TIMEOUT) as good:
    await good.send("before")
    check(await good.recv() == "before", "echo before the plain client")
    # The library's plain ws:// client: the server answers the cleartext
    # request with at most a TLS alert and closes; no HTTP response.
    sock, closed = connected_socket(server)
    try:
      async with websockets.connect(server.uri(scheme="ws"), sock=sock,
                                    open_timeout=IO_TIMEOUT):
        raise TestFailure("a plain ws:// client was upgraded on the TLS port")
    except (websockets.InvalidMessage, websockets.InvalidHandshake, ConnectionError,
            EOFError) as e:
      print("    plain ws:// client refused: %r" % e)
    finally:
      sock.close()
    server.wait_for_log(closed + ": INVALID_ARGUMENT: tls handshake failed")
    # The same by hand: the cleartext upgrade gets no 101 and the connection
    # is closed (read to EOF, bounded by IO_TIMEOUT).
    raw = Conn(server.port)
    closed = "(127.0.0.1:%d) closed during its handshake" % raw.sock.getsockname()[1]
    try:
      raw.send(upgrade_request(new_key(), b"/echo"))
      rest = raw.read_until_eof("a cleartext upgrade on the TLS port")
    finally:
      raw.close()
    check(b"HTTP/1.1" not in rest, "a cleartext reply on the TLS port: %r" % rest[:100])
    server.wait_for_log(closed + ": INVALID_ARGUMENT: tls handshake failed")
    # The open wss connection never noticed.
    await good.send(b"\x00after\xff" * 1000)
    check(await good.recv() == b"\x00after\xff" * 1000, "echo after the plain clients")
  async with websockets.connect(server.uri(), ssl=ctx, open_timeout=IO_TIMEOUT) as ws:
    await ws.send("new connection")
    check(await ws.recv() == "new connection", "a new wss connection after the plain clients")


async def sighup_reload(server, pki):
  ctx_a, ctx_b = pki.client(pki.a), pki.client(pki.b)
  async with websockets.connect(server.uri(), ssl=ctx_a, open_timeout=IO_TIMEOUT) as old:
    await old.send("before reload")
    check(await old.recv() == "before reload", "echo before the reload")
    cert_before = peer_cert_sha256(old)
    pki.install(pki.b)
    reloads = server.log_count("TLS certificate reloaded")
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for_log("TLS certificate reloaded", reloads + 1)
    # New handshakes get B's certificate: A's clients reject it, B's accept.
    try:
      async with websockets.connect(server.uri(), ssl=ctx_a, open_timeout=IO_TIMEOUT):
        raise TestFailure("after the reload the server still offers CA A's certificate")
    except ssl.SSLCertVerificationError:
      pass
    async with websockets.connect(server.uri(), ssl=ctx_b, open_timeout=IO_TIMEOUT) as new:
      await new.send("after reload")
      check(await new.recv() == "after reload", "echo on a connection after the reload")
      cert_after = peer_cert_sha256(new)
      check(cert_after != cert_before,
            "the server certificate is still %s after the reload" % cert_after)
      print("    server certificate sha256 %s.. before, %s.. after" % (cert_before, cert_after))
    # The connection made before the reload keeps its session.
    await old.send("old connection after reload")
    check(await old.recv() == "old connection after reload",
          "the connection from before the reload stopped echoing")
  pki.install(pki.a)
  server.proc.send_signal(signal.SIGHUP)
  server.wait_for_log("TLS certificate reloaded", reloads + 2)


async def stats_on_sigusr1(server, ctx):
  before, tls_before = server.stats()
  async with websockets.connect(server.uri(), ssl=ctx, open_timeout=IO_TIMEOUT) as ws:
    await ws.send("counted")
    check(await ws.recv() == "counted", "echo")
    after, tls_after = server.stats()
  check(after["connections_accepted"] == before["connections_accepted"] + 1,
        "connections_accepted %s -> %s, want one more" % (
            before["connections_accepted"], after["connections_accepted"]))
  check(after["messages_in"] >= before["messages_in"] + 1,
        "messages_in %s -> %s" % (before["messages_in"], after["messages_in"]))
  check(tls_after["handshakes"] == tls_before["handshakes"] + 1,
        "TLS handshakes %s -> %s, want one more" % (tls_before["handshakes"],
                                                    tls_after["handshakes"]))
  server.check_alive("after SIGUSR1")


def main():
  binary, tls_echo_server = sys.argv[1], sys.argv[2]
  if not os.path.isabs(tls_echo_server):  # $(rootpath ...): under the runfiles root
    tls_echo_server = os.path.join(os.environ["TEST_SRCDIR"], "netman", tls_echo_server)
  if shutil.which("openssl") is None:
    print("FAIL: the openssl CLI is missing (Debian package openssl; tools/setup.sh)")
    sys.exit(1)
  print("websockets %s, %s" % (websockets.__version__, ssl.OPENSSL_VERSION))
  suite = Suite("ws_interop_wss")
  tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
  pki = Pki(tls_echo_server, tmp)
  trusted = pki.client(pki.a)
  servers = []
  try:
    plain = WssServer(binary, pki, "--loops=2")
    servers.append(plain)
    deflate = WssServer(binary, pki, "--loops=2", "--permessage_deflate=true")
    servers.append(deflate)
    for version, name in ((ssl.TLSVersion.TLSv1_3, "TLSv1.3"),
                          (ssl.TLSVersion.TLSv1_2, "TLSv1.2")):
      suite.case("wss echo over %s (text, binary to 1 MiB, burst, fragments, ping, close)" %
                 name, run_async, echo_suite, plain, pki.client(pki.a, version), name, None)
      suite.case("wss echo over %s with permessage-deflate" % name, run_async, echo_suite,
                 deflate, pki.client(pki.a, version), name, "deflate")
    suite.case("20 concurrent wss clients", run_async, concurrent, plain, trusted)
    suite.case("https GET / serves the chat page", https_page, plain, trusted)
    suite.case("a client that does not trust the CA fails verification; server serves on",
               run_async, untrusted, plain, trusted, pki.client(pki.b))
    suite.case("plain ws:// on the TLS port refused; an open wss connection unaffected",
               run_async, plain_ws_refused, plain, trusted)
    suite.case("SIGHUP reloads the certificate; open connections keep working",
               run_async, sighup_reload, plain, pki)
    suite.case("SIGUSR1 prints the server's and the TLS counters as JSON lines", run_async,
               stats_on_sigusr1, plain, trusted)
    suite.case("SIGTERM: the wss client gets close 1001, exit 0", run_async, going_away,
               lambda: websockets.connect(plain.uri(), ssl=trusted, open_timeout=IO_TIMEOUT),
               plain.proc, plain.log_tail)
    suite.case("SIGTERM (deflate server): exit 0", deflate.stop)
  finally:
    for s in servers:
      s.kill()
  suite.finish()


if __name__ == "__main__":
  main()
