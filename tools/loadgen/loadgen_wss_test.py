#!/usr/bin/env python3
# Copyright netman authors.
#
# Smoke test of loadgen's WebSocket-over-TLS mode (--mode=ws --tls) against
# the real ws_server binary serving wss:// (--tls_cert/--tls_key), with a
# throw-away PKI made by the openssl CLI (tls_echo_server.py make_certs):
#   * load mode, 4 connections over 2 threads, every reply byte verified,
#     over TLS 1.3 and 1.2: small frames 16 deep (many frames per TLS
#     record), 3000-byte frames, and 70000-byte frames (the 64-bit length
#     form; each frame spans five 16 KiB records); zero errors, messages
#     counted, 4 connections open at the end, the negotiated version
#     reported;
#   * idle ws mode over TLS with one message per connection: the ready
#     line, every connection open and measured at the end;
#   * an untrusted CA: every connection a connect error naming the failed
#     verification, the JSON line still printed, exit 1;
#   * plain --mode=ws (no --tls) against the TLS port: handshake failures
#     counted as connect errors, not a hang.
#
#   python3 loadgen_wss_test.py LOADGEN WS_SERVER TLS_ECHO_SERVER_PY

import os
import re
import select
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loadgen_smoke_test import TestFailure, check_clean_load, run_loadgen, stop  # noqa: E402


def start_ws_server(cmd, log_path):
  """Starts ws_server with its stderr in log_path; returns (process, port)."""
  with open(log_path, "w") as log:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
  ready, _, _ = select.select([proc.stdout], [], [], 20)
  line = proc.stdout.readline() if ready else ""
  m = re.search(r"listening on \S+:(\d+)\s*$", line)
  if not m:
    proc.kill()
    proc.wait()
    raise TestFailure("ws_server printed %r instead of a listening line" % line)
  return proc, int(m.group(1))


def log_tail(path, n=40):
  with open(path, errors="replace") as f:
    return "".join(f.readlines()[-n:])


def main():
  loadgen, ws_server, tls_echo_server = sys.argv[1:4]
  tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
  certs = os.path.join(tmp, "certs")
  subprocess.run([sys.executable, tls_echo_server, "make_certs", certs], check=True,
                 timeout=60)
  server_log = os.path.join(tmp, "ws_server.stderr")
  server, port = start_ws_server([ws_server, "--host=127.0.0.1", "--port=0", "--loops=2",
                                  "--log_level=debug",
                                  "--tls_cert=" + os.path.join(certs, "server.pem"),
                                  "--tls_key=" + os.path.join(certs, "server.key")],
                                 server_log)
  try:
    ca = "--tls_ca=" + os.path.join(certs, "ca.pem")
    common = ["--port=%d" % port, "--mode=ws", "--ws_path=/echo", "--tls", ca,
              "--connections=4", "--threads=2", "--duration=1", "--warmup=0",
              "--verify_content", "--progress=false"]
    for version in ("1.3", "1.2"):
      for size, pipeline in ((64, 16), (3000, 16), (70000, 2)):
        what = "wss load, TLS %s, %d-byte frames, pipeline %d" % (version, size, pipeline)
        result, _ = run_loadgen(loadgen, common + ["--tls_version=" + version,
                                                   "--size=%d" % size,
                                                   "--pipeline=%d" % pipeline], 0, tmp)
        check_clean_load(result, what)
        if result["mode"] != "ws" or result["tls"]["negotiated"] != "TLSv" + version:
          raise TestFailure("%s: %s" % (what, result))
        print("ok: %s (%s): %d messages, %.0f msgs/s" %
              (what, result["tls"]["cipher"], result["messages"], result["msgs_per_s"]))

    result, p = run_loadgen(loadgen, ["--port=%d" % port, "--mode=ws", "--tls", ca, "--idle",
                                      "--idle_send_one", "--connections=8", "--duration=0.3",
                                      "--progress=false"], 0, tmp)
    if "loadgen ready: open=8 failed=0" not in p.stdout:
      raise TestFailure("wss idle mode: no ready line: %r" % p.stdout)
    if (result["errors"] != 0 or result["connections_open"] != 8 or
        result["latency_us"]["count"] != 8):
      raise TestFailure("wss idle mode: %s" % result)
    print("ok: wss idle mode, 8 connections, one message each")

    result, _ = run_loadgen(loadgen, ["--port=%d" % port, "--mode=ws", "--tls",
                                      "--tls_ca=" + os.path.join(certs, "other_ca.pem"),
                                      "--connections=4", "--duration=0.2", "--warmup=0",
                                      "--progress=false"], 1, tmp)
    if (result["connect_errors"] != 4 or result["connections_open"] != 0 or
        "CERTIFICATE_VERIFY_FAILED" not in result["first_error"]):
      raise TestFailure("wss with an untrusted CA: want 4 connect errors, got %s" % result)
    print("ok: untrusted CA counted: %s" % result["first_error"])

    result, _ = run_loadgen(loadgen, ["--port=%d" % port, "--mode=ws", "--connections=4",
                                      "--duration=0.2", "--warmup=0", "--progress=false"],
                            1, tmp)
    if result["connect_errors"] != 4 or result["connections_open"] != 0:
      raise TestFailure("plain ws against the TLS port: want 4 connect errors, got %s" %
                        result)
    print("ok: plain ws against the TLS port counted: %s" % result["first_error"])

    # The server survived all of it and serves a clean run again.
    result, _ = run_loadgen(loadgen, common + ["--size=200", "--pipeline=8"], 0, tmp)
    check_clean_load(result, "wss load after the failures")
    print("ok: wss load after the failed connections")
  except TestFailure as e:
    raise TestFailure("%s\nws_server's log (last lines):\n%s" % (e, log_tail(server_log)))
  finally:
    died = server.poll()
    stop(server)
  if died is not None:
    raise TestFailure("ws_server died (exit %d):\n%s" % (died, log_tail(server_log)))
  if server.returncode != 0:
    raise TestFailure("ws_server exited %d after SIGTERM:\n%s" % (server.returncode,
                                                                log_tail(server_log)))
  print("PASS")


if __name__ == "__main__":
  try:
    main()
  except TestFailure as e:
    print("FAIL: %s" % e, file=sys.stderr)
    sys.exit(1)
