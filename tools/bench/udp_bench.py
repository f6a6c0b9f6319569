#!/usr/bin/env python3
# Copyright netman authors.
#
# The UDP benchmark (docs/BENCHMARKS.md, "UDP"): UDP echo of --size-byte
# messages, one loop, many peers, measured with loadgen --mode=udp against
#   bare     tools/bench/udp_echo_server (recvmmsg/sendmmsg, no framework)
#   netman   netman/udp:udp_server --loops=1 (batched, the default)
#   bare_gso (with --gso) the same ceiling with --gso: replies of a batch to
#            one peer of one size leave as one UDP_SEGMENT message
#   single   netman/udp:udp_server --loops=1 --udp_batch=1 (one datagram per
#            system call each way)
# in interleaved rounds (bare, netman, single, bare, ...). Per run: replies
# per second (loadgen's window) and the server's CPU per reply (utime+stime
# of the whole server process over the same window, from /proc). Prints each
# run and the medians, and the ratios netman/bare and single/netman per
# round with their medians, as JSON on the last line.
#
#   bazel build -c opt //netman/udp:udp_server //tools/bench:udp_echo_server //tools/loadgen
#   python3 tools/bench/udp_bench.py --rounds=5 --peers=1000 --pipeline=4
#
# Standard library only.

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TICKS = os.sysconf(os.sysconf_names["SC_CLK_TCK"])


def cpu_seconds(pid):
  with open("/proc/%d/stat" % pid) as f:
    fields = f.read().rsplit(")", 1)[1].split()
  return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def start(cmd, prefix):
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
  line = proc.stdout.readline().decode()
  if not line.startswith(prefix):
    proc.kill()
    raise SystemExit("%s did not start: %r" % (cmd[0], line))
  return proc, int(line.strip().rsplit(":", 1)[1])


def run(kind, args, bin_dir):
  if kind in ("bare", "bare_gso"):
    cmd = [os.path.join(bin_dir, "tools/bench/udp_echo_server"), "--port=0",
           "--batch=%d" % args.batch] + (["--gso"] if kind == "bare_gso" else [])
    prefix = "udp_echo_server listening on "
  else:
    cmd = [os.path.join(bin_dir, "netman/udp/udp_server"), "--host=127.0.0.1", "--port=0",
           "--loops=1", "--log_level=error", "--heartbeat_idle_time=0",
           "--udp_batch=%d" % (1 if kind == "single" else args.batch)]
    prefix = "udp_server listening on "
  server, port = start(cmd, prefix)
  try:
    load = subprocess.Popen(
        [os.path.join(bin_dir, "tools/loadgen/loadgen"), "--mode=udp", "--port=%d" % port,
         "--connections=%d" % args.peers, "--pipeline=%d" % args.pipeline,
         "--size=%d" % args.size, "--duration=%g" % args.duration,
         "--warmup=%g" % args.warmup, "--threads=%d" % args.loadgen_threads],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(args.warmup)
    c0, t0 = cpu_seconds(server.pid), time.monotonic()
    time.sleep(args.duration)
    c1, t1 = cpu_seconds(server.pid), time.monotonic()
    out, _ = load.communicate(timeout=args.duration + 60)
    result = json.loads(out.decode().strip().splitlines()[-1])
  finally:
    server.terminate()
    server.wait(timeout=30)
  rate = result["msgs_per_s"]
  cpu_per_s = (c1 - c0) / (t1 - t0)
  return {"kind": kind, "msgs_per_s": rate, "server_cpu": cpu_per_s,
          "cpu_ns_per_msg": cpu_per_s / rate * 1e9 if rate > 0 else float("inf"),
          "lost": result["lost"], "errors": result["errors"],
          "p50_us": result["latency_us"]["p50"], "p99_us": result["latency_us"]["p99"]}


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--peers", type=int, default=1000)
  p.add_argument("--pipeline", type=int, default=4)
  p.add_argument("--size", type=int, default=64)
  p.add_argument("--batch", type=int, default=32)
  p.add_argument("--duration", type=float, default=5)
  p.add_argument("--warmup", type=float, default=1)
  p.add_argument("--loadgen_threads", type=int, default=1)
  p.add_argument("--bin_dir", default="bazel-bin")
  p.add_argument("--gso", action="store_true",
                 help="also run the ceiling with --gso (UDP_SEGMENT per peer): bare_gso")
  args = p.parse_args()
  kinds = ("bare", "netman", "single") + (("bare_gso",) if args.gso else ())
  runs = {kind: [] for kind in kinds}
  ratios = {"netman_vs_bare_msgs": [], "netman_vs_bare_cpu_per_msg": [],
            "single_vs_netman_msgs": [], "single_vs_netman_cpu_per_msg": []}
  if args.gso:
    ratios.update({"gso_vs_bare_msgs": [], "gso_vs_bare_cpu_per_msg": []})
  for r in range(args.rounds):
    got = {}
    for kind in kinds:
      got[kind] = run(kind, args, args.bin_dir)
      runs[kind].append(got[kind])
      print("round %d %-8s %9.0f msgs/s  server cpu %.2f  %6.0f ns/msg  p50 %.0f us  lost %d"
            % (r, kind, got[kind]["msgs_per_s"], got[kind]["server_cpu"],
               got[kind]["cpu_ns_per_msg"], got[kind]["p50_us"], got[kind]["lost"]),
            flush=True)
    ratios["netman_vs_bare_msgs"].append(got["netman"]["msgs_per_s"] / got["bare"]["msgs_per_s"])
    ratios["netman_vs_bare_cpu_per_msg"].append(
        got["netman"]["cpu_ns_per_msg"] / got["bare"]["cpu_ns_per_msg"])
    ratios["single_vs_netman_msgs"].append(
        got["single"]["msgs_per_s"] / got["netman"]["msgs_per_s"])
    ratios["single_vs_netman_cpu_per_msg"].append(
        got["single"]["cpu_ns_per_msg"] / got["netman"]["cpu_ns_per_msg"])
    if args.gso:
      ratios["gso_vs_bare_msgs"].append(got["bare_gso"]["msgs_per_s"] / got["bare"]["msgs_per_s"])
      ratios["gso_vs_bare_cpu_per_msg"].append(
          got["bare_gso"]["cpu_ns_per_msg"] / got["bare"]["cpu_ns_per_msg"])
  summary = {"config": vars(args), "median": {}, "ratios_median": {}, "ratios": ratios}
  for kind, rs in runs.items():
    summary["median"][kind] = {
        "msgs_per_s": statistics.median(x["msgs_per_s"] for x in rs),
        "cpu_ns_per_msg": statistics.median(x["cpu_ns_per_msg"] for x in rs),
        "server_cpu": statistics.median(x["server_cpu"] for x in rs),
        "p50_us": statistics.median(x["p50_us"] for x in rs),
        "lost": sum(x["lost"] for x in rs),
        "errors": sum(x["errors"] for x in rs)}
  for k, v in ratios.items():
    summary["ratios_median"][k] = round(statistics.median(v), 3)
  print(json.dumps(summary))
  return 0


if __name__ == "__main__":
  sys.exit(main())
