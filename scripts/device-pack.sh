#!/usr/bin/env bash
# Builds the CUDA engine, its GPU tests and the engine bench HERE (sm_90a, -DAWQSERVE_SERVICES=OFF) and packs what
# the GPU machine needs into .carry/ (ignored via .git/info/exclude): the binaries, the Abseil shared libraries
# they link (CUDA's own libraries are on that machine), the shared assets the tests read, and the Python
# references. Then run the device tool with carry [".carry"] and `scripts/device-test.sh` / `scripts/device-bench.sh`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${AWQSERVE_BUILD_DIR:-$root/build-cuda}"
shared="$root/../shared"
cmake -S "$root" -B "$build" -G Ninja -DAWQSERVE_SERVICES=OFF -DAWQSERVE_CUDA=ON >/dev/null
# AWQSERVE_DEVICE_TARGETS: the targets to build and pack. Default: the GPU tests and full_width_logits (what
# device-test.sh and full_width_check.py run). Tests and benches together exceed the device tool's 64 MiB, so pack the
# benches into a second folder: AWQSERVE_CARRY_DIR=.carry-bench AWQSERVE_DEVICE_TARGETS="engine_bench kernel_bench".
read -r -a targets <<<"${AWQSERVE_DEVICE_TARGETS:-gpu_w4a16_test gpu_norm_input_test gpu_ops_test gpu_flash_prefill_test gpu_tiny_models_test gpu_sampling_test full_width_logits}"
ninja -C "$build" -j "$(nproc)" "${targets[@]}"
# AWQSERVE_CARRY_DIR: where to pack (default .carry; any .carry* folder is ignored by git).
carry="${AWQSERVE_CARRY_DIR:-$root/.carry}"
rm -rf "$carry" && mkdir -p "$carry/bin" "$carry/lib" "$carry/shared/assets" "$carry/shared/tools" "$carry/shared/bench"
for t in "${targets[@]}"; do
  f=$(find "$build" -name "$t" -type f -perm -u+x | head -1)
  cp "$f" "$carry/bin/" && strip --strip-debug "$carry/bin/$t"
  ldd "$f" | awk '/libabsl/ {print $3}' | xargs -r cp -n -t "$carry/lib/"
done
cp -r "$shared/assets/awq-tiny-mistral" "$shared/assets/tiny-stories-awq" "$carry/shared/assets/"
mkdir -p "$carry/shared/assets/mistral-7b-instruct-v0.1"
cp "$shared/assets/mistral-7b-instruct-v0.1/config.json" "$carry/shared/assets/mistral-7b-instruct-v0.1/"
cp "$shared/tools/awq_reference.py" "$carry/shared/tools/"
cp "$shared/bench/peer_baseline.py" "$carry/shared/bench/"
chmod -R u+w "$carry"
du -sh "$carry"
