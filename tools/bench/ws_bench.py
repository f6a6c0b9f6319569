#!/usr/bin/env python3
# Copyright netman authors.
#
# ws_bench: the WebSocket benchmark of issue 12, in one run, against the
# in-repo ceiling measured in the same run:
#   * echo throughput (binary frames, 64 B and 4 KiB, 1 loop, 100
#     connections, pipeline 16): netman's ws_server vs
#     tools/bench:ws_echo_server (the bare-epoll WebSocket ceiling), in
#     interleaved rounds (the order alternates), medians reported, with the
#     server's CPU time per message;
#   * server RSS growth per idle WebSocket connection at N connections, each
#     having done the handshake and exchanged one message (ws_server and the
#     ceiling).
# Placement as tools/bench/run_bench.py: server pinned to CPU 0, loadgen to
# the others. Prints a Markdown section for docs/BENCHMARKS.md.
#
#   bazel build -c opt //netman/ws:ws_server //tools/bench:ws_echo_server \
#       //tools/loadgen:loadgen
#   python3 tools/bench/ws_bench.py --bin_dir=bazel-bin [--rounds=5]
#
# Standard library only. Threading: single-threaded; child processes only.
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

LISTENING_RE = re.compile(r"listening on (\S+):(\d+)\s*$")
READY_RE = re.compile(r"^loadgen ready: open=(\d+) failed=(\d+)")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
  with open("/proc/%d/stat" % pid) as f:
    fields = f.read().rsplit(")", 1)[1].split()
  return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid):
  with open("/proc/%d/status" % pid) as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1])
  return 0


class Server:
  def __init__(self, kind, bins, extra=()):
    if kind == "netman":
      cmd = [bins["ws_server"], "--port=0", "--loops=1", "--heartbeat_idle_time=0", "--log_level=warning"]
    else:
      cmd = [bins["ceiling"], "--port=0", "--threads=1"]
    cmd = ["taskset", "-c", "0"] + cmd + list(extra)
    self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = self.proc.stdout.readline()
    m = LISTENING_RE.search(line)
    if not m:
      raise RuntimeError("%s did not start: %r" % (kind, line))
    self.port = int(m.group(2))
    self.pid = self.proc.pid

  def stop(self):
    self.proc.send_signal(signal.SIGTERM)
    try:
      self.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
      self.proc.kill()
      self.proc.wait()


def loadgen(bins, port, args, cpus):
  return ["taskset", "-c", cpus, bins["loadgen"], "--mode=ws", "--port=%d" % port,
          "--progress=false"] + args


def echo_once(bins, kind, size, duration, cpus):
  server = Server(kind, bins)
  try:
    cpu0 = cpu_seconds(server.pid)
    out = subprocess.run(
        loadgen(bins, server.port, ["--connections=100", "--pipeline=16", "--size=%d" % size,
                                    "--duration=%g" % duration, "--warmup=1"], cpus),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    cpu1 = cpu_seconds(server.pid)
  finally:
    server.stop()
  result = json.loads([l for l in out.stdout.splitlines() if l.startswith("{")][-1])
  if result["errors"]:
    raise RuntimeError("%s: loadgen errors: %s" % (kind, result["first_error"]))
  messages = result["messages_total"]
  return result["msgs_per_s"], (cpu1 - cpu0) / messages * 1e6 if messages else None


def memory(bins, kind, connections, cpus, extra=()):
  server = Server(kind, bins, extra)
  procs = []
  try:
    subprocess.run(loadgen(bins, server.port, ["--idle", "--idle_send_one", "--connections=8",
                                               "--duration=0"], cpus),
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=True)
    time.sleep(0.5)
    before = rss_kib(server.pid)
    per_proc = 5000
    shares = [min(per_proc, connections - i) for i in range(0, connections, per_proc)]
    for share in shares:
      procs.append(subprocess.Popen(
          loadgen(bins, server.port, ["--idle", "--idle_send_one", "--connections=%d" % share,
                                      "--duration=600", "--connect_timeout=60"], cpus),
          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    opened = 0
    for p in procs:
      m = READY_RE.match(p.stdout.readline())
      if not m:
        raise RuntimeError("idle loadgen did not get ready")
      opened += int(m.group(1))
    time.sleep(1.0)
    after = rss_kib(server.pid)
  finally:
    for p in procs:
      p.send_signal(signal.SIGINT)
    for p in procs:
      try:
        p.communicate(timeout=60)
      except subprocess.TimeoutExpired:
        p.kill()
    server.stop()
  return opened, before, after, (after - before) * 1024.0 / opened if opened else None


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--bin_dir", default="bazel-bin")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--duration", type=float, default=3)
  parser.add_argument("--memory_connections", type=int, default=10000)
  args = parser.parse_args()
  bins = {"ws_server": os.path.join(args.bin_dir, "netman/ws/ws_server"),
          "ceiling": os.path.join(args.bin_dir, "tools/bench/ws_echo_server"),
          "loadgen": os.path.join(args.bin_dir, "tools/loadgen/loadgen")}
  ncpu = os.cpu_count() or 1
  cpus = "1-%d" % (ncpu - 1) if ncpu > 1 else "0"
  results = {}
  for r in range(args.rounds):
    for size in (64, 4096):
      order = ("netman", "ceiling") if r % 2 == 0 else ("ceiling", "netman")
      for kind in order:
        rate, cpu_us = echo_once(bins, kind, size, args.duration, cpus)
        results.setdefault((kind, size), []).append((rate, cpu_us))
        print("round %d size %d %s: %.0f msg/s, %.3f us CPU/msg" % (r, size, kind, rate, cpu_us),
              file=sys.stderr, flush=True)
  if args.rounds:
    print("| Body | ws_server msg/s | ceiling msg/s | ratio (median of per-round ratios) | "
          "ws_server CPU/msg | ceiling CPU/msg |")
    print("|---|---|---|---|---|---|")
    for size in (64, 4096):
      n = results[("netman", size)]
      c = results[("ceiling", size)]
      ratios = [a[0] / b[0] for a, b in zip(n, c)]
      print("| %d B | %s | %s | %.2f× (rounds: %s) | %.2f µs | %.2f µs |" % (
          size, "{:,.0f}".format(statistics.median(x[0] for x in n)),
          "{:,.0f}".format(statistics.median(x[0] for x in c)), statistics.median(ratios),
          ", ".join("%.2f" % x for x in ratios), statistics.median(x[1] for x in n),
          statistics.median(x[1] for x in c)))
  if args.memory_connections:
    print()
    print("| Server | connections | RSS before | RSS after | per connection |")
    print("|---|---|---|---|---|")
    for kind, extra, title in (("netman", (), "ws_server (defaults)"),
                               ("netman", ("--handshake_timeout=0",),
                                "ws_server --handshake_timeout=0"),
                               ("ceiling", (), "ws ceiling")):
      opened, before, after, per = memory(bins, kind, args.memory_connections, cpus, extra)
      print("| %s | %s | %s KiB | %s KiB | %.0f B |" % (
          title, "{:,}".format(opened), "{:,}".format(before), "{:,}".format(after), per))


if __name__ == "__main__":
  main()
