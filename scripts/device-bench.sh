#!/usr/bin/env bash
# On the GPU machine (device tool, repo root, carry [".carry-bench"] made by scripts/device-pack.sh with
# AWQSERVE_DEVICE_TARGETS="engine_bench kernel_bench"): the engine bench on a 32-layer synthetic Mistral-7B checkpoint,
# then (PEER=1, the default) the peer baselines in the same call.
# Writes engine.json, peer.json and logs to $OUT.
set -uo pipefail
carry="${CARRY:-.carry-bench}"
export LD_LIBRARY_PATH="$PWD/$carry/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
out="${OUT:-/tmp/out}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
"$carry"/bin/engine_bench --base-config "$carry"/shared/assets/mistral-7b-instruct-v0.1/config.json --layers 32 \
  --dir /tmp/awqserve-synth32 --out "$out/engine.json" ${BENCH_ARGS:-} 2>&1 | tee "$out/engine.log"
if [ "${PEER:-1}" = 1 ]; then
  python3 "$carry"/shared/bench/peer_baseline.py --out "$out" --batches 1,8,32,64,128,256 --prefill 128,2048 \
    2>&1 | tee "$out/peer.log" | grep -v '^ \|^{\|^}'
fi
