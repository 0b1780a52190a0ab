#!/usr/bin/env bash
# Installs the Debian 12 packages awqserve needs to build, test and run. Idempotent and non-interactive:
# it installs only what is missing, and refreshes the package lists only when something is.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsentencepiece-dev prometheus-cpp-dev libgtest-dev libgmock-dev
  python3 python3-grpcio python3-grpc-tools python3-jinja2 python3-numpy python3-sentencepiece
  prometheus python3-yaml
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
