#!/usr/bin/env python3
# Copyright netman authors.
#
# Interop test of the tcp_server binary serving TLS, with clients no one
# here wrote: Python's ssl module (OpenSSL) and the openssl s_client CLI.
#   - test PKI made at test time with the openssl CLI (nothing committed);
#   - a netman-framed echo over TLS 1.2 and TLS 1.3 (ssl module), with the
#     server certificate verified against the test CA and the host name;
#   - openssl s_client -tls1_3 echoes a frame;
#   - renegotiation (s_client's "R" command over TLS 1.2) is refused: the
#     server closes that connection with NO_RENEGOTIATION and keeps serving;
#   - a client certificate is required with --tls_client_ca: without one the
#     handshake fails, with one the echo works;
#   - SIGHUP reloads the certificate files (new handshakes see the new
#     certificate, logged); a broken key file is refused and the old
#     certificate stays;
#   - --handshake_timeout closes a connection that never finishes its
#     handshake.
#
#   python3 tls_interop_test.py path/to/tcp_server
#
# Nothing waits by sleeping: every wait is for a line, EOF or a process,
# with a deadline.

import os
import select
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

DEADLINE = 20.0


class TestFailure(Exception):
  pass


def run(*args):
  subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
  """A CA and leaves made with the openssl CLI (P-256 keys)."""

  def __init__(self, directory):
    self.dir = directory
    self.ca_key = self.path("ca.key")
    self.ca_cert = self.path("ca.pem")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "2",
        "-subj", "/O=netman test/CN=interop CA")

  def path(self, name):
    return os.path.join(self.dir, name)

  def issue(self, name, cn, san="DNS:localhost,IP:127.0.0.1"):
    key, csr, cert = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".pem")
    ext = self.path(name + ".ext")
    with open(ext, "w") as f:
      f.write("basicConstraints=CA:FALSE\nsubjectAltName=%s\n"
              "extendedKeyUsage=serverAuth,clientAuth\n" % san)
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/O=netman test/CN=%s" % cn)
    run("openssl", "x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
        "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", ext)
    return cert, key


def frame(msg_id, body):
  return struct.pack("<II", len(body), msg_id) + body


def read_exactly(sock, n):
  data = b""
  while len(data) < n:
    chunk = sock.recv(n - len(data))
    if not chunk:
      raise TestFailure("EOF after %d of %d bytes" % (len(data), n))
    data += chunk
  return data


def read_frame(sock):
  length, msg_id = struct.unpack("<II", read_exactly(sock, 8))
  return msg_id, read_exactly(sock, length)


class Server:
  """tcp_server in a subprocess; stderr lines collected by a thread."""

  def __init__(self, binary, args):
    self.proc = subprocess.Popen(
        [binary, "--host=127.0.0.1", "--port=0", "--loops=2", "--log_level=debug"] + args,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    self.lines = []
    self.cond = threading.Condition()
    threading.Thread(target=self._drain, daemon=True).start()
    ready, _, _ = select.select([self.proc.stdout], [], [], DEADLINE)
    if not ready:
      raise TestFailure("tcp_server did not start")
    line = self.proc.stdout.readline().decode()
    if "listening on" not in line:
      raise TestFailure("unexpected first line %r; stderr: %s" % (line, self.lines))
    self.port = int(line.rsplit(":", 1)[1])

  def _drain(self):
    for raw in self.proc.stderr:
      with self.cond:
        self.lines.append(raw.decode(errors="replace").rstrip())
        self.cond.notify_all()

  def wait_for_log(self, needle):
    end = time.monotonic() + DEADLINE
    with self.cond:
      while not any(needle in l for l in self.lines):
        left = end - time.monotonic()
        if left <= 0:
          raise TestFailure("no log line with %r; log:\n%s" % (needle, "\n".join(self.lines)))
        self.cond.wait(left)

  def log_count(self, needle):
    with self.cond:
      return sum(needle in l for l in self.lines)

  def stop(self):
    self.proc.send_signal(signal.SIGTERM)
    try:
      status = self.proc.wait(DEADLINE)
    except subprocess.TimeoutExpired:
      self.proc.kill()
      raise TestFailure("tcp_server did not exit after SIGTERM")
    if status != 0:
      raise TestFailure("tcp_server exited %d" % status)


def client_context(pki, version=None, cert=None):
  ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
  ctx.load_verify_locations(pki.ca_cert)
  if version is not None:
    ctx.minimum_version = ctx.maximum_version = version
  if cert is not None:
    ctx.load_cert_chain(*cert)
  return ctx


def tls_connect(port, ctx):
  raw = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
  return ctx.wrap_socket(raw, server_hostname="localhost")


def echo(sock, body):
  sock.sendall(frame(0, body))
  msg_id, reply = read_frame(sock)
  if (msg_id, reply) != (0, body):
    raise TestFailure("echo of %d bytes came back as id %d, %d bytes" % (len(body), msg_id,
                                                                      len(reply)))


def peer_cn(sock):
  for rdn in sock.getpeercert()["subject"]:
    for key, value in rdn:
      if key == "commonName":
        return value
  return None


def test_python_ssl_echo(server, pki):
  for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
    with tls_connect(server.port, client_context(pki, version)) as s:
      if s.version() != name:
        raise TestFailure("negotiated %s, wanted %s" % (s.version(), name))
      echo(s, b"hello from python " + name.encode())
      echo(s, bytes(range(256)) * 400)  # 100 KiB: many records
      # Several frames in one write (one record).
      s.sendall(b"".join(frame(0, b"m%d" % i) for i in range(20)))
      for i in range(20):
        if read_frame(s) != (0, b"m%d" % i):
          raise TestFailure("coalesced frame %d wrong" % i)


def test_s_client_echo(server, pki):
  proc = subprocess.Popen(
      ["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.port, "-tls1_3", "-quiet",
       "-CAfile", pki.ca_cert, "-verify_return_error", "-servername", "localhost"],
      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  body = b"hello from openssl s_client"
  proc.stdin.write(frame(0, body))
  proc.stdin.flush()
  got = b""
  want = frame(0, body)
  end = time.monotonic() + DEADLINE
  while len(got) < len(want):
    ready, _, _ = select.select([proc.stdout], [], [], max(0, end - time.monotonic()))
    if not ready:
      break
    chunk = os.read(proc.stdout.fileno(), 4096)
    if not chunk:
      break
    got += chunk
  proc.stdin.close()
  proc.kill()
  proc.wait(DEADLINE)
  if got != want:
    raise TestFailure("s_client got %r, wanted %r; stderr: %s" % (got, want,
                                                                  proc.stderr.read().decode()))


def test_renegotiation_refused(server, pki):
  before = server.log_count("NO_RENEGOTIATION")
  proc = subprocess.Popen(
      ["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.port, "-tls1_2",
       "-CAfile", pki.ca_cert, "-servername", "localhost"],
      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
  # "R" at the start of a line: s_client renegotiates.
  proc.stdin.write(b"R\n")
  proc.stdin.flush()
  server.wait_for_log("NO_RENEGOTIATION")
  proc.stdin.close()
  try:
    proc.wait(DEADLINE)
  except subprocess.TimeoutExpired:
    proc.kill()
    raise TestFailure("s_client did not end after the refused renegotiation")
  if server.log_count("NO_RENEGOTIATION") != before + 1:
    raise TestFailure("expected one refused renegotiation")
  with tls_connect(server.port, client_context(pki)) as s:
    echo(s, b"still serving after a renegotiation attempt")


def test_handshake_timeout(server):
  raw = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
  raw.sendall(b"\x16\x03\x01")  # the start of a record header, then nothing
  if raw.recv(1) != b"":
    raise TestFailure("stalled handshake got bytes instead of a close")
  raw.close()
  server.wait_for_log("handshake not finished within 1s")


def test_reload_on_sighup(binary, pki):
  cert, key = pki.issue("reload", "first")
  server = Server(binary, ["--tls_cert=" + cert, "--tls_key=" + key])
  try:
    with tls_connect(server.port, client_context(pki)) as old:
      if peer_cn(old) != "first":
        raise TestFailure("initial certificate CN %r" % peer_cn(old))
      new_cert, new_key = pki.issue("renewed", "renewed")
      os.replace(new_cert, cert)
      os.replace(new_key, key)
      server.proc.send_signal(signal.SIGHUP)
      server.wait_for_log("SIGHUP: TLS certificate reloaded")
      with tls_connect(server.port, client_context(pki)) as s:
        if peer_cn(s) != "renewed":
          raise TestFailure("after SIGHUP the CN is %r" % peer_cn(s))
        echo(s, b"new certificate")
      echo(old, b"old connection keeps working")
    with open(key, "w") as f:
      f.write("broken")
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for_log("SIGHUP: TLS reload failed, keeping the old certificate")
    with tls_connect(server.port, client_context(pki)) as s:
      if peer_cn(s) != "renewed":
        raise TestFailure("a failed reload changed the certificate")
  finally:
    server.stop()


def test_client_certificates(binary, pki):
  cert, key = pki.issue("server2", "localhost")
  server = Server(binary, ["--tls_cert=" + cert, "--tls_key=" + key,
                           "--tls_client_ca=" + pki.ca_cert, "--tls_min_version=1.3"])
  try:
    try:
      with tls_connect(server.port, client_context(pki)) as s:
        s.sendall(frame(0, b"x"))
        read_frame(s)
      raise TestFailure("a client without a certificate was served")
    except (ssl.SSLError, ConnectionError, TestFailure) as e:
      if isinstance(e, TestFailure) and "was served" in str(e):
        raise
    server.wait_for_log("bad_client_certificate")
    with tls_connect(server.port, client_context(pki, cert=pki.issue("alice", "alice"))) as s:
      echo(s, b"with a client certificate")
  finally:
    server.stop()


def main():
  binary = sys.argv[1]
  failures = []
  with tempfile.TemporaryDirectory(dir=os.environ.get("TEST_TMPDIR")) as directory:
    pki = Pki(directory)
    cert, key = pki.issue("server", "localhost")
    server = Server(binary, ["--tls_cert=" + cert, "--tls_key=" + key,
                             "--handshake_timeout=1s"])
    tests = [
        ("python ssl echo (TLS 1.2 and 1.3)", lambda: test_python_ssl_echo(server, pki)),
        ("openssl s_client echo", lambda: test_s_client_echo(server, pki)),
        ("renegotiation refused", lambda: test_renegotiation_refused(server, pki)),
        ("handshake timeout", lambda: test_handshake_timeout(server)),
    ]
    try:
      for name, test in tests:
        try:
          test()
          print("PASS", name)
        except Exception as e:  # pylint: disable=broad-except
          failures.append("%s: %s" % (name, e))
          print("FAIL", name, e)
    finally:
      server.stop()
    for name, test in (("SIGHUP reload", lambda: test_reload_on_sighup(binary, pki)),
                       ("client certificates", lambda: test_client_certificates(binary, pki))):
      try:
        test()
        print("PASS", name)
      except Exception as e:  # pylint: disable=broad-except
        failures.append("%s: %s" % (name, e))
        print("FAIL", name, e)
  if failures:
    print("\n".join(failures))
    sys.exit(1)
  print("all passed")


if __name__ == "__main__":
  main()
