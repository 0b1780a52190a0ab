// The W4A16 GEMM of kind kWide (w4a16.h): decode steps of many rows, on Hopper's warpgroup MMA.
//
// A CTA owns 64*WG rows (WG warpgroups, wgmma's M = 64 each) x 64*NW columns and one of `splits` ranges of K. Per
// 64-k stage: the packed weights, scales and activations arrive through a STAGES-deep cp.async ring; the warps
// dequantize the stage's weights once into shared memory as fp16 K-major core matrices (wgmma.cuh), and each
// warpgroup runs wgmma.m64n64k16 per k16 step and column block, A (its 64 rows) from registers (ldmatrix). The
// weights of stage s + 1 are dequantized while the tensor cores multiply stage s.
//
// Arithmetic, the same for every row count and config: each output accumulates its k16 steps in order, one
// m64n64k16 instruction per step, from zero in each K range; ranges are added in order (w4a16_store.cuh).
#include "inference/cuda/kernels/w4a16_entries.h"

#include <iterator>

#include "inference/cuda/kernels/w4a16_fragment.cuh"
#include "inference/cuda/kernels/w4a16_store.cuh"
#include "inference/cuda/kernels/wgmma.cuh"

namespace inference::cuda {
namespace {

constexpr int kWarpgroupRows = 64;
constexpr int kCoreBytes = 128;                   // a core matrix: 8 rows x 8 fp16
constexpr int kRowGroupBytes = 2 * kCoreBytes;    // one 8-column group's two k-halves of a k16 step

template <int WG, int NW, int STAGES>
struct Wide {
  static constexpr int kThreads = 128 * WG;
  static constexpr int kWarps = 4 * WG;
  static constexpr int kRows = kWarpgroupRows * WG;
  static constexpr int kARowHalves = kW4StageK + 8;  // padded: ldmatrix rows land on distinct banks
  static constexpr int kWBytes = NW * kW4StageWBytes;
  static constexpr int kSBytes = NW * kW4StageSBytes;
  static constexpr int kABytes = kRows * kARowHalves * 2;
  static constexpr int kStageBytes = kWBytes + kSBytes + kABytes;
  static constexpr int kStepBytes = NW * 8 * kRowGroupBytes;      // dequantized k16 x 64*NW weights
  static constexpr int kBhBytes = kW4StepsPerStage * kStepBytes;  // one stage of them
  static constexpr int kSmemBytes = STAGES * kStageBytes + 2 * kBhBytes;
  // Dequantization: the stage's NW * 4 fragments, a warp taking kPerWarp consecutive ones (one column block).
  static constexpr int kFragments = NW * kW4StepsPerStage;
  static constexpr int kPerWarp = kFragments >= kWarps ? kFragments / kWarps : 1;
  static_assert(kFragments % kWarps == 0 || kWarps % kFragments == 0, "fragments spread evenly over the warps");
  static_assert(kW4StepsPerStage % kPerWarp == 0, "a warp's fragments stay in one column block");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA");
};

template <int WG, int NW, int STAGES>
__global__ void __launch_bounds__(Wide<WG, NW, STAGES>::kThreads) WideKernel(W4A16GemmParams p) {
  using C = Wide<WG, NW, STAGES>;
  extern __shared__ __align__(128) unsigned char smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int m0 = blockIdx.x * C::kRows;
  const int rows = min(C::kRows, p.m - m0);
  const int split = blockIdx.y;
  const int block0 = blockIdx.z * NW;
  const int steps = p.k / kW4StepK, groups = p.k / p.group;
  const int total_st = p.k / kW4StageK;
  const int per_split = (total_st + p.splits - 1) / p.splits;
  const int st0 = split * per_split;
  const int nst = min(per_split, total_st - st0);

  unsigned char* bh = smem + STAGES * C::kStageBytes;  // two stages of dequantized weights
  auto w_smem = [&](int slot) { return smem + slot * C::kStageBytes; };
  auto s_smem = [&](int slot) { return smem + slot * C::kStageBytes + C::kWBytes; };
  auto a_smem = [&](int slot) {
    return reinterpret_cast<__half*>(smem + slot * C::kStageBytes + C::kWBytes + C::kSBytes);
  };

  for (int i = threadIdx.x; i < STAGES * (C::kRows - rows) * C::kARowHalves / 8; i += C::kThreads) {
    const int per_slot = (C::kRows - rows) * C::kARowHalves / 8;
    reinterpret_cast<uint4*>(a_smem(i / per_slot) + rows * C::kARowHalves)[i % per_slot] = make_uint4(0, 0, 0, 0);
  }

  const __half* a_src = p.x + static_cast<int64_t>(m0) * p.ldx;
  auto load_stage = [&](int st, int slot) {  // st relative to st0
    const int gst = st0 + st;
    for (int c = threadIdx.x; c < C::kWBytes / 16; c += C::kThreads) {
      const int b = c / (kW4StageWBytes / 16), o = c % (kW4StageWBytes / 16);
      const uint4* src = reinterpret_cast<const uint4*>(p.qweight) +
                         (static_cast<int64_t>(block0 + b) * steps + gst * kW4StepsPerStage) * 32 + o;
      CpAsync16(w_smem(slot) + c * 16, src, true);
    }
    if (threadIdx.x < C::kSBytes / 16) {
      const int b = threadIdx.x / (kW4StageSBytes / 16), o = threadIdx.x % (kW4StageSBytes / 16);
      const int group = gst * kW4StageK / p.group;
      CpAsync16(s_smem(slot) + threadIdx.x * 16,
                reinterpret_cast<const uint4*>(p.scale_zero + (static_cast<int64_t>(block0 + b) * groups + group) * 64) + o,
                true);
    }
    for (int c = threadIdx.x; c < rows * (kW4StageK / 8); c += C::kThreads) {
      const int r = c / (kW4StageK / 8), col = c % (kW4StageK / 8);
      CpAsync16(a_smem(slot) + r * C::kARowHalves + 8 * col,
                a_src + static_cast<int64_t>(r) * p.ldx + gst * kW4StageK + 8 * col, true);
    }
  };

  // This warp's share of the dequantization: fragments [f0, f0 + kPerWarp) of each stage, all in column block fb.
  const int f0 = warp * C::kPerWarp;
  const bool dequantizes = f0 < C::kFragments;
  const int fb = f0 / kW4StepsPerStage;
  int scales_group = -1;
  W4GroupScales sc;
  auto dequantize_stage = [&](int st, int slot, unsigned char* out) {
    if (!dequantizes) return;
    const int group = (st0 + st) * kW4StageK / p.group;
    if (group != scales_group) {
      sc = W4ScalesOf(reinterpret_cast<const __half2*>(s_smem(slot) + fb * kW4StageSBytes), lane);
      scales_group = group;
    }
    uint4 frag[C::kPerWarp];  // every load before the first store: shared loads do not move across shared stores
#pragma unroll
    for (int i = 0; i < C::kPerWarp; ++i)
      frag[i] = reinterpret_cast<const uint4*>(w_smem(slot) + fb * kW4StageWBytes)[((f0 + i) % kW4StepsPerStage) * 32 +
                                                                                   lane];
#pragma unroll
    for (int i = 0; i < C::kPerWarp; ++i) {
      const int step = (f0 + i) % kW4StepsPerStage;
      const uint32_t words[4] = {frag[i].x, frag[i].y, frag[i].z, frag[i].w};
      unsigned char* dst = out + step * C::kStepBytes + fb * 8 * kRowGroupBytes + (lane / 4) * 16 + (lane % 4) * 4;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        __half2 b[4];
        DequantW4Word(words[j], sc, j, b);
        // b[part]: n8 tile 2j + part / 2, k-half part % 2; this lane's (row lane / 4, k pair lane % 4) of it.
#pragma unroll
        for (int part = 0; part < 4; ++part)
          *reinterpret_cast<__half2*>(dst + (2 * j + part / 2) * kRowGroupBytes + (part % 2) * kCoreBytes) = b[part];
      }
    }
  };

  float acc[NW][32];
#pragma unroll
  for (int b = 0; b < NW; ++b)
#pragma unroll
    for (int i = 0; i < 32; ++i) acc[b][i] = 0.f;

#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) {
    if (i < nst) load_stage(i, i);
    CpAsyncCommit();
  }
  CpAsyncWait<STAGES - 2>();
  __syncthreads();
  dequantize_stage(0, 0, bh);
  FenceProxyAsyncShared();
  __syncthreads();

  const int wg = warp / 4, wq = warp % 4;
  for (int st = 0; st < nst; ++st) {
    const int slot = st % STAGES;
    unsigned char* cur = bh + (st % 2) * C::kBhBytes;
    uint32_t a[kW4StepsPerStage][4];
#pragma unroll
    for (int s = 0; s < kW4StepsPerStage; ++s)
      LdMatrixX4(a[s], a_smem(slot) + (kWarpgroupRows * wg + 16 * wq + lane % 16) * C::kARowHalves + s * kW4StepK +
                           8 * (lane / 16));
#pragma unroll
    for (int b = 0; b < NW; ++b) WgmmaPin(acc[b]);
    WgmmaFence();
#pragma unroll
    for (int s = 0; s < kW4StepsPerStage; ++s)
#pragma unroll
      for (int b = 0; b < NW; ++b)
        WgmmaM64N64K16(acc[b], a[s],
                       WgmmaDescriptor(cur + s * C::kStepBytes + b * 8 * kRowGroupBytes, kCoreBytes, kRowGroupBytes));
    WgmmaCommit();
#pragma unroll
    for (int b = 0; b < NW; ++b) WgmmaPin(acc[b]);

    // While the tensor cores work: the next loads, then stage st + 1's dequantization into the other buffer.
    if (st + STAGES - 1 < nst) load_stage(st + STAGES - 1, (st + STAGES - 1) % STAGES);
    CpAsyncCommit();
    CpAsyncWait<STAGES - 2>();
    __syncthreads();
    if (st + 1 < nst) dequantize_stage(st + 1, (st + 1) % STAGES, bh + ((st + 1) % 2) * C::kBhBytes);
    FenceProxyAsyncShared();
    WgmmaWait<0>();
#pragma unroll
    for (int b = 0; b < NW; ++b) WgmmaPin(acc[b]);
    __syncthreads();
  }
  CpAsyncWait<0>();
  __syncthreads();

  const int g = lane / 4, t = lane % 4;
  auto for_each_pair = [&](auto&& fn) {
#pragma unroll
    for (int b = 0; b < NW; ++b)
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int row = m0 + kWarpgroupRows * wg + 16 * wq + g + 8 * h;
          if (row < p.m) fn(row, (block0 + b) * kW4BlockN + 8 * i + 2 * t, acc[b][4 * i + 2 * h], acc[b][4 * i + 2 * h + 1]);
        }
  };
  W4StoreTile(p, split, blockIdx.z * gridDim.x + blockIdx.x, true, for_each_pair);
}

template <int WG, int NW, int STAGES>
void Launch(const W4A16GemmParams& p, cudaStream_t stream) {
  using C = Wide<WG, NW, STAGES>;
  const dim3 grid((p.m + C::kRows - 1) / C::kRows, p.splits, p.n / (kW4BlockN * NW));
  LaunchW4Kernel<WideKernel<WG, NW, STAGES>>(p, grid, C::kThreads, C::kSmemBytes, stream);
}

constexpr W4A16GemmKind kW = W4A16GemmKind::kWide;
// {kind, mw = warpgroups, mt = 4 (a warpgroup's 64 rows as m16 tiles), nw, sk = 1, stages}; shared memory per CTA
// (KB) in the comments.
constexpr W4A16GemmEntry kEntries[] = {
    {{kW, 1, 4, 1, 1, 4}, Launch<1, 1, 4>},  // 62
    {{kW, 1, 4, 2, 1, 4}, Launch<1, 2, 4>},  // 88
    {{kW, 1, 4, 4, 1, 3}, Launch<1, 4, 3>},  // 119
    {{kW, 2, 4, 1, 1, 4}, Launch<2, 1, 4>},  // 100
    {{kW, 2, 4, 2, 1, 4}, Launch<2, 2, 4>},  // 127
    {{kW, 2, 4, 4, 1, 4}, Launch<2, 4, 4>},  // 172
};

}  // namespace

const W4A16GemmEntry* W4A16WideEntries(int* count) {
  *count = static_cast<int>(std::size(kEntries));
  return kEntries;
}

}  // namespace inference::cuda
