#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every Sluice test: installs the
# packages, builds (BPF objects, skeletons, libsluice, binaries, tests) and
# runs ctest. Needs root (BPF, network namespaces). Extra arguments go to ctest,
# e.g. `scripts/test.sh -L bpf` or `scripts/test.sh -R Limits`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test.sh: run as root (BPF programs and network namespaces need it)" >&2
  exit 1
fi

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure --timeout 300 "$@"
