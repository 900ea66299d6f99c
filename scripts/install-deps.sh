#!/usr/bin/env bash
# Installs every Debian 12 package that Sluice's build, tests, benchmark and demo need.
# Idempotent (skips apt when everything is present), quiet, and fails loudly.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang llvm lld
  libbpf-dev libxdp-dev xdp-tools bpftool libelf-dev zlib1g-dev linux-libc-dev
  libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libboost-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 nftables ethtool iputils-ping netcat-openbsd python3 procps
  python3-scapy python3-prometheus-client python3-matplotlib
  libjwt-dev libsodium-dev libssl-dev openssl nginx curl wrk
  libhiredis-dev redis-server
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >/tmp/sluice-apt.log 2>&1; then
  cat /tmp/sluice-apt.log >&2
  echo "install-deps: apt-get update failed" >&2
  exit 1
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/sluice-apt.log 2>&1; then
  tail -n 40 /tmp/sluice-apt.log >&2
  echo "install-deps: apt-get install failed (full log: /tmp/sluice-apt.log)" >&2
  exit 1
fi
