#!/usr/bin/env bash
# On the GPU machine (device tool, repo root, carry [".carry"] made by scripts/device-pack.sh): runs the GPU tests
# and compute-sanitizer's memcheck on the tiny model, logs to $OUT. Exit status: the number of failed stages.
# CARRY: the packed folder (default .carry); TESTS: the test binaries to run (default all six); GTEST_FILTER
# narrows them as usual.
set -uo pipefail
carry="${CARRY:-.carry}"
export LD_LIBRARY_PATH="$PWD/$carry/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export AWQSERVE_SHARED_DIR="$PWD/$carry/shared"
out="${OUT:-/tmp/out}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
failed=0
for t in ${TESTS:-gpu_w4a16_test gpu_norm_input_test gpu_ops_test gpu_flash_prefill_test gpu_tiny_models_test gpu_sampling_test}; do
  echo "=== $t"
  "$carry/bin/$t" --gtest_brief=1 >"$out/$t.log" 2>&1 || failed=$((failed + 1))
  grep -E "^\[  (PASSED|FAILED) |FAILED|Failure|rel err|stories|Expected|Which is|error" "$out/$t.log" | head -40
done
if [ "${MEMCHECK:-1}" = 1 ]; then
  echo "=== compute-sanitizer memcheck (tiny model, ops, flash prefill)"
  compute-sanitizer --tool memcheck --error-exitcode 9 "$carry"/bin/gpu_tiny_models_test \
    --gtest_filter='AwqTinyMistral.PrefillEqualsDecodeAndChunkedPrefill:AwqTinyMistral.BadBatches*:TinyStoriesAwq.*' \
    >"$out/memcheck_tiny.log" 2>&1 || failed=$((failed + 1))
  tail -3 "$out/memcheck_tiny.log"
  # The sanitizer runs kernels one after another, so the keys_cached test's window (a kernel starting before the one
  # before it ends, which that test checks it has) cannot open under it; that test runs in the stage above.
  for t in gpu_ops_test gpu_flash_prefill_test; do
    compute-sanitizer --tool memcheck --error-exitcode 9 "$carry/bin/$t" --gtest_filter='-*CachedKeys*' \
      >"$out/memcheck_$t.log" 2>&1 || failed=$((failed + 1))
    tail -3 "$out/memcheck_$t.log"
  done
fi
echo "failed stages: $failed"
exit "$failed"
