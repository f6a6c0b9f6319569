#!/usr/bin/env bash
# netman: one-time machine set-up for building and testing with Bazel.
#
# Installs (only if missing) the Debian packages netman builds against offline:
# Bazel, its Java rules, and the system libraries wrapped in third_party/BUILD.
# Safe to run again: when everything is present it only checks and prints.
#
# Supported: Debian 12 (bookworm) and Ubuntu / Debian derivatives with the same
# package names. Needs root, or sudo.
#
# Usage: tools/setup.sh
set -euo pipefail

# Keep in sync with docs/BUILD.md and third_party/BUILD.
PACKAGES=(
  bazel-bootstrap          # Bazel 4.2.3 (/usr/bin/bazel)
  bazel-rules-java         # stands in for the rules_java download (.bazelrc)
  libabsl-dev              # abseil 20220623
  android-libboringssl-dev # BoringSSL (/usr/include/android)
  libprotobuf-dev          # protobuf 3.21 runtime
  protobuf-compiler        # protoc
  libgtest-dev             # GoogleTest
  libgmock-dev             # GoogleMock
  libbenchmark-dev         # Google Benchmark
  libasio-dev              # standalone Asio: the tools/bench baseline only
  zlib1g-dev               # zlib: WebSocket permessage-deflate (netman/ws)
  pkg-config
  clang                    # --config=asan / --config=tsan
  libclang-rt-14-dev       # sanitizer and libFuzzer runtimes for clang 14
  python3                  # tools/test_summary.py
  g++                      # default compiler
  openssl                  # netman/tls interop test: test PKI and s_client
  python3-websockets       # tests/ws interop: Python's websockets (run by /usr/bin/python3)
  chromium                 # tests/ws interop: headless Chromium loads the chat page
  nodejs                   # tests/ws interop: Node's ws (npm ci below)
  python3-protobuf         # examples/kv: the Python client (/usr/bin/python3)
)

say() { printf 'netman setup: %s\n' "$*"; }
die() { printf 'netman setup: ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. Operating system ---------------------------------------------------
os_id="" os_like="" os_name="an unknown OS (no /etc/os-release)"
if [[ -r /etc/os-release ]]; then
  # Sourced in a subshell so the file's variables don't leak into this script.
  # shellcheck source=/dev/null
  { read -r os_id; read -r os_like; read -r os_name; } < <(
    . /etc/os-release
    printf '%s\n' "${ID:-}" "${ID_LIKE:-}" "${PRETTY_NAME:-${NAME:-${ID:-an unknown OS}}}"
  ) || true
fi
case " ${os_id} ${os_like} " in
  *" debian "* | *" ubuntu "*) ;;
  *)
    die "netman's setup supports Debian 12 / Ubuntu; on ${os_name} install the" \
        "equivalents of: ${PACKAGES[*]} by hand"
    ;;
esac
command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found on ${os_name}"
say "OS: ${os_name}"

# --- 2. Packages -------------------------------------------------------------
is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "${pkg}" || missing+=("${pkg}")
done

if ((${#missing[@]} == 0)); then
  say "all ${#PACKAGES[@]} packages present"
else
  # Root, or sudo (non-interactive in CI: sudo -n fails rather than prompting).
  as_root=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 ||
      die "not root and sudo not found; as root, run: apt-get install ${missing[*]}"
    as_root=(sudo)
    [[ -t 0 ]] || as_root+=(-n)
  fi
  # `env` passes DEBIAN_FRONTEND through sudo's environment reset.
  apt_get=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)

  say "missing ${#missing[@]} of ${#PACKAGES[@]} packages; running apt-get update"
  "${apt_get[@]}" update -q || die "apt-get update failed"
  say "installing: ${missing[*]}"
  "${apt_get[@]}" install -y -q --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"

  still_missing=()
  for pkg in "${missing[@]}"; do
    is_installed "${pkg}" || still_missing+=("${pkg}")
  done
  ((${#still_missing[@]} == 0)) || die "still not installed: ${still_missing[*]}"
  say "installed ${#missing[@]} packages; all ${#PACKAGES[@]} present"
fi

# --- 3. npm packages for the WebSocket interop tests ------------------------
# tests/ws/node pins Node's `ws` client (package.json + package-lock.json);
# Bazel tests cannot reach the network, so it is installed here, into
# tests/ws/node/node_modules (not committed), where //tests/ws:interop_node_test
# finds it. Skipped when the installed tree matches the lock file.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ws_node_dir="${repo_root}/tests/ws/node"
if [[ -f "${ws_node_dir}/package-lock.json" ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    # Debian's nodejs comes without npm (NodeSource's includes it).
    say "npm not found; installing Debian's npm"
    as_root=()
    if ((EUID != 0)); then as_root=(sudo); [[ -t 0 ]] || as_root+=(-n); fi
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
      die "apt-get update failed"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends npm || die "apt-get install npm failed"
  fi
  stamp="${ws_node_dir}/node_modules/.netman-package-lock.json"
  if [[ -f "${ws_node_dir}/node_modules/ws/package.json" ]] &&
    cmp -s "${ws_node_dir}/package-lock.json" "${stamp}"; then
    say "tests/ws/node: npm packages present"
  else
    say "tests/ws/node: npm ci"
    (cd "${ws_node_dir}" && npm ci --no-audit --no-fund) ||
      die "npm ci in ${ws_node_dir} failed"
    cp "${ws_node_dir}/package-lock.json" "${stamp}"
  fi
fi

# --- 4. Bazel ----------------------------------------------------------------
command -v bazel >/dev/null 2>&1 || die "bazel not on PATH after installing bazel-bootstrap"
# `bazel --version` does not start a Bazel server. Debian's bazel-bootstrap
# reports "bazel no_version"; it is Bazel 4.2.3.
bazel_version="$(bazel --version 2>&1)" || die "'bazel --version' failed: ${bazel_version}"
say "${bazel_version} ($(command -v bazel), Debian bazel-bootstrap $(dpkg-query -W -f='${Version}' bazel-bootstrap))"
say "done; build and test with: bazel test //..."
