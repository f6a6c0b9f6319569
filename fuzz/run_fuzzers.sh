#!/usr/bin/env bash
# Builds netman's fuzz targets with --config=fuzz (clang, libFuzzer, ASan,
# UBSan) and runs each for a bounded time. Fails on any finding.
#
# Usage: fuzz/run_fuzzers.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60
#   TARGET              base names (default_packer, pipeline); default: every
#                       netman_fuzz_target in //fuzz (tag "netman_fuzzer")
#
# Each target starts from its committed seed corpus (fuzz/corpus/<target>/,
# read-only) plus a scratch corpus; what it finds goes to the scratch corpus
# only, unless NETMAN_FUZZ_MERGE=1, which merges the new coverage
# (minimised, -merge=1) into fuzz/corpus/<target>/ for committing.
#
# Environment:
#   NETMAN_FUZZ_BAZEL_STARTUP_OPTS  Bazel startup options, e.g.
#                                   "--output_base=/tmp/bazel_fuzz"
#   NETMAN_FUZZ_BAZEL_FLAGS         extra build flags, e.g. "--symlink_prefix=/"
#   NETMAN_FUZZ_OUT                 where logs, scratch corpora and crash
#                                   artifacts go (default: a new /tmp dir)
#   NETMAN_FUZZ_MERGE=1             merge new inputs into the seed corpora
#
# Output: one line per target ("fuzz: pipeline: 60 s, 98765 executions,
# 1646/s, corpus 12 -> 345, ok"), then "fuzz: N targets, M findings".
# Exit status: 0 if every target ran its time without a finding, 1 on a
# finding (crash, invariant violation, leak, timeout, OOM; the input is
# saved as $NETMAN_FUZZ_OUT/<target>-crash-*), 2 if the build failed.
set -euo pipefail

seconds="${1:-60}"
shift || true
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
read -r -a startup <<<"${NETMAN_FUZZ_BAZEL_STARTUP_OPTS:-}"
read -r -a flags <<<"${NETMAN_FUZZ_BAZEL_FLAGS:-}"
out="${NETMAN_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/netman-fuzz.XXXXXX")}"
mkdir -p "${out}"

say() { printf 'fuzz: %s\n' "$*"; }

if (($# > 0)); then
  targets=("$@")
else
  mapfile -t labels < <(bazel "${startup[@]}" query \
    'attr(tags, "netman_fuzzer", kind(cc_binary, //fuzz/...))' 2>/dev/null </dev/null)
  targets=()
  for label in "${labels[@]}"; do
    name="${label##*:}"
    targets+=("${name%_fuzzer}")
  done
fi
if ((${#targets[@]} == 0)); then
  say "no fuzz targets found"
  exit 2
fi

build_labels=()
for t in "${targets[@]}"; do build_labels+=("//fuzz:${t}_fuzzer"); done
say "building ${build_labels[*]} with --config=fuzz"
if ! bazel "${startup[@]}" build --config=fuzz "${flags[@]}" "${build_labels[@]}" \
  </dev/null >"${out}/build.log" 2>&1; then
  tail -40 "${out}/build.log"
  say "build failed (log: ${out}/build.log)"
  exit 2
fi
bin="$(bazel "${startup[@]}" info --config=fuzz "${flags[@]}" bazel-bin 2>/dev/null </dev/null)"

# quarantine_size_mb=64 (ASan's default is 256): freed memory is held back
# from reuse, poisoned, to catch use-after-free; with 256 MiB a 30 s run
# never reuses any, and every allocation page-faults fresh memory (a quarter
# of the pipeline fuzzer's time). 64 MiB is still thousands of inputs' worth
# of frees (an input allocates a few KiB).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:quarantine_size_mb=64}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

findings=0
for t in "${targets[@]}"; do
  seeds="${repo_root}/fuzz/corpus/${t}"
  work="${out}/${t}-corpus"
  log="${out}/${t}.log"
  mkdir -p "${work}" "${seeds}"
  seed_count=$(find "${seeds}" -type f | wc -l)
  set +e
  "${bin}/fuzz/${t}_fuzzer" \
    -max_total_time="${seconds}" -timeout=25 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="${out}/${t}-" \
    "${work}" "${seeds}" </dev/null >"${log}" 2>&1
  status=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "${log}" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "${log}" | tail -1)
  corpus=$(find "${work}" "${seeds}" -type f | wc -l)
  if ((status == 0)); then
    result="ok"
  else
    findings=$((findings + 1))
    result="FINDING (exit ${status}; log ${log}; input ${out}/${t}-*)"
    grep -E "invariant violated|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error" \
      "${log}" | head -5 || true
  fi
  say "${t}: ${seconds} s, ${execs:-?} executions, ${rate:-?}/s, corpus ${seed_count} -> ${corpus}, ${result}"
  if ((status == 0)) && [[ "${NETMAN_FUZZ_MERGE:-0}" == 1 ]]; then
    merged="${out}/${t}-merged"
    mkdir -p "${merged}"
    "${bin}/fuzz/${t}_fuzzer" -merge=1 "${merged}" "${seeds}" "${work}" \
      </dev/null >"${out}/${t}-merge.log" 2>&1
    # Keep the hand-written seeds (readable names); add the new hashed files.
    cp -n "${merged}"/* "${seeds}/" 2>/dev/null || true
    say "${t}: merged; seed corpus now $(find "${seeds}" -type f | wc -l) files"
  fi
done
say "${#targets[@]} targets, ${findings} findings (logs in ${out})"
((findings == 0))
