# Copyright netman authors.
#
# tls_bench.py: the TLS rows of netman's benchmark (issue 11), run by
# run_bench.py --tls (after the usual matrix) or --tls_only (nothing else;
# the rest of docs/BENCHMARKS.md is left alone). Writes its own generated
# block of docs/BENCHMARKS.md (between the TLS markers below).
#
# What it measures, all against netman's tcp_server with 1 loop (pinned as
# run_bench.py pins 1-loop servers), with a certificate made at run time by
# the openssl CLI (self-signed ECDSA P-256, SAN IP:127.0.0.1; loadgen trusts
# exactly that certificate, so the handshake is verified for real):
#   * throughput: the same server plain and over TLS 1.3 (loadgen --tls), at
#     1 loop, 100 connections, pipeline 16, bodies of 64 B and 4 KiB; plain
#     and TLS alternate within each round (their order flipping every round)
#     and the figure is the median over rounds of each round's TLS/plain
#     ratio (the ratio of the medians is shown too);
#   * handshakes per second (loadgen --handshakes: connect, TLS 1.3
#     handshake, close_notify, the server closes), full and resumed
#     (--tls_resume, tickets), alternating likewise; "per core" divides by
#     the server's CPU use during the window, so it is the server's cost per
#     handshake whether or not the load generator kept it busy;
#   * the cipher's ceiling: //netman/tls:tls_transport_benchmark's
#     BM_AeadSealOpen_Aes128Gcm (BoringSSL's AES-128-GCM alone) sealing and
#     opening what one echoed message costs (a 16-message 64 B burst's
#     record / 16; one 4 KiB message's record), pinned to the server's CPU;
#     with the plain echo's server CPU per message, the ratio a TLS echo
#     that added nothing but the cipher would reach. Measured at the start
#     of every round (median over rounds), like the rest. Skipped when that
#     binary was not built (tools/bench/run.sh builds it);
#   * memory: server RSS growth per idle connection at --memory_connections
#     connections (each exchanged one message), plain and TLS 1.3, with one
#     loadgen process (fewer than 20000 descriptors in each process).
#
# Standard library only. Threading: single-threaded; child processes only.

import json
import os
import statistics
import subprocess

BEGIN_MARK = "<!-- BEGIN GENERATED TLS by tools/bench/run_bench.py --tls: do not edit by hand -->"
END_MARK = "<!-- END GENERATED TLS -->"
# The throughput targets: TLS/plain at 1 loop, 100 connections,
# pipeline 16, per body size.
THROUGHPUT_TARGETS = {64: 0.75, 4096: 0.40}
# Server RSS per idle TLS connection at 10,000 connections, bytes.
MEMORY_TARGET = 6 * 1024
KEY_TYPE = "ECDSA P-256"
HANDSHAKE_CONNECTIONS = 16  # handshakes in flight (smoke: 4)
# The AEAD benchmark's record sizes per body size, and messages per record:
# pipeline 16 of 64 B bodies (+ 8 B headers) is one 1152 B record; a 4 KiB
# message is 4104 B of (16 KiB) records.
AEAD_RECORDS = {64: (1152, 16), 4096: (4104, 1)}
AEAD_BENCHMARK = "netman/tls/tls_transport_benchmark"


def make_certificate(workdir):
  """A throw-away self-signed ECDSA P-256 certificate for 127.0.0.1."""
  cert = os.path.join(workdir, "tls_bench_cert.pem")
  key = os.path.join(workdir, "tls_bench_key.pem")
  subprocess.run(
      ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=netman bench",
       "-addext", "subjectAltName=IP:127.0.0.1"],
      check=True, capture_output=True, timeout=60)
  return cert, key


def _median(values):
  values = [v for v in values if v is not None]
  return statistics.median(values) if values else None


def run(bench, args, binaries, cpus, workdir):
  """Measures the TLS rows; `bench` is the run_bench module. Returns a dict
  (saved in --json_out under "tls") that render() turns into markdown."""
  cert, key = make_certificate(workdir)
  server_tls = ["--tls_cert=" + cert, "--tls_key=" + key]
  loadgen_tls = ["--tls", "--tls_ca=" + cert, "--tls_version=1.3"]
  rounds = 1 if args.smoke else args.target_repeats
  connections = 4 if args.smoke else 100
  out = {"rounds": rounds, "connections": connections, "key_type": KEY_TYPE,
         "throughput": [], "handshakes": [], "memory": [], "check": None}

  # Correctness first: every byte of every reply verified over TLS.
  saved = (args.duration, args.warmup)
  args.duration, args.warmup = (0.3, 0.1) if args.smoke else (0.5, 0.1)
  try:
    check = bench.measure_point(binaries, "netman", dict(loops=1, size=4096, connections=4,
                                                         pipeline=16),
                                args, cpus, workdir, verify=True, server_extra=server_tls,
                                loadgen_extra=loadgen_tls)
  finally:
    args.duration, args.warmup = saved
  out["check"] = check
  bench.log("tls check: %d messages verified over %s, %d errors %s" %
            (check["messages"], check.get("tls", {}).get("negotiated", "?"), check["errors"],
             check["first_error"]))

  variants = [("plain", (), ()), ("tls", server_tls, loadgen_tls)]
  aead_rounds = []  # the cipher's cost, measured once per round like the rest
  for rnd in range(rounds):
    aead_rounds.append(measure_aead(bench, args, binaries, cpus))
    for size in sorted(THROUGHPUT_TARGETS):
      point = dict(loops=1, size=size, connections=connections, pipeline=16)
      order = variants if rnd % 2 == 0 else variants[::-1]
      for variant, server_extra, loadgen_extra in order:
        r = bench.measure_point(binaries, "netman", point, args, cpus, workdir,
                                server_extra=server_extra, loadgen_extra=loadgen_extra)
        r["variant"], r["round"] = variant, rnd
        out["throughput"].append(r)
        bench.log("tls %-5s size=%-4d conns=%d pipeline=16  %9s msgs/s  server cpu %s  "
                  "loadgen cpu %s  other %s  errors %d" %
                  (variant, size, connections, bench.fmt_rate(r["msgs_per_s"]),
                   bench.fmt_cpu(r["server_cpu"]), bench.fmt_cpu(r["loadgen_cpu"]["process"]),
                   bench.fmt_cpu(r["other_cpu"]), r["errors"]))

  out["aead"] = {size: _median([a[size] for a in aead_rounds if size in a])
                 for size in AEAD_RECORDS if any(size in a for a in aead_rounds)}
  out["aead_rounds"] = aead_rounds

  in_flight = 4 if args.smoke else HANDSHAKE_CONNECTIONS
  kinds = [("full", []), ("resumed", ["--tls_resume"])]
  handshake_flags = ["--tls", "--tls_insecure", "--tls_version=1.3", "--handshakes"]
  for rnd in range(rounds):
    for kind, extra in (kinds if rnd % 2 == 0 else kinds[::-1]):
      point = dict(loops=1, size=64, connections=in_flight, pipeline=1)
      r = bench.measure_point(binaries, "netman", point, args, cpus, workdir,
                              server_extra=server_tls, loadgen_extra=handshake_flags + extra)
      r["variant"], r["round"] = kind, rnd
      r["per_core"] = (r["msgs_per_s"] / r["server_cpu"]) if r["server_cpu"] else None
      out["handshakes"].append(r)
      bench.log("tls handshakes %-7s %9s /s  server cpu %s  per core %s  resumed %d  errors %d"
                % (kind, bench.fmt_rate(r["msgs_per_s"]), bench.fmt_cpu(r["server_cpu"]),
                   bench.fmt_rate(r["per_core"]), r["tls"]["resumed_in_window"], r["errors"]))

  if args.memory_connections > 0:
    for variant, server_extra, loadgen_extra in variants:
      m = bench.measure_memory(binaries, "netman", args.memory_connections, cpus, workdir,
                               settle=0.05 if args.smoke else 0.5, server_extra=server_extra,
                               loadgen_extra=loadgen_extra)
      m["variant"] = variant
      out["memory"].append(m)
      bench.log("tls memory %-5s: %d connections open, RSS %d -> %d KiB, %s per connection" %
                (variant, m["opened"], m["rss_before_kib"], m["rss_after_kib"],
                 bench.fmt_bytes(m["bytes_per_connection"])))
  return out


def measure_aead(bench, args, binaries, cpus):
  """Seal+open time per echoed message by body size (µs), or {} when the
  benchmark binary is missing."""
  # Beside tcp_server's netman/server/ in the same bazel-bin (or runfiles).
  root = os.path.dirname(os.path.dirname(os.path.dirname(binaries["netman"])))
  exe = os.path.join(root, AEAD_BENCHMARK)
  if not os.access(exe, os.X_OK):
    bench.log("tls aead: %s not built, the cipher's ceiling is not measured" % AEAD_BENCHMARK)
    return {}
  names = "|".join("%d" % record for record, _ in AEAD_RECORDS.values())
  cmd = [exe, "--benchmark_filter=BM_AeadSealOpen_Aes128Gcm/(%s)$" % names,
         "--benchmark_format=json", "--benchmark_repetitions=%d" % (1 if args.smoke else 3),
         "--benchmark_min_time=%s" % ("0.01" if args.smoke else "0.1")]
  proc = bench.spawn(cmd, bench.placement_for(1, cpus).server_cpus, stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL, text=True)
  stdout, _ = proc.communicate(timeout=300)
  if proc.returncode != 0:
    raise bench.BenchError("%s exited %d" % (exe, proc.returncode))
  ns = {}
  for b in json.loads(stdout)["benchmarks"]:
    if b.get("run_type") == "iteration":
      ns.setdefault(int(b["name"].split("/")[1]), []).append(b["real_time"])
  out = {}
  for size, (record, per_record) in AEAD_RECORDS.items():
    out[size] = statistics.median(ns[record]) / 1000.0 / per_record
  bench.log("tls aead: seal+open per message %s" % ", ".join(
      "%s %.3f us" % (bench.size_name(size), us) for size, us in sorted(out.items())))
  return out


def errors(out):
  n = sum(r["errors"] for r in out["throughput"] + out["handshakes"])
  return n + (out["check"]["errors"] if out["check"] else 0)


def _cipher(results):
  for r in results:
    cipher = r.get("tls", {}).get("cipher")
    if cipher:
      return "%s, %s" % (r["tls"].get("negotiated", "?"), cipher)
  return "n/a"


def render(bench, out, machine, args):
  L = ["### TLS results", ""]
  L.append("Generated by `tools/bench/run.sh %s` on %s%s. **Machine:** %s, %d CPU(s), "
           "load average at start %s; shared with other developers' builds and tests "
           "while measuring, so plain and TLS alternate within every round and the figures "
           "are medians over %d round(s). Certificate: %s, self-signed, made at run time "
           "(openssl CLI); loadgen verifies it. Negotiated: %s." %
           ("--tls_only --smoke" if args.smoke else "--tls_only", machine["date"],
            ", netman at commit %s" % machine["commit"] if machine.get("commit") else "",
            machine["cpu_model"], machine["cpus"], machine["loadavg_at_start"], out["rounds"],
            out["key_type"], _cipher(out["throughput"] + [out["check"]])))
  L.append("")
  check = out["check"]
  if check:
    L.append("**Correctness check over TLS** (4 connections, pipeline 16, 4 KiB bodies, every "
             "reply byte verified): %s messages, %d errors." %
             ("{:,}".format(int(check["messages"])), check["errors"]))
    L.append("")
  L.append("**Throughput**, 1 loop, %d connections, pipeline 16 (%s):" %
           (out["connections"], bench.placement_for(1, list(range(machine["cpus"]))).description))
  L.append("")
  L.append("| body | plain msgs/s | TLS 1.3 msgs/s | TLS / plain (median of rounds) | "
           "ratio of medians | target | met? | server CPU plain / TLS | loadgen CPU plain / TLS "
           "| errors |")
  L.append("|---|---|---|---|---|---|---|---|---|---|")
  for size, target in sorted(THROUGHPUT_TARGETS.items()):
    rows = [r for r in out["throughput"] if r["point_size"] == size]
    plain = [r for r in rows if r["variant"] == "plain"]
    tls = [r for r in rows if r["variant"] == "tls"]
    mp = _median([r["msgs_per_s"] for r in plain])
    mt = _median([r["msgs_per_s"] for r in tls])
    paired = []
    for rnd in range(out["rounds"]):
      a = [r["msgs_per_s"] for r in plain if r["round"] == rnd]
      b = [r["msgs_per_s"] for r in tls if r["round"] == rnd]
      if a and b and a[0]:
        paired.append(b[0] / a[0])
    ratio = _median(paired)
    L.append("| %s | %s | %s | %s | %s | ≥ %.2f× | %s | %s / %s | %s / %s | %d |" %
             (bench.size_name(size), bench.fmt_rate(mp), bench.fmt_rate(mt),
              "%.2f×" % ratio if ratio is not None else "n/a",
              "%.2f×" % (mt / mp) if mp and mt else "n/a", target,
              "n/a" if ratio is None else "yes" if ratio >= target else "**no**",
              bench.fmt_cpu(_median([r["server_cpu"] for r in plain])),
              bench.fmt_cpu(_median([r["server_cpu"] for r in tls])),
              bench.fmt_cpu(_median([r["loadgen_cpu"]["process"] for r in plain])),
              bench.fmt_cpu(_median([r["loadgen_cpu"]["process"] for r in tls])),
              sum(r["errors"] for r in rows)))
  L.append("")
  aead = {int(k): v for k, v in out.get("aead", {}).items()}
  if aead:
    L.append("**The cipher's ceiling:** what an echoed message costs in AES-128-GCM alone "
             "(BoringSSL's `EVP_AEAD` sealing and opening its record, "
             "`//netman/tls:tls_transport_benchmark` `BM_AeadSealOpen_Aes128Gcm`, on the "
             "server's CPU at the start of every round; medians), and the ratio a TLS echo "
             "that added nothing else to the plain echo would reach:")
    L.append("")
    L.append("| body | seal + open per message | plain server CPU per message | "
             "best possible TLS / plain |")
    L.append("|---|---|---|---|")
    for size in sorted(aead):
      plain_us = _median([r["server_us_per_msg"] for r in out["throughput"]
                          if r["point_size"] == size and r["variant"] == "plain"])
      L.append("| %s | %.2f µs | %s | %s |" %
               (bench.size_name(size), aead[size],
                "%.2f µs" % plain_us if plain_us else "n/a",
                "%.2f×" % (plain_us / (plain_us + aead[size])) if plain_us else "n/a"))
    L.append("")
  L.append("**Handshakes** (TLS 1.3, %s; loadgen --handshakes with %d in flight: connect, "
           "handshake, close_notify, the server closes; resumed = ticket offered and accepted):" %
           (KEY_TYPE, out["handshakes"][0]["connections"] if out["handshakes"] else 0))
  L.append("")
  L.append("| handshake | per second | server CPU | per server core | resumed in window | "
           "errors |")
  L.append("|---|---|---|---|---|---|")
  for kind in ("full", "resumed"):
    rows = [r for r in out["handshakes"] if r["variant"] == kind]
    if not rows:
      continue
    L.append("| %s | %s | %s | %s | %s | %d |" %
             (kind, bench.fmt_rate(_median([r["msgs_per_s"] for r in rows])),
              bench.fmt_cpu(_median([r["server_cpu"] for r in rows])),
              bench.fmt_rate(_median([r["per_core"] for r in rows])),
              "{:,}".format(int(_median([r["tls"]["resumed_in_window"] for r in rows]))),
              sum(r["errors"] for r in rows)))
  L.append("")
  if out["memory"]:
    L.append("**Memory:** server RSS growth per idle connection, each having exchanged one "
             "message (TLS: after the handshake), 1 loop:")
    L.append("")
    L.append("| connection | connections open | RSS before → after | per connection | "
             "target |")
    L.append("|---|---|---|---|---|")
    for m in out["memory"]:
      per = m["bytes_per_connection"]
      target = ""
      if m["variant"] == "tls":
        target = "≤ %s: %s" % (bench.fmt_bytes(MEMORY_TARGET),
                               "n/a" if per is None else "yes" if per <= MEMORY_TARGET
                               else "**no**")
      L.append("| %s | %s | %s → %s KiB | %s | %s |" %
               ("TLS 1.3" if m["variant"] == "tls" else "plain", "{:,}".format(m["opened"]),
                "{:,}".format(m["rss_before_kib"]), "{:,}".format(m["rss_after_kib"]),
                bench.fmt_bytes(per), target))
    L.append("")
  return "\n".join(L)
