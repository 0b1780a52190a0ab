// The W4A16 GEMM of kind kWide with the operands swapped (w4a16.h): the weights are wgmma's A, dequantized straight
// into registers, and the activation rows are its N, read from shared memory. w4a16_wide.cu is the other way round:
// there every stage of weights goes through shared memory once dequantized and the activations are A. Up to 64 rows
// this one is faster on q/k/v, o_proj and down_proj (bench/RESULTS.md, fifth round); above, it reads the activations
// once per 128 columns, more than the other's CTAs of up to 256 columns, and is slower.
//
// A CTA of WG warpgroups owns 64*WG columns x R activation rows (R = wgmma's N, 64 or 128) and one of `splits`
// ranges of K. Warpgroup w computes column block blockIdx.z * WG + w; its warp q the columns 16q..16q+15 of it, which
// are word q of every lane's packed k16 fragment (w4a16.h's layout is mma's B fragment order, i.e. A's of the
// transposed product). Per 64-k stage:
//   - the activations (K-major core matrices, wgmma.cuh), the packed weights and the group's scales of the CTA's
//     column blocks arrive through a STAGES-deep cp.async ring; a stage is loaded STAGES - 2 stages ahead, into the
//     slot the stage two back has left (weights read word by word from global memory left the warps waiting on
//     DRAM, and fetched every 32-byte sector four times);
//   - each warp reads its four words of the stage from shared memory, dequantizes them exactly as the dequant kernel
//     does (one fp16 rounding of (q - zero) * scale), and runs the stage's four m64nRk16 wgmma.
// One barrier per stage; the wgmma of a stage overlaps the next stage's dequantization.
//
// Arithmetic, the same for every row count and config: each output accumulates its k16 steps in order, one wgmma per
// step, from zero in each K range; ranges are added in order (w4a16_store.cuh).
#include "inference/cuda/kernels/w4a16_entries.h"

#include <algorithm>
#include <iterator>

#include "inference/cuda/kernels/w4a16_fragment.cuh"
#include "inference/cuda/kernels/w4a16_store.cuh"
#include "inference/cuda/kernels/wgmma.cuh"

namespace inference::cuda {
namespace {

constexpr int kCoreBytes = 128;                 // a core matrix: 8 rows x 8 fp16
constexpr int kRowGroupBytes = 2 * kCoreBytes;  // an 8-row group's two k-halves of a k16 step
constexpr int kUnroll = 2;                      // stages per loop trip: A registers double-buffered

template <int WG, int R, int STAGES>
struct Swapped {
  static_assert(R == 64 || R == 128, "wgmma N");
  static_assert(STAGES >= 3, "a stage loads into the slot of the stage two back");
  static constexpr int kThreads = 128 * WG;
  static constexpr int kAcc = R / 2;                            // a thread's fp32 results: 64 x R per warpgroup
  static constexpr int kStepBytes = R / 8 * kRowGroupBytes;     // k16 x R activations
  static constexpr int kXBytes = kW4StepsPerStage * kStepBytes;
  static constexpr int kWBytes = WG * kW4StageWBytes;             // the column blocks' packed weights
  static constexpr int kStageBytes = kXBytes + kWBytes + WG * kW4StageSBytes;
  static constexpr int kSmemBytes = STAGES * kStageBytes;
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA");
  static constexpr int kMinCtasPerSm = std::min(WG <= 2 ? 2 : 1, (227 * 1024) / (kSmemBytes + 1024));  // 128 regs
};

// Byte offset of activation row n, 16-byte piece c (k 8c..8c+7 of the stage) within a stage.
template <int R>
__device__ __forceinline__ int PieceOffset(int n, int c) {
  return (c / 2) * (R / 8 * kRowGroupBytes) + (n / 8) * kRowGroupBytes + (c % 2) * kCoreBytes + (n % 8) * 16;
}

template <int R>
__device__ __forceinline__ void WgmmaRows(float (&d)[R / 2], const uint32_t (&a)[4], uint64_t desc) {
  if constexpr (R == 128)
    WgmmaM64N128K16(d, a, desc);
  else
    WgmmaM64N64K16(d, a, desc);
}

// (scale, zero) of the lane's two columns of this warp (tiles 2q and 2q + 1 of w4a16.h's lane data) as the
// dequantization wants them: ss = (scale, scale), zz = (1024 + zero, 1024 + zero).
struct TileScales {
  __half2 ss[2], zz[2];
};
__device__ __forceinline__ TileScales TileScalesOf(uint2 raw) {
  TileScales t;
  W4ScaleZeroOf(raw.x, t.ss[0], t.zz[0]);
  W4ScaleZeroOf(raw.y, t.ss[1], t.zz[1]);
  return t;
}

// Word q of a lane's k16 fragment -> the A fragment of columns 16q..16q+15: nibble part p (and p + 4) is tile
// 2q + p / 2, k-half p % 2, i.e. register {0, 2, 1, 3}[p]; the same (q - zero) * scale as DequantW4Word.
__device__ __forceinline__ void DequantWordA(uint32_t word, const TileScales& s, uint32_t (&a)[4]) {
  constexpr int kReg[4] = {0, 2, 1, 3};
#pragma unroll
  for (int part = 0; part < 4; ++part) {
    const uint32_t bits = MaskedHalfMagic<kLowNibbles>(word >> (4 * part));
    const __half2 v = __hmul2(__hsub2(*reinterpret_cast<const __half2*>(&bits), s.zz[part / 2]), s.ss[part / 2]);
    a[kReg[part]] = *reinterpret_cast<const uint32_t*>(&v);
  }
}

template <int WG, int R, int STAGES>
__global__ void __launch_bounds__(Swapped<WG, R, STAGES>::kThreads, Swapped<WG, R, STAGES>::kMinCtasPerSm)
    SwappedKernel(W4A16GemmParams p) {
  using C = Swapped<WG, R, STAGES>;
  extern __shared__ __align__(128) unsigned char smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, wq = warp % 4;
  const int m0 = blockIdx.x * R;
  const int rows = min(R, p.m - m0);
  const int split = blockIdx.y;
  const int block = blockIdx.z * WG + warp / 4;
  const int steps = p.k / kW4StepK, groups = p.k / p.group;
  const int total_st = p.k / kW4StageK, st_per_group = p.group / kW4StageK;
  const int per_split = (total_st + p.splits - 1) / p.splits;
  const int st0 = min(total_st, split * per_split);
  const int nst = min(per_split, total_st - st0);

  // Rows past m stay zero in every slot: written once, never loaded.
  for (int i = threadIdx.x; i < STAGES * (R - rows) * (kW4StageK / 8); i += C::kThreads) {
    const int per_slot = (R - rows) * (kW4StageK / 8);
    const int n = rows + (i % per_slot) / (kW4StageK / 8), c = i % (kW4StageK / 8);
    *reinterpret_cast<uint4*>(smem + (i / per_slot) * C::kStageBytes + PieceOffset<R>(n, c)) = make_uint4(0, 0, 0, 0);
  }
  const __half* x_src = p.x + static_cast<int64_t>(m0) * p.ldx + static_cast<int64_t>(st0) * kW4StageK;
  const int block0 = blockIdx.z * WG;
  auto load_stage = [&](int st) {  // st relative to st0; empty past the range, but always one commit group
    if (st < nst) {
      unsigned char* slot = smem + (st % STAGES) * C::kStageBytes;
      for (int i = threadIdx.x; i < rows * (kW4StageK / 8); i += C::kThreads) {
        const int n = i / (kW4StageK / 8), c = i % (kW4StageK / 8);
        CpAsync16(slot + PieceOffset<R>(n, c), x_src + static_cast<int64_t>(n) * p.ldx + st * kW4StageK + 8 * c, true);
      }
      const int gst = st0 + st;
      for (int i = threadIdx.x; i < C::kWBytes / 16; i += C::kThreads) {
        const int b = i / (kW4StageWBytes / 16), o = i % (kW4StageWBytes / 16);
        CpAsync16(slot + C::kXBytes + i * 16,
                  reinterpret_cast<const uint4*>(p.qweight) +
                      (static_cast<int64_t>(block0 + b) * steps + gst * kW4StepsPerStage) * 32 + o,
                  true);
      }
      if (threadIdx.x < WG * kW4StageSBytes / 16) {
        const int b = threadIdx.x / (kW4StageSBytes / 16), o = threadIdx.x % (kW4StageSBytes / 16);
        const __half2* group_sz = p.scale_zero + (static_cast<int64_t>(block0 + b) * groups + gst / st_per_group) * 64;
        CpAsync16(slot + C::kXBytes + C::kWBytes + threadIdx.x * 16, reinterpret_cast<const uint4*>(group_sz) + o,
                  true);
      }
    }
    CpAsyncCommit();
  };

  for (int i = 0; i < STAGES - 2; ++i) load_stage(i);
  float acc[C::kAcc];
#pragma unroll
  for (int i = 0; i < C::kAcc; ++i) acc[i] = 0.f;
  uint32_t a[kUnroll][kW4StepsPerStage][4];
  const int wg = warp / 4;

  auto run_stage = [&](int st, uint32_t(&a)[kW4StepsPerStage][4]) {
    CpAsyncWait<STAGES - 3>();
    FenceProxyAsyncShared();  // this thread's cp.async writes, for wgmma's reads
    __syncthreads();          // stage st has landed; every warpgroup is past stage st - 2's wgmma
    load_stage(st + STAGES - 2);
    const unsigned char* slot = smem + (st % STAGES) * C::kStageBytes;
    // This warp's words (word wq of each lane's 16 bytes per k16 step) and its lane's two (scale, zero).
    const uint32_t* w = reinterpret_cast<const uint32_t*>(slot + C::kXBytes + wg * kW4StageWBytes) + lane * 4 + wq;
    const TileScales sc = TileScalesOf(*reinterpret_cast<const uint2*>(
        slot + C::kXBytes + C::kWBytes + wg * kW4StageSBytes + ((lane / 4) * 8 + 2 * wq) * 4));
    uint32_t words[kW4StepsPerStage];
#pragma unroll
    for (int s = 0; s < kW4StepsPerStage; ++s) words[s] = w[s * 32 * 4];
#pragma unroll
    for (int s = 0; s < kW4StepsPerStage; ++s) DequantWordA(words[s], sc, a[s]);
    // No other instruction touches acc until the last wait: one that did would serialize the wgmma (ptxas C7515).
    WgmmaFence();
#pragma unroll
    for (int s = 0; s < kW4StepsPerStage; ++s)
      WgmmaRows<R>(acc, a[s], WgmmaDescriptor(slot + s * C::kStepBytes, kCoreBytes, kRowGroupBytes));
    WgmmaCommit();
    WgmmaWait<1>();  // stage st - 1 is done: its A registers and (after the next barrier) its slot are free
  };
  // Two stages per trip, each with its own A registers (the wgmma of one runs while the next is dequantized).
  int st = 0;
  for (; st + 2 <= nst; st += 2) {
    run_stage(st, a[0]);
    run_stage(st + 1, a[1]);
  }
  if (st < nst) run_stage(st, a[0]);
  WgmmaWait<0>();
  WgmmaPin(acc);
  CpAsyncWait<0>();
  __syncthreads();

  // A lane holds (column c, rows 2t and 2t + 1 of each n8 tile) for c = 16 wq + g (+ 8); the neighbour lane g ^ 1
  // swaps one value so that each lane holds two adjacent columns of one row: even g row 2t, odd g row 2t + 1.
  const int g = lane / 4, t = lane % 4, odd = g & 1;
  auto for_each_pair = [&](auto&& fn) {
#pragma unroll
    for (int i = 0; i < R / 8; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const float e0 = acc[4 * i + 2 * h], e1 = acc[4 * i + 2 * h + 1];
        const float got = __shfl_xor_sync(0xffffffffu, odd ? e0 : e1, 4);
        const int row = m0 + 8 * i + 2 * t + odd;
        if (row < p.m) fn(row, block * kW4BlockN + 16 * wq + 8 * h + (g & ~1), odd ? got : e0, odd ? e1 : got);
      }
  };
  W4StoreTile(p, split, blockIdx.z * gridDim.x + blockIdx.x, true, for_each_pair);
}

template <int WG, int R, int STAGES>
void Launch(const W4A16GemmParams& p, cudaStream_t stream) {
  using C = Swapped<WG, R, STAGES>;
  const dim3 grid((p.m + R - 1) / R, p.splits, p.n / (kW4BlockN * WG));
  LaunchW4Kernel<SwappedKernel<WG, R, STAGES>>(p, grid, C::kThreads, C::kSmemBytes, stream);
}

constexpr W4A16GemmKind kW = W4A16GemmKind::kWide;
// {kind, mw = 1, mt = R / 16, nw = warpgroups (column blocks), sk = 1, stages, swapped}; shared memory per CTA (KB).
constexpr W4A16GemmEntry kEntries[] = {
    {{kW, 1, 4, 1, 1, 5, true}, Launch<1, 64, 5>},   // 51
    {{kW, 1, 4, 2, 1, 5, true}, Launch<2, 64, 5>},   // 63
    {{kW, 1, 4, 2, 1, 8, true}, Launch<2, 64, 8>},   // 100
    {{kW, 1, 8, 2, 1, 4, true}, Launch<2, 128, 4>},  // 82
};

}  // namespace

const W4A16GemmEntry* W4A16WideSwappedEntries(int* count) {
  *count = static_cast<int>(std::size(kEntries));
  return kEntries;
}

}  // namespace inference::cuda
