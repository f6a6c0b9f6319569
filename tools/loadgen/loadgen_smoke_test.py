#!/usr/bin/env python3
# Copyright netman authors.
#
# Smoke test of the load generator, about a second per case, 4 connections:
#   * load mode against netman's tcp_server and the epoll baseline, every reply
#     byte verified: zero errors, messages counted, latency percentiles
#     ordered, the JSON line on stdout equal to --json_out's;
#   * raw mode against the epoll baseline's raw echo;
#   * idle mode with one message per connection: the "ready" line, then all
#     connections still open at the end;
#   * ws mode against the WebSocket baseline (ws_echo_server): 4 connections,
#     pipeline 16, every reply byte verified, zero errors; and idle ws mode
#     with one message per connection;
#   * errors are counted, not fatal: --id=1 gets tcp_server's connection-count
#     replies (wrong length), a closed port gives connect errors, and ws mode
#     against a byte echo (which answers the upgrade with the request itself)
#     gives handshake failures counted as connect errors; all still print the
#     JSON line and exit 1;
#   * a bad --ws_path is refused (exit 2);
#   * --tls against Python's ssl module serving a netman-framed echo
#     (TLS_ECHO_SERVER, netman/client/testing/tls_echo_server.py, with a
#     throw-away PKI it makes with the openssl CLI): load mode with pipeline
#     16 and every byte verified over TLS 1.3 and 1.2, idle mode, the
#     handshake-rate mode (full handshakes, and resumed ones over TLS 1.2),
#     an untrusted CA counted as connect errors, and bad TLS flags refused.
#
#   python3 loadgen_smoke_test.py LOADGEN TCP_SERVER EPOLL_ECHO_SERVER WS_ECHO_SERVER \
#       TLS_ECHO_SERVER

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time


class TestFailure(Exception):
  pass


def start_server(cmd):
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  ready, _, _ = select.select([proc.stdout], [], [], 10)
  line = proc.stdout.readline() if ready else ""
  m = re.search(r"listening on \S+:(\d+)\s*$", line)
  if not m:
    proc.kill()
    raise TestFailure("%s printed %r instead of a listening line" % (cmd[0], line))
  return proc, int(m.group(1))


def stop(proc):
  proc.send_signal(signal.SIGTERM)
  try:
    proc.wait(timeout=10)
  except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()


def run_loadgen(loadgen, args, want_status, tmp):
  json_path = os.path.join(tmp, "out.json")
  if os.path.exists(json_path):
    os.unlink(json_path)
  cmd = [loadgen, "--host=127.0.0.1", "--json_out=" + json_path] + args
  p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
  if p.returncode != want_status:
    raise TestFailure("%s exited %d, want %d\nstdout: %s\nstderr: %s" %
                      (" ".join(cmd), p.returncode, want_status, p.stdout, p.stderr))
  lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
  if len(lines) != 1:
    raise TestFailure("want one JSON line on stdout, got: %r" % p.stdout)
  result = json.loads(lines[0])
  with open(json_path) as f:
    if json.loads(f.read()) != result:
      raise TestFailure("--json_out differs from the stdout line")
  return result, p


def check_clean_load(result, what):
  if result["errors"] != 0:
    raise TestFailure("%s: %d errors: %s" % (what, result["errors"], result["first_error"]))
  if result["messages"] <= 0 or result["msgs_per_s"] <= 0:
    raise TestFailure("%s: no messages measured: %s" % (what, result))
  lat = result["latency_us"]
  if not 0 < lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"]:
    raise TestFailure("%s: latency percentiles out of order: %s" % (what, lat))
  if result["connections_open"] != 4:
    raise TestFailure("%s: %d connections open at the end" % (what, result["connections_open"]))


def tls_cases(loadgen, tls_echo_server, tmp):
  certs = os.path.join(tmp, "certs")
  subprocess.run([sys.executable, tls_echo_server, "make_certs", certs], check=True,
                 timeout=60)
  proc = subprocess.Popen([sys.executable, tls_echo_server, "serve",
                           "--cert", os.path.join(certs, "server.pem"),
                           "--key", os.path.join(certs, "server.key")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
  try:
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("PORT "):
      raise TestFailure("tls_echo_server printed %r" % line)
    port = int(line.split()[1])
    ca = "--tls_ca=" + os.path.join(certs, "ca.pem")
    common = ["--port=%d" % port, "--tls", ca, "--connections=4", "--threads=2",
              "--duration=0.6", "--warmup=0.2"]
    for version in ("1.3", "1.2"):
      result, _ = run_loadgen(loadgen, common + ["--tls_version=" + version, "--pipeline=16",
                                                 "--size=3000", "--verify_content"], 0, tmp)
      check_clean_load(result, "tls %s load" % version)
      if result["tls"]["negotiated"] != "TLSv" + version:
        raise TestFailure("tls %s: negotiated %s" % (version, result["tls"]))
      print("ok: --tls load mode over TLS %s (%s): %.0f msgs/s" %
            (version, result["tls"]["cipher"], result["msgs_per_s"]))

    result, p = run_loadgen(loadgen, ["--port=%d" % port, "--tls", ca, "--idle",
                                      "--idle_send_one", "--connections=20",
                                      "--duration=0.3"], 0, tmp)
    if "loadgen ready: open=20 failed=0" not in p.stdout:
      raise TestFailure("tls idle mode: no ready line: %r" % p.stdout)
    if result["connections_open"] != 20 or result["latency_us"]["count"] != 20:
      raise TestFailure("tls idle mode: %s" % result)
    print("ok: --tls idle mode")

    result, _ = run_loadgen(loadgen, common + ["--handshakes"], 0, tmp)
    if result["errors"] != 0 or result["messages"] <= 0 or not result["tls"]["handshakes"]:
      raise TestFailure("tls handshakes: %s" % result)
    if result["tls"]["resumed_in_window"] != 0:
      raise TestFailure("tls handshakes resumed without --tls_resume: %s" % result)
    print("ok: --handshakes (full): %.0f handshakes/s" % result["msgs_per_s"])

    result, _ = run_loadgen(loadgen, common + ["--handshakes", "--tls_resume",
                                               "--tls_version=1.2"], 0, tmp)
    if (result["errors"] != 0 or result["messages"] <= 0 or
        result["tls"]["resumed_in_window"] != result["messages"]):
      raise TestFailure("tls resumed handshakes: %s" % result)
    print("ok: --handshakes --tls_resume: %.0f handshakes/s, all resumed" %
          result["msgs_per_s"])

    result, _ = run_loadgen(loadgen, ["--port=%d" % port, "--tls",
                                      "--tls_ca=" + os.path.join(certs, "other_ca.pem"),
                                      "--connections=4", "--duration=0.2", "--warmup=0"], 1, tmp)
    if (result["connect_errors"] != 4 or
        "CERTIFICATE_VERIFY_FAILED" not in result["first_error"]):
      raise TestFailure("untrusted CA: want 4 connect errors, got %s" % result)
    print("ok: untrusted CA counted: %s" % result["first_error"])

    for flags, message in ((["--tls"], "exactly one of --tls_ca"),
                           (["--tls", ca, "--tls_version=1.1"], "want 1.2, 1.3"),
                           (["--handshakes"], "--handshakes needs --tls"),
                           (["--tls", ca, "--handshakes", "--mode=ws"],
                            "--handshakes takes --mode=netman or raw")):
      p = subprocess.run([loadgen, "--port=%d" % port] + flags, capture_output=True,
                         text=True, timeout=10)
      if p.returncode != 2 or message not in p.stderr:
        raise TestFailure("%s: exit %d, stderr %r" % (flags, p.returncode, p.stderr))
    print("ok: bad TLS flags refused")
  finally:
    proc.stdin.close()
    try:
      proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
      proc.kill()
      proc.wait()


def main():
  loadgen, tcp_server, epoll_server, ws_server, tls_echo_server = sys.argv[1:6]
  tmp = tempfile.mkdtemp()
  common = ["--connections=4", "--threads=2", "--duration=0.6", "--warmup=0.2",
            "--progress=true"]
  servers = []
  try:
    netman, netman_port = start_server(
        [tcp_server, "--host=127.0.0.1", "--port=0", "--loops=1", "--log_level=error"])
    servers.append(netman)
    epoll, epoll_port = start_server([epoll_server, "--host=127.0.0.1", "--port=0"])
    servers.append(epoll)
    raw, raw_port = start_server([epoll_server, "--host=127.0.0.1", "--port=0", "--mode=raw"])
    servers.append(raw)
    ws, ws_port = start_server([ws_server, "--host=127.0.0.1", "--port=0"])
    servers.append(ws)

    for name, port in (("tcp_server", netman_port), ("epoll_echo_server", epoll_port)):
      result, p = run_loadgen(loadgen, common + ["--port=%d" % port, "--pipeline=8",
                                                 "--size=300", "--verify_content"], 0, tmp)
      check_clean_load(result, name)
      if "loadgen [" not in p.stderr:
        raise TestFailure("no progress line on stderr: %r" % p.stderr)
      print("ok: netman mode vs %s: %.0f msgs/s, p99 %.1f us" %
            (name, result["msgs_per_s"], result["latency_us"]["p99"]))

    result, _ = run_loadgen(loadgen, common + ["--port=%d" % raw_port, "--mode=raw",
                                               "--size=1000", "--pipeline=4",
                                               "--verify_content"], 0, tmp)
    check_clean_load(result, "raw mode")
    print("ok: raw mode: %.0f msgs/s" % result["msgs_per_s"])

    result, _ = run_loadgen(loadgen, common + ["--port=%d" % ws_port, "--mode=ws",
                                               "--ws_path=/echo", "--pipeline=16",
                                               "--size=200", "--verify_content"], 0, tmp)
    check_clean_load(result, "ws mode")
    if result["mode"] != "ws":
      raise TestFailure("ws mode: %s" % result)
    print("ok: ws mode vs ws_echo_server: %.0f msgs/s, p99 %.1f us" %
          (result["msgs_per_s"], result["latency_us"]["p99"]))

    result, p = run_loadgen(loadgen, ["--port=%d" % ws_port, "--mode=ws", "--idle",
                                      "--idle_send_one", "--connections=20",
                                      "--duration=0.3"], 0, tmp)
    if "loadgen ready: open=20 failed=0" not in p.stdout:
      raise TestFailure("idle ws mode: no ready line: %r" % p.stdout)
    if result["connections_open"] != 20 or result["latency_us"]["count"] != 20:
      raise TestFailure("idle ws mode: %s" % result)
    print("ok: idle ws mode")

    result, p = run_loadgen(loadgen, ["--port=%d" % netman_port, "--idle", "--idle_send_one",
                                      "--connections=20", "--duration=0.3"], 0, tmp)
    if "loadgen ready: open=20 failed=0" not in p.stdout:
      raise TestFailure("idle mode: no ready line: %r" % p.stdout)
    if result["connections_open"] != 20 or result["latency_us"]["count"] != 20:
      raise TestFailure("idle mode: %s" % result)
    print("ok: idle mode")

    result, _ = run_loadgen(loadgen, common + ["--port=%d" % netman_port, "--id=1"], 1, tmp)
    if result["verify_errors"] != 4 or "expected id 1 length 64" not in result["first_error"]:
      raise TestFailure("wrong replies: want 4 verify errors, got %s" % result)
    print("ok: wrong replies counted: %s" % result["first_error"])

    with socket.socket() as s:  # a port with nothing listening
      s.bind(("127.0.0.1", 0))
      closed_port = s.getsockname()[1]
    result, _ = run_loadgen(loadgen, common + ["--port=%d" % closed_port], 1, tmp)
    if result["connect_errors"] != 4:
      raise TestFailure("closed port: want 4 connect errors, got %s" % result)
    print("ok: connect errors counted")

    result, _ = run_loadgen(loadgen, common + ["--port=%d" % raw_port, "--mode=ws"], 1, tmp)
    if (result["connect_errors"] != 4 or result["connections_open"] != 0 or
        "ws handshake: not an HTTP response" not in result["first_error"]):
      raise TestFailure("ws vs a byte echo: want 4 connect errors, got %s" % result)
    print("ok: ws handshake failures counted: %s" % result["first_error"])

    p = subprocess.run([loadgen, "--port=%d" % ws_port, "--mode=ws", "--ws_path=echo"],
                       capture_output=True, text=True, timeout=10)
    if p.returncode != 2 or "--ws_path must start with '/'" not in p.stderr:
      raise TestFailure("--ws_path=echo: exit %d, stderr %r" % (p.returncode, p.stderr))
    print("ok: a bad --ws_path refused")

    tls_cases(loadgen, tls_echo_server, tmp)
  finally:
    for proc in servers:
      stop(proc)
  print("PASS")


if __name__ == "__main__":
  try:
    main()
  except TestFailure as e:
    print("FAIL: %s" % e, file=sys.stderr)
    sys.exit(1)
