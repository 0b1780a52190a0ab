#!/usr/bin/env bash
# Makes .bundle/ (ignored by .gitignore): the C++ dependencies the GPU machine lacks (Abseil, SentencePiece and
# GoogleTest headers, libraries and CMake/pkg-config files), laid out under .bundle/usr as on this machine, so that
# the engine, the GPU tests and the benches BUILD THERE with -DAWQSERVE_SERVICES=OFF:
#   here:  scripts/device-bundle.sh
#   there: (device tool, carry [".bundle"])  scripts/device-bundle.sh --build   -> build-device/
# Abseil's CMake config locates itself relative to its own file, and pkg-config is pointed at the bundle through
# PKG_CONFIG_SYSROOT_DIR, so the copies are relocatable.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$root/.bundle"
multiarch=x86_64-linux-gnu
if [ "${1:-}" = "--build" ]; then
  export PKG_CONFIG_PATH="$bundle/usr/lib/$multiarch/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$bundle"
  export LD_LIBRARY_PATH="$bundle/usr/lib/$multiarch:${LD_LIBRARY_PATH:-}"
  cmake -S "$root" -B "$root/build-device" -G Ninja -DAWQSERVE_SERVICES=OFF -DAWQSERVE_CUDA=ON \
    -DAWQSERVE_GPU_TESTS=ON -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$bundle/usr" \
    -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DGTest_DIR="$bundle/usr/lib/$multiarch/cmake/GTest"
  cmake --build "$root/build-device" -j "$(nproc)" --target awq_cuda gpu_w4a16_test gpu_norm_input_test gpu_ops_test \
    gpu_tiny_models_test engine_bench kernel_bench full_width_logits
  exit 0
fi
rm -rf "$bundle"
mkdir -p "$bundle/usr/include" "$bundle/usr/lib/$multiarch/cmake" "$bundle/usr/lib/$multiarch/pkgconfig"
cp -a /usr/include/absl /usr/include/gtest /usr/include/gmock /usr/include/sentencepiece_processor.h \
  /usr/include/sentencepiece_trainer.h "$bundle/usr/include/"
cp -a /usr/lib/$multiarch/libabsl_*.so* /usr/lib/$multiarch/libsentencepiece*.so* /usr/lib/$multiarch/libgtest*.a \
  /usr/lib/$multiarch/libgmock*.a "$bundle/usr/lib/$multiarch/"
cp -a /usr/lib/$multiarch/cmake/absl /usr/lib/$multiarch/cmake/GTest "$bundle/usr/lib/$multiarch/cmake/"
cp -a /usr/lib/$multiarch/pkgconfig/sentencepiece.pc "$bundle/usr/lib/$multiarch/pkgconfig/"
du -sh "$bundle"
