#!/usr/bin/env bash
# Configures and builds awqserve into build/ (Ninja + ccache). Extra arguments go to cmake's configure step.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
build="${AWQSERVE_BUILD_DIR:-$root/build}"
# ccache: paths relative to the checkout, so another clone of the repository (CI's) reuses the same cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
if [ ! -f "$build/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S "$root" -B "$build" -G Ninja "$@" >/dev/null
fi
jobs=$(nproc)
cmake --build "$build" -j "$jobs"
