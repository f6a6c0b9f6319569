#!/usr/bin/env python3
# Copyright netman authors.
#
# profile_server.py: where a server's time goes at one benchmark point. Runs
# the server (pinned to CPU 0) under //tools/loadgen (the other CPUs) twice:
#
#   1. counting, with `perf stat` over the load generator's whole run:
#      system calls per message (syscall tracepoints) and, when uprobes on
#      libc work, malloc/realloc/free calls per message;
#   2. sampling, with `perf record -g` (cpu-clock) over the steady state:
#      the share of user space vs kernel, and the top functions.
#
#   python3 tools/bench/profile_server.py --server=netman --pipeline=16 \
#       --bin_dir=$(bazel info -c opt bazel-bin)
#
# Needs `perf` (Debian: linux-perf) and root (tracepoints, uprobes). The
# probes slow the server down a lot, so run 1 reports only counts per
# message; throughput comes from run 2 (sampling costs little).
#
# Standard library only. Threading: single-threaded; child processes only.

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SYSCALLS = ["read", "readv", "recvfrom", "recvmsg", "write", "writev", "sendto", "sendmsg",
            "epoll_wait", "epoll_pwait", "epoll_ctl", "accept4", "futex", "eventfd2"]
ALLOCATORS = ["malloc", "realloc", "free"]


def fail(msg):
  print("profile_server: " + msg, file=sys.stderr)
  sys.exit(2)


def binaries(bin_dir):
  if not bin_dir:
    runfiles = os.environ.get("RUNFILES_DIR") or os.path.abspath(sys.argv[0]) + ".runfiles"
    bin_dir = os.path.join(runfiles, "netman")
  paths = {
      "netman": os.path.join(bin_dir, "netman/server/tcp_server"),
      "epoll": os.path.join(bin_dir, "tools/bench/epoll_echo_server"),
      "asio_naive": os.path.join(bin_dir, "tools/bench/asio_naive_echo_server"),
      "asio_batched": os.path.join(bin_dir, "tools/bench/asio_batched_echo_server"),
      "loadgen": os.path.join(bin_dir, "tools/loadgen/loadgen"),
  }
  for p in paths.values():
    if not os.access(p, os.X_OK):
      fail("missing %s: pass --bin_dir=$(bazel info -c opt bazel-bin)" % p)
  return paths


def start_server(args, exe):
  if args.server == "netman":
    cmd = [exe, "--host=127.0.0.1", "--port=0", "--loops=%d" % args.loops, "--log_level=error"]
  else:
    cmd = [exe, "--host=127.0.0.1", "--port=0", "--threads=%d" % args.loops]
  proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
  line = proc.stdout.readline()
  m = re.search(r"listening on \S+:(\d+)", line)
  if not m:
    proc.kill()
    fail("server printed %r" % line)
  return proc, int(m.group(1))


def stop(proc):
  if proc.poll() is None:
    proc.send_signal(signal.SIGTERM)
    try:
      proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
      proc.kill()
      proc.wait()


def loadgen(args, exe, port, seconds, json_path):
  cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[1:]) or "0"
  return subprocess.Popen(
      ["taskset", "-c", cpus, exe, "--host=127.0.0.1", "--port=%d" % port,
       "--connections=%d" % args.connections, "--pipeline=%d" % args.pipeline,
       "--size=%d" % args.size, "--warmup=0.5", "--duration=%g" % seconds,
       "--threads=%d" % max(1, len(cpus.split(","))), "--progress=false",
       "--json_out=" + json_path] + (args.loadgen_arg or []),
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def libc_path(pid):
  with open("/proc/%d/maps" % pid) as f:
    for line in f:
      if re.search(r"/libc\.so\.6$", line.strip()):
        return line.split()[-1]
  return None


ADDED_PROBES = []  # uprobes this run added (removed again at exit)


def allocator_events(pid):
  """probe_libc:<fn> events for malloc/realloc/free, added if missing."""
  libc = libc_path(pid)
  if not libc:
    return []
  events = []
  for fn in ALLOCATORS:
    listed = subprocess.run(["perf", "probe", "-l"], capture_output=True, text=True).stdout
    if not re.search(r"probe_libc:%s\s" % fn, listed):
      added = subprocess.run(["perf", "probe", "-q", "-x", libc, "--add", fn],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
      if added.returncode != 0:
        continue
      ADDED_PROBES.append("probe_libc:" + fn)
    events.append("probe_libc:" + fn)
  return events


def count_run(args, bins, workdir):
  server, port = start_server(args, bins[args.server])
  json_path = os.path.join(workdir, "count.json")
  try:
    events = ["syscalls:sys_enter_" + s for s in SYSCALLS]
    events += allocator_events(server.pid)
    out_path = os.path.join(workdir, "stat.csv")
    perf = subprocess.Popen(["perf", "stat", "-x", ",", "-o", out_path, "-e", ",".join(events),
                             "-p", str(server.pid)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    lg = loadgen(args, bins["loadgen"], port, args.seconds, json_path)
    lg.wait()
    perf.send_signal(signal.SIGINT)
    perf.wait()
  finally:
    stop(server)
  with open(json_path) as f:
    result = json.load(f)
  counts = {}
  with open(out_path) as f:
    for line in f:
      parts = line.strip().split(",")
      if len(parts) > 2 and re.match(r"^[0-9.]+$", parts[0]):
        counts[parts[2].split(":")[-1].replace("sys_enter_", "")] = float(parts[0])
  return result, counts


def sample_run(args, bins, workdir):
  server, port = start_server(args, bins[args.server])
  json_path = os.path.join(workdir, "sample.json")
  data = os.path.join(workdir, "perf.data")
  try:
    lg = loadgen(args, bins["loadgen"], port, args.seconds, json_path)
    time.sleep(1.0)
    subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", "2000", "-g", "-o", data,
                    "-p", str(server.pid), "--", "sleep", str(max(0.5, args.seconds - 1))],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lg.wait()
  finally:
    stop(server)
  with open(json_path) as f:
    result = json.load(f)
  by_dso = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso",
                           "--stdio", "-g", "none"], capture_output=True, text=True).stdout
  by_sym = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym",
                           "--stdio", "-g", "none"], capture_output=True, text=True).stdout
  return result, by_dso, by_sym


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--server", choices=["netman", "epoll", "asio_naive", "asio_batched"],
                      default="netman")
  parser.add_argument("--loops", type=int, default=1)
  parser.add_argument("--connections", type=int, default=100)
  parser.add_argument("--pipeline", type=int, default=16)
  parser.add_argument("--size", type=int, default=64)
  parser.add_argument("--seconds", type=float, default=3)
  parser.add_argument("--top", type=int, default=25)
  parser.add_argument("--bin_dir")
  # Another binary with tcp_server's flags for --server=netman (e.g.
  # //netman/proto:proto_echo_server), and extra loadgen flags (repeatable,
  # e.g. --loadgen_arg=--id=1 --loadgen_arg=--body_hex=0a40...).
  parser.add_argument("--server_path")
  parser.add_argument("--loadgen_arg", action="append")
  args = parser.parse_args()
  if not shutil.which("perf") or not shutil.which("taskset"):
    fail("needs perf (apt-get install linux-perf) and taskset")
  bins = binaries(args.bin_dir)
  if args.server_path:
    bins[args.server] = args.server_path
  workdir = tempfile.mkdtemp(prefix="netman_profile.")
  try:
    result, counts = count_run(args, bins, workdir)
    msgs = result["messages_total"]
    print("== %s, %d loop(s), %d connections, %d B bodies, pipeline %d" %
          (args.server, args.loops, args.connections, args.size, args.pipeline))
    print("-- per message (run 1, %d messages, probes on):" % msgs)
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
      if n:
        print("   %-12s %8.3f   (%d)" % (name, n / msgs, n))
    result, by_dso, by_sym = sample_run(args, bins, workdir)
    print("-- run 2: %.0f msgs/s, p99 %.0f us" %
          (result["msgs_per_s"], result["latency_us"]["p99"]))
    print("-- CPU by object:")
    for line in [l for l in by_dso.splitlines() if "%" in l and not l.startswith("#")][:8]:
      print("  " + line.strip())
    print("-- top functions:")
    for line in [l for l in by_sym.splitlines() if "%" in l and not l.startswith("#")][:args.top]:
      print("  " + line.strip())
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
    for probe in ADDED_PROBES:
      subprocess.run(["perf", "probe", "-q", "-d", probe],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
  main()
