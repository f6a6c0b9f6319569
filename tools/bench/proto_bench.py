#!/usr/bin/env python3
# Copyright netman authors.
#
# proto_bench.py: the protobuf benchmark (docs/BENCHMARKS.md, "Protobuf").
# Typed protobuf echo as a ratio to raw-bytes echo of the very same bytes,
# measured in one run with run_bench.py's machinery (server placement,
# loadgen, server CPU sampling) and //tools/loadgen --body_hex:
#
#   raw_blob       id 0 raw echo, body = a serialised Blob (64 B bytes field)
#   typed_blob     id 1 TypedRouter: parse Blob, reply serialised in place
#   raw_scalars    id 0 raw echo, body = a serialised Scalars (11 scalars)
#   typed_scalars  id 2 TypedRouter: parse Scalars, reply in place
#
# all served by one binary (//netman/proto:proto_echo_server), so the typed
# path is the only difference. Each round runs the four back to back (the
# order rotates from round to round) so a slow moment on a shared machine
# hits them alike; medians over --rounds. Default point: 1 loop, 100
# connections, pipeline 16.
#
#   bazel build -c opt //netman/proto:proto_echo_server //tools/loadgen
#   python3 tools/bench/proto_bench.py --bin_dir=$(bazel info -c opt bazel-bin)
#
# Standard library only (plus run_bench.py beside it).
import argparse
import os
import statistics
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench  # noqa: E402

# Blob { bytes data = 1; } with 64 bytes: tag 0x0a, length 64, the bytes.
BLOB = b"\x0a\x40" + bytes((i * 7) & 0xFF for i in range(64))


def varint(v):
  out = b""
  while True:
    b = v & 0x7F
    v >>= 7
    if v:
      out += bytes([b | 0x80])
    else:
      return out + bytes([b])


def scalars():
  """Scalars with all 11 fields set, in field order (canonical encoding)."""
  def zigzag(v):
    return (v << 1) ^ (v >> 63)
  f = b""
  f += b"\x08" + varint(123456 & 0xFFFFFFFFFFFFFFFF)          # int32 i32
  f += b"\x10" + varint(-98765432101 & 0xFFFFFFFFFFFFFFFF)    # int64 i64
  f += b"\x18" + varint(4000000000)                            # uint32 u32
  f += b"\x20" + varint(1 << 60)                               # uint64 u64
  f += b"\x28" + varint(zigzag(-77))                           # sint32 s32
  f += b"\x30" + varint(zigzag(-(1 << 40)))                    # sint64 s64
  f += b"\x3d" + struct.pack("<I", 0xDEADBEEF)                 # fixed32 f32
  f += b"\x41" + struct.pack("<Q", 0x0123456789ABCDEF)         # fixed64 f64
  f += b"\x49" + struct.pack("<d", 3.141592653589793)          # double d
  f += b"\x55" + struct.pack("<f", 2.5)                        # float f
  f += b"\x58\x01"                                             # bool b
  return f


CONFIGS = [
    ("raw_blob", 0, BLOB),
    ("typed_blob", 1, BLOB),
    ("raw_scalars", 0, scalars()),
    ("typed_scalars", 2, scalars()),
]


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--bin_dir", required=True)
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--duration", type=float, default=3)
  parser.add_argument("--warmup", type=float, default=1)
  parser.add_argument("--connections", type=int, default=100)
  parser.add_argument("--pipeline", type=int, default=16)
  parser.add_argument("--loops", type=int, default=1)
  args = parser.parse_args()
  binaries = {
      # run_bench.Server starts kind "netman" with tcp_server's flags.
      "netman": os.path.join(args.bin_dir, "netman/proto/proto_echo_server"),
      "loadgen": os.path.join(args.bin_dir, "tools/loadgen/loadgen"),
  }
  cpus = run_bench.cpu_list()
  results = {name: [] for name, _, _ in CONFIGS}
  cpu = {name: [] for name, _, _ in CONFIGS}
  workdir = tempfile.mkdtemp(prefix="netman_proto_bench.")
  run_args = argparse.Namespace(duration=args.duration, warmup=args.warmup)
  for r in range(args.rounds):
    order = CONFIGS[r % len(CONFIGS):] + CONFIGS[:r % len(CONFIGS)]
    for name, msg_id, body in order:
      point = {"loops": args.loops, "connections": args.connections,
               "pipeline": args.pipeline, "size": len(body)}
      res = run_bench.measure_point(
          binaries, "netman", point, run_args, cpus, workdir, verify=True,
          loadgen_extra=["--id=%d" % msg_id, "--body_hex=" + body.hex()])
      if res.get("errors", 0) or res.get("verify_errors", 0) or res.get("connect_errors", 0):
        raise run_bench.BenchError("%s: loadgen reported errors: %s" % (name, res))
      results[name].append(res["msgs_per_s"])
      cpu[name].append(res["server_us_per_msg"])
      run_bench.log("round %d %-14s %10.0f msgs/s  server %.3f us/msg  other load %.2f" %
                    (r + 1, name, res["msgs_per_s"], res["server_us_per_msg"] or 0,
                     res["other_cpu"] or 0))
  med = {k: statistics.median(v) for k, v in results.items()}
  med_cpu = {k: statistics.median([c for c in v if c]) for k, v in cpu.items()}
  print("| message | body B | raw echo msgs/s | typed echo msgs/s | typed / raw "
        "(medians) | typed / raw (median of per-round ratios) | server us/msg raw | typed |")
  print("|---|---|---|---|---|---|---|---|")
  for label, raw, typed, size in (("Blob (64 B bytes)", "raw_blob", "typed_blob", len(BLOB)),
                                  ("Scalars (11 fields)", "raw_scalars", "typed_scalars",
                                   len(scalars()))):
    per_round = statistics.median(t / r for t, r in zip(results[typed], results[raw]))
    print("| %s | %d | %.0f | %.0f | %.2fx | %.2fx | %.3f | %.3f |" %
          (label, size, med[raw], med[typed], med[typed] / med[raw], per_round, med_cpu[raw],
           med_cpu[typed]))
  print()
  print("rounds: %d; per round msgs/s: %s" % (args.rounds, results))
  print("server us/msg per round: %s" % cpu)


if __name__ == "__main__":
  main()
