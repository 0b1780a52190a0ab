#!/usr/bin/env bash
# Configures and builds awqserve into build/ (Ninja + ccache). Extra arguments go to cmake's configure step.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
build="${AWQSERVE_BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S "$root" -B "$build" -G Ninja "$@" >/dev/null
fi
jobs=$(nproc)
cmake --build "$build" -j "$jobs"
