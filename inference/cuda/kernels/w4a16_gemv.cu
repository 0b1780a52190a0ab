// Decode GEMV over the W4A16 kernel layout (w4a16.h). Memory-bound at 1-16 rows, so the layout is built for the
// loads: a CTA owns one tile of 32 output columns (one per lane) and its 8 warps split K by 64-k steps
// (interleaved), so every warp-wide load reads 1 KB contiguous and a warp keeps kStepsInFlight steps (128 bytes a
// lane) in flight, one slice ahead. Activations are staged in shared memory as fp32, in slices of kSliceK, and read as warp-wide
// broadcasts (every lane needs the same k). Partial sums of the warps are added in a fixed order, so each output's
// summation order is the same whatever the row count: a request's result does not depend on its batch.
#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kStepsInFlight = 4;                       // per warp per slice
constexpr int kSliceSteps = kWarps * kStepsInFlight;    // 32 steps = 2048 k
constexpr int kSliceK = kSliceSteps * kW4StepK;
constexpr int kSmemBytes = kW4GemvMaxRows * kSliceK * sizeof(float);  // 128 KB at 16 rows (raised at launch)
constexpr uint32_t kHalfMagic1024 = 0x64006400u;        // half2(1024, 1024): OR a nibble in to get 1024 + q exactly
constexpr uint32_t kLowNibbles = 0x000F000Fu;

template <int M>
__global__ void __launch_bounds__(kThreads) GemvKernel(W4A16GemvParams p) {
  extern __shared__ float4 smem4[];
  float* xs = reinterpret_cast<float*>(smem4);  // [M][kSliceK]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int tile = blockIdx.x;
  const int steps = p.k / kW4StepK, groups = p.k / p.group;
  const uint4* wq = reinterpret_cast<const uint4*>(p.qweight) + static_cast<int64_t>(tile) * steps * kW4TileN * 2;
  const __half2* sz = p.scale_zero + static_cast<int64_t>(tile) * groups * kW4TileN + lane;

  float acc[M];
#pragma unroll
  for (int m = 0; m < M; ++m) acc[m] = 0.f;

  // Weight loads run one slice ahead: the next slice's loads are issued before this slice is computed, so their
  // latency overlaps the staging and the arithmetic.
  uint4 q[kStepsInFlight][2];
  __half2 scale_zero[kStepsInFlight];
  auto load = [&](int s0) {
    const int slice_steps = min(kSliceSteps, steps - s0);
#pragma unroll
    for (int i = 0; i < kStepsInFlight; ++i) {
      const int s = warp + i * kWarps;
      if (s < slice_steps) {
        const uint4* src = wq + (static_cast<int64_t>(s0 + s) * kW4TileN + lane) * 2;
        q[i][0] = src[0];
        q[i][1] = src[1];
        scale_zero[i] = sz[static_cast<int64_t>((s0 + s) * kW4StepK / p.group) * kW4TileN];
      }
    }
  };
  load(0);
  for (int s0 = 0; s0 < steps; s0 += kSliceSteps) {
    const int slice_steps = min(kSliceSteps, steps - s0);
    __syncthreads();  // the previous slice's activations are no longer read
    const int slice_k = slice_steps * kW4StepK;
    for (int idx = threadIdx.x; idx < M * slice_k / 4; idx += kThreads) {
      const int m = idx / (slice_k / 4), k4 = idx % (slice_k / 4);
      float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
      if (m < p.m) {
        const uint2 raw = *reinterpret_cast<const uint2*>(p.x + m * p.ldx + s0 * kW4StepK + 4 * k4);
        const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
        const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
        v = make_float4(a.x, a.y, b.x, b.y);
      }
      smem4[m * (kSliceK / 4) + k4] = v;
    }
    __syncthreads();
    uint4 qc[kStepsInFlight][2];
    __half2 szc[kStepsInFlight];
#pragma unroll
    for (int i = 0; i < kStepsInFlight; ++i) qc[i][0] = q[i][0], qc[i][1] = q[i][1], szc[i] = scale_zero[i];
    if (s0 + kSliceSteps < steps) load(s0 + kSliceSteps);
#pragma unroll
    for (int i = 0; i < kStepsInFlight; ++i) {
      const int s = warp + i * kWarps;
      if (s >= slice_steps) break;
      const float scale = __low2float(szc[i]);
      const __half2 zero1024 = __half2half2(__hadd(__high2half(szc[i]), __float2half(1024.f)));
      const uint32_t words[8] = {qc[i][0].x, qc[i][0].y, qc[i][0].z, qc[i][0].w,
                                 qc[i][1].x, qc[i][1].y, qc[i][1].z, qc[i][1].w};
      float partial[M];
#pragma unroll
      for (int m = 0; m < M; ++m) partial[m] = 0.f;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        float2 d[4];
#pragma unroll
        for (int h = 0; h < 4; ++h) {
          const uint32_t bits = ((words[j] >> (4 * h)) & kLowNibbles) | kHalfMagic1024;
          d[h] = __half22float2(__hsub2(*reinterpret_cast<const __half2*>(&bits), zero1024));
        }
#pragma unroll
        for (int m = 0; m < M; ++m) {
          const float4* xv = &smem4[m * (kSliceK / 4) + (s * kW4StepK + 8 * j) / 4];
          const float4 a = xv[0], b = xv[1];
          float t = partial[m];
          t = fmaf(d[0].x, a.x, t);
          t = fmaf(d[0].y, a.y, t);
          t = fmaf(d[1].x, a.z, t);
          t = fmaf(d[1].y, a.w, t);
          t = fmaf(d[2].x, b.x, t);
          t = fmaf(d[2].y, b.y, t);
          t = fmaf(d[3].x, b.z, t);
          t = fmaf(d[3].y, b.w, t);
          partial[m] = t;
        }
      }
#pragma unroll
      for (int m = 0; m < M; ++m) acc[m] = fmaf(partial[m], scale, acc[m]);
    }
  }

  // Warps' partial sums through shared memory, added in warp order.
  __syncthreads();
#pragma unroll
  for (int m = 0; m < M; ++m) xs[(warp * M + m) * 32 + lane] = acc[m];
  __syncthreads();
  if (warp != 0) return;
  const int row = tile * kW4TileN + lane;
#pragma unroll
  for (int m = 0; m < M; ++m) {
    if (m >= p.m) break;
    float v = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) v += xs[(w * M + m) * 32 + lane];
    p.y[m * p.ldy + row] = __float2half_rn(v);
  }
}

template <int M>
void Launch(const W4A16GemvParams& p, cudaStream_t stream) {
  const size_t smem = static_cast<size_t>(M) * kSliceK * sizeof(float);  // rows are kSliceK apart in shared memory
  static const cudaError_t attr =
      cudaFuncSetAttribute(GemvKernel<M>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
  (void)attr;  // a failure here surfaces as the launch error the caller checks
  GemvKernel<M><<<p.n / kW4TileN, kThreads, smem, stream>>>(p);
}

// Shape dispatch: the smallest padded row count that holds m (rows past m read zeros and are not stored).
struct GemvEntry {
  int max_rows;
  void (*launch)(const W4A16GemvParams&, cudaStream_t);
};
constexpr GemvEntry kGemvTable[] = {
    {1, Launch<1>}, {2, Launch<2>}, {4, Launch<4>}, {8, Launch<8>}, {16, Launch<16>},
};

}  // namespace

absl::Status ValidateW4A16Gemv(const W4A16GemvParams& p) {
  if (!p.x || !p.qweight || !p.scale_zero || !p.y) return absl::InvalidArgumentError("w4a16 gemv: null pointer");
  if (p.m < 1 || p.m > kW4GemvMaxRows)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemv: m=", p.m, " outside [1, ", kW4GemvMaxRows, "]"));
  if (p.n <= 0 || p.n % kW4TileN != 0 || p.k <= 0 || p.k % kW4StepK != 0 || p.group <= 0 ||
      p.group % kW4StepK != 0 || p.k % p.group != 0)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemv: shape n=", p.n, " k=", p.k, " group=", p.group,
                                                   ": n must be a multiple of ", kW4TileN, ", k and group of ",
                                                   kW4StepK, ", and group must divide k"));
  if (p.ldx < p.k || p.ldx % 4 != 0 || reinterpret_cast<uintptr_t>(p.x) % 8 != 0)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemv: ldx=", p.ldx, " must be >= k and a multiple of 4"));
  if (p.ldy < p.n) return absl::InvalidArgumentError(absl::StrCat("w4a16 gemv: ldy=", p.ldy, " < n=", p.n));
  return absl::OkStatus();
}

void LaunchW4A16Gemv(const W4A16GemvParams& p, cudaStream_t stream) {
  for (const GemvEntry& e : kGemvTable) {
    if (p.m <= e.max_rows) {
      e.launch(p, stream);
      return;
    }
  }
}

}  // namespace inference::cuda
