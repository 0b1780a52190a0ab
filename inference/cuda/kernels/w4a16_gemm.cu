// The W4A16 tensor-core GEMM of kind kNarrow over the kernel layout (w4a16.h): any row count; linear.h gives it the
// decode rows of steps of up to 32 sequences (kWide: w4a16_wide.cu). At such row counts streaming the weights is all
// that matters, so the weights go from global memory straight into registers and every instruction per weight
// counts.
//
// The operands are swapped: mma.m16n8k16's A is 16 weight columns x k16 (one packed word of a lane's fragment, w4a16.h's
// layout being B's fragment order, which is A's for the transposed product), B is k16 x 8 activation rows. A CTA of
// four warps owns one 64-column block, 8*MX rows (MX n8 tiles) and one of `splits` ranges of whole groups; warp w
// takes the w-th quarter of the range. Per 64-k unit a warp loads its four fragments (16 B per lane each) into
// registers (kWBuf units in flight) or, in the second variant, into a per-warp shared-memory ring filled by bulk
// copies (kTmaUnits or kTmaUnitsShort in flight); the activations come through a per-warp ring; it runs 4*MX mma
// per fragment on (q - zero), which is exact in fp16 (w4a16_fragment.cuh), and the scale multiplies each group's fp32
// sum.
//
// Reduction order, the same for every row count and config: per output, each group's k16 steps in order from zero,
// times the group's scale, added to the warp's sum in group order; the four warps' sums added w = 0, 1, 2, 3; the
// splits' sums added in split order by the first CTA of the tile's cluster, through distributed shared memory (the
// workspace and counters of W4A16GemmParams are not used). Only MX and the weight pipeline, which never change a
// row's arithmetic, follow the row count.
//
// With silu_mul (gate and up interleaved in runs of 32 columns, so a lane's tiles 0-1 and 2-3 are the gate and up
// values of the same outputs) the tile's store is SiLU(gate) * up instead (silu.cuh), the bits SiluMul would give.
//
// With a norm input (W4A16NormInput, one row, bulk-copy kernels) the activations are not copied: every CTA
// computes the norm's output for its K range into shared memory first (NormPrologue, rms_norm.cuh's order).
//
// Programmatic dependent launch (pdl.cuh): the first units' weights and scales are requested before PdlWait, while
// the kernel before is finishing.
#include <algorithm>
#include <iterator>

#include <cooperative_groups.h>

#include "inference/cuda/kernels/load.cuh"
#include "inference/cuda/kernels/pdl.cuh"
#include "inference/cuda/kernels/silu.cuh"
#include "inference/cuda/kernels/w4a16_fragment.cuh"
#include "inference/cuda/kernels/w4a16_norm_input.cuh"
#include "inference/cuda/kernels/w4a16_entries.h"

namespace inference::cuda {
namespace {

constexpr int kKWarps = kW4NarrowKWarps;
constexpr int kUnitK = kW4StageK;                // a warp's pipeline unit: 64 k, four k16 fragments
constexpr int kUnitSteps = kUnitK / kW4StepK;
constexpr int kXRowHalves = kUnitK + 8;          // a unit's activation row, padded: ldmatrix rows on distinct banks
constexpr int kXRing = 4;                        // activation units per warp: loaded two ahead
constexpr int kWBuf = kW4NarrowWBuf;
constexpr int kGroupUint4 = 64 * 4 / 16;         // one (column block, group)'s scale_zero

template <int MX>
struct Narrow {
  static constexpr int kThreads = 32 * kKWarps;
  static constexpr int kRows = 8 * MX;
  static constexpr int kAcc = 4 * MX * 4;  // a lane's fp32 sums: 4 words x MX tiles x 4
  static constexpr int kXBufHalves = kRows * kXRowHalves;
  static constexpr int kRingBytes = kXRing * kXBufHalves * 2;
  static constexpr int kInboxBytes = 32 * kAcc / 2 * 8;  // the float2 results of one split past the first, in rank
                                                         // 0's shared memory (SplitInbox)
  static constexpr int kSmemBytes = kKWarps * kRingBytes;  // the warps' rings, then each warp's sums (NarrowFinish)
  static constexpr int kMinCtasPerSm = MX == 1 ? 4 : MX == 2 ? 3 : 2;  // registers: 128, 168, 255 per thread
};

// The CTA's tile and K range [k0, k1), the warp's whole groups: [g0, g1), units [u0, u0 + nunits).
struct WarpRange {
  int row0, rows, split, block, groups, units_per_group, k0, k1, g0, g1, u0, nunits;
  __device__ WarpRange(const W4A16GemmParams& p, int rows_per_tile, int warp) {
    row0 = blockIdx.x * rows_per_tile;
    rows = min(rows_per_tile, p.m - row0);
    split = blockIdx.y, block = blockIdx.z;
    groups = p.k / p.group, units_per_group = p.group / kUnitK;
    const int per_split = (groups + p.splits - 1) / p.splits;
    const int cta_g0 = min(groups, split * per_split), cta_g1 = min(groups, cta_g0 + per_split);
    k0 = cta_g0 * p.group, k1 = cta_g1 * p.group;
    const int per_warp = (cta_g1 - cta_g0 + kKWarps - 1) / kKWarps;
    g0 = min(cta_g1, cta_g0 + warp * per_warp), g1 = min(cta_g1, g0 + per_warp);
    u0 = g0 * units_per_group, nunits = (g1 - g0) * units_per_group;
  }
};

// A warp's arithmetic: each unit's four fragments against the unit's activations, the group sums scaled into acc.
template <int MX>
struct NarrowMath {
  float acc[4][MX][4], sum[4][MX][4];
  W4CenteredScales sc;

  __device__ void Zero() {
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int mx = 0; mx < MX; ++mx)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[j][mx][e] = sum[j][mx][e] = 0.f;
  }
  // x: the shared address of the unit's activations, rows of kXRowHalves; x_off: XRowOffsets. last: the unit ends a
  // group, whose sums are then scaled into acc and start again from zero.
  __device__ __forceinline__ void Unit(const uint4 (&w)[kUnitSteps], uint32_t x, const uint32_t (&x_off)[MX],
                                       bool last) {
#pragma unroll
    for (int f = 0; f < kUnitSteps; f += 2) {
      uint32_t b[MX][4];  // steps f and f + 1: (b0, b1) of each
#pragma unroll
      for (int mx = 0; mx < MX; ++mx) LdMatrixX4(b[mx], x + x_off[mx] + 2 * kW4StepK * f);
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const uint32_t words[4] = {w[f + h].x, w[f + h].y, w[f + h].z, w[f + h].w};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          uint32_t a[4];
          DequantW4WordCentered(words[j], sc, j, a);
#pragma unroll
          for (int mx = 0; mx < MX; ++mx) {
            MmaM16N8K16(sum[j][mx], a, b[mx][2 * h], b[mx][2 * h + 1]);
          }
        }
      }
    }
    if (last) {
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int mx = 0; mx < MX; ++mx)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            acc[j][mx][e] = fmaf(sum[j][mx][e], sc.s[2 * j + e / 2], acc[j][mx][e]);
            sum[j][mx][e] = 0.f;
          }
    }
  }
};

// The lane's ldmatrix row of each n8 tile of a unit's activations, as byte offsets: of the rows [0, rows) that were
// loaded; the tile's rows past them read the last loaded row again (their sums are never stored), so nothing unloaded
// is read.
template <int MX>
__device__ __forceinline__ void XRowOffsets(int rows, int lane, uint32_t (&x_off)[MX]) {
#pragma unroll
  for (int mx = 0; mx < MX; ++mx) x_off[mx] = 2 * (min(8 * mx + lane % 8, rows - 1) * kXRowHalves + 8 * (lane / 8));
}

// Where a warp is in its groups, advanced unit by unit (a division per unit costs as much as a tenth of the unit's
// arithmetic): in_group counts the current group's units, next is the group whose scales are loaded next.
struct GroupCursor {
  int in_group = 0, next;
  __device__ explicit GroupCursor(int g0) : next(g0 + 1) {}
  __device__ __forceinline__ bool Last(const WarpRange& r) const { return in_group == r.units_per_group - 1; }
  __device__ __forceinline__ void Advance(const WarpRange& r) {
    if (++in_group == r.units_per_group) in_group = 0, ++next;
  }
};

// The lane's 32 bytes of scale_zero for column block `block` (group g at + g * kGroupUint4).
__device__ __forceinline__ const uint4* ScaleSource(const W4A16GemmParams& p, const WarpRange& r, int lane) {
  return reinterpret_cast<const uint4*>(p.scale_zero) + static_cast<int64_t>(r.block) * r.groups * kGroupUint4 +
         (lane / 4) * 2;
}

// Split K's reduction (the CTAs of a tile's K ranges form a cluster, LaunchPdlClusters; at most kW4MaxSplits = 8, the
// portable cluster size): each rank past the first writes its results into rank 0's inbox, after the kernel's own
// shared memory, and arrives on rank 0's mbarrier; rank 0 waits for them and adds them in rank order, the order of
// the ranges. Nobody reads another CTA's shared memory, so the other ranks exit as soon as they have written. Start()
// before the main loop: rank 0 initializes the mbarrier and every thread arrives on the cluster barrier;
// NarrowFinish waits on it (long done by then) before writing into rank 0.
struct SplitInbox {
  uint64_t* bar;  // in every CTA's shared memory; rank 0's is used
  unsigned char* slots;
  int splits;
  __device__ void Start() const {
    if (splits < 2) return;
    if (threadIdx.x == 0 && blockIdx.y == 0) {
      MbarInit(bar, (splits - 1) * kKWarps * 32);
      FenceMbarInit();
    }
    ClusterArriveRelaxed();
  }
};

// After the warp's last use of its own shared memory (kRegion bytes at smem + warp * kRegion, its ring; the other
// warps may still be in their loops): the warps' sums added in warp order, then the tile stored. The tile's stores
// are shared out among the warps: warp w adds, hands over (split K) and stores its own items (a pair of adjacent
// columns of one row each; with silu_mul a gate pair and its up pair), so the epilogue's arithmetic runs on every
// scheduler of the SM.
template <int MX, int kRegion>
__device__ __forceinline__ void NarrowFinish(const W4A16GemmParams& p, const WarpRange& r, float (&acc)[4][MX][4],
                                             unsigned char* smem, const SplitInbox& inbox, int warp, int lane) {
  constexpr int kAcc = Narrow<MX>::kAcc;
  static_assert(kRegion % 16 == 0 && kRegion >= kAcc * 32 * 4, "a warp's sums fit in its region");
  constexpr int kPairs = 4 * MX * 2;  // pairs[j][mx][half]: acc[j][mx][2 half], acc[j][mx][2 half + 1]
  const float* flat = &acc[0][0][0];
  {
    float* mine = reinterpret_cast<float*>(smem + warp * kRegion);
#pragma unroll
    for (int i = 0; i < kAcc; ++i) mine[i * 32 + lane] = flat[i];
  }
  __syncthreads();
  auto red = [&](int w2, int e) { return reinterpret_cast<const float*>(smem + w2 * kRegion)[e * 32 + lane]; };
  // A pair's two sums, the warps added in order (w = 0, 1, 2, 3). A lane holds (column c, rows 2t and 2t + 1) for
  // c = 16j + g and 16j + 8 + g; the neighbour lane g ^ 1 swaps one value so that each lane holds two adjacent
  // columns of one row: even g row 2t, odd g row 2t + 1.
  const int g = lane / 4, t = lane % 4, odd = g & 1;
  auto pair_of = [&](int i) {
    float e[2];
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      e[c] = red(0, 2 * i + c);
#pragma unroll
      for (int w2 = 1; w2 < kKWarps; ++w2) e[c] += red(w2, 2 * i + c);
    }
    const float got = __shfl_xor_sync(0xffffffffu, odd ? e[0] : e[1], 4);
    return odd ? make_float2(got, e[1]) : make_float2(e[0], got);
  };
  // The warp's items: with silu_mul gate pairs i (tiles j = 0, 1) with their up pairs i + kPairs / 2 (j = 2, 3).
  const bool silu = p.silu_mul;
  const int items = silu ? kPairs / 2 : kPairs, per_warp = items / kKWarps, item0 = warp * per_warp;
  constexpr int kMaxPerWarp = kPairs / kKWarps;
  float2 mine[2][kMaxPerWarp];  // [gate or plain, up][item]
#pragma unroll
  for (int k = 0; k < kMaxPerWarp; ++k)
    if (k < per_warp) {
      mine[0][k] = pair_of(item0 + k);
      mine[1][k] = silu ? pair_of(item0 + k + kPairs / 2) : make_float2(0.f, 0.f);
    }
  // Split K (SplitInbox): the ranks past the first hand their results to rank 0, which adds them in rank order and
  // stores the tile.
  auto pair_index = [&](int k, int part) { return item0 + k + part * (kPairs / 2); };
  if (p.splits > 1) {
    ClusterWait();  // rank 0's mbarrier is initialized
    const int rank = blockIdx.y;  // the cluster spans the grid's y, one rank per K range
    if (rank > 0) {
      float2* slot = cooperative_groups::this_cluster().map_shared_rank(
          reinterpret_cast<float2*>(inbox.slots) + (rank - 1) * kPairs * 32, 0);
#pragma unroll
      for (int k = 0; k < kMaxPerWarp; ++k)
#pragma unroll
        for (int part = 0; part < 2; ++part)
          if (k < per_warp && (part == 0 || silu)) slot[pair_index(k, part) * 32 + lane] = mine[part][k];
      MbarArriveRemote(inbox.bar, 0);
      return;
    }
    MbarWaitCluster(inbox.bar, 0);
    for (int s = 1; s < p.splits; ++s) {
      const float2* theirs = reinterpret_cast<const float2*>(inbox.slots) + (s - 1) * kPairs * 32;
#pragma unroll
      for (int k = 0; k < kMaxPerWarp; ++k)
#pragma unroll
        for (int part = 0; part < 2; ++part)
          if (k < per_warp && (part == 0 || silu)) {
            const float2 o = theirs[pair_index(k, part) * 32 + lane];
            mine[part][k].x += o.x;
            mine[part][k].y += o.y;
          }
    }
  }
  // Pair i is pairs[j][mx][half]: rows 8 mx + 2t + odd, columns 16 j + 8 half + (g & ~1) of the block.
#pragma unroll
  for (int k = 0; k < kMaxPerWarp; ++k) {
    if (k >= per_warp) break;
    const int i = item0 + k, j = i / (2 * MX), mx = i / 2 % MX, half = i % 2;
    const int row = r.row0 + 8 * mx + 2 * t + odd;
    if (row >= p.m) continue;
    if (silu) {  // tiles j = 0, 1 are gate columns, j = 2, 3 the up columns of the same outputs
      const __half2 gate = __floats2half2_rn(mine[0][k].x, mine[0][k].y);
      const __half2 up = __floats2half2_rn(mine[1][k].x, mine[1][k].y);
      *reinterpret_cast<__half2*>(p.y + static_cast<int64_t>(row) * p.ldy + r.block * (kW4BlockN / 2) + (g & ~1) +
                                  16 * j + 8 * half) =
          __halves2half2(SiluMulOf(__low2half(gate), __low2half(up)), SiluMulOf(__high2half(gate), __high2half(up)));
    } else {
      *reinterpret_cast<__half2*>(p.y + static_cast<int64_t>(row) * p.ldy + r.block * kW4BlockN + (g & ~1) + 16 * j +
                                  8 * half) = __floats2half2_rn(mine[0][k].x, mine[0][k].y);
    }
  }
}

// Rows past m of a warp's activation buffers stay zero: written once, never loaded.
__device__ __forceinline__ void ZeroPastRows(__half* first_buf, int buf_stride_halves, int bufs, int rows,
                                             int rows_per_tile, int lane) {
  const int per_buf = (rows_per_tile - rows) * kXRowHalves / 8;
  for (int i = lane; i < bufs * per_buf; i += 32)
    reinterpret_cast<uint4*>(first_buf + (i / per_buf) * buf_stride_halves + rows * kXRowHalves)[i % per_buf] =
        make_uint4(0, 0, 0, 0);
}

// Variant 1: weights streamed into registers (kWBuf units per warp), activations through a per-warp cp.async ring.
template <int MX>
__global__ void __launch_bounds__(Narrow<MX>::kThreads, Narrow<MX>::kMinCtasPerSm) NarrowKernel(W4A16GemmParams p) {
  using C = Narrow<MX>;
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ __align__(8) uint64_t inbox_bar;
  const SplitInbox inbox{&inbox_bar, smem + C::kSmemBytes, p.splits};
  inbox.Start();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const WarpRange r(p, C::kRows, warp);
  const int nunits = r.nunits;

  // Weights and the first group's scales: nothing writes them, so they are requested before PdlWait.
  const uint4* w_src = reinterpret_cast<const uint4*>(p.qweight) +
                       (static_cast<int64_t>(r.block) * (p.k / kW4StepK) + r.u0 * kUnitSteps) * 32 + lane;
  auto load_unit = [&](uint4(&w)[kUnitSteps], int u) {
#pragma unroll
    for (int f = 0; f < kUnitSteps; ++f) w[f] = LoadStream(w_src + (u * kUnitSteps + f) * 32);
  };
  const uint4* s_src = ScaleSource(p, r, lane);
  uint4 w[kWBuf][kUnitSteps];
#pragma unroll
  for (int i = 0; i < kWBuf; ++i)
    if (i < nunits) load_unit(w[i], i);
  uint4 s_raw[2] = {};
  if (nunits > 0) s_raw[0] = s_src[r.g0 * kGroupUint4], s_raw[1] = s_src[r.g0 * kGroupUint4 + 1];

  __half* ring = reinterpret_cast<__half*>(smem + warp * C::kRingBytes);
  ZeroPastRows(ring, C::kXBufHalves, kXRing, r.rows, C::kRows, lane);

  PdlWait();
  PdlLaunchDependents();  // the next kernel may take its place as this one drains
  const __half* x_src = p.x + static_cast<int64_t>(r.row0) * p.ldx + static_cast<int64_t>(r.u0) * kUnitK;
  auto load_x = [&](int u) {
    if (u < nunits) {
      __half* dst = ring + (u % kXRing) * C::kXBufHalves;
      for (int c = lane; c < r.rows * (kUnitK / 8); c += 32) {
        const int row = c / (kUnitK / 8), col = c % (kUnitK / 8);
        CpAsync16(dst + row * kXRowHalves + 8 * col, x_src + row * p.ldx + u * kUnitK + 8 * col, true);
      }
    }
    CpAsyncCommit();
  };
  load_x(0);
  load_x(1);

  NarrowMath<MX> math;
  math.Zero();
  GroupCursor at(r.g0);
  const uint32_t ring_s = SmemAddr(ring);
  uint32_t x_off[MX];
  XRowOffsets<MX>(C::kRows, lane, x_off);
  auto process = [&](const uint4(&wu)[kUnitSteps], int u) {
    CpAsyncWait<1>();
    __syncwarp();  // unit u's activations are visible to the warp; everyone is done with the buffer load_x refills
    load_x(u + 2);
    if (at.in_group == 0) {
      math.sc = W4CenteredScalesOf(s_raw);
      if (at.next < r.g1) s_raw[0] = s_src[at.next * kGroupUint4], s_raw[1] = s_src[at.next * kGroupUint4 + 1];
    }
    math.Unit(wu, ring_s + (u % kXRing) * C::kXBufHalves * 2, x_off, at.Last(r));
    at.Advance(r);
  };
  for (int u = 0; u < nunits; u += kWBuf) {
#pragma unroll
    for (int i = 0; i < kWBuf; ++i) {
      if (u + i < nunits) {
        process(w[i], u + i);
        if (u + i + kWBuf < nunits) load_unit(w[i], u + i + kWBuf);
      }
    }
  }
  CpAsyncWait<0>();
  __syncwarp();  // the lanes' copies into the warp's ring are done
  NarrowFinish<MX, C::kRingBytes>(p, r, math.acc, smem, inbox, warp, lane);
}

// Variant 2: each warp keeps U units in flight in a shared-memory ring filled by bulk copies (the tensor memory
// accelerator; one mbarrier per slot): a unit's 2 KB of weights by one lane and its activation rows by one lane each;
// in the refills one elected lane (ElectOne, warp-uniform operands) copies the weights and the first row.
// A slot holds XR activation rows: the tile's 8 * MX, or 1 for launches of one row (a third less shared memory per
// CTA; the tile's other rows read that row again, Unit's clamp).
template <int MX, int U, int XR = 8 * MX>
struct NarrowTma {
  static constexpr int kXBytes = XR * kXRowHalves * 2;
  static constexpr int kSlotBytes = kUnitSteps * kW4FragmentBytes + kXBytes;
  static constexpr int kWarpBytes = U * kSlotBytes;
  static constexpr int kSmemBytes = kKWarps * kWarpBytes;  // the warps' rings, then each warp's sums (NarrowFinish)
  static constexpr int kMinCtasPerSm = std::min(4, (227 * 1024) / (kSmemBytes + 1024));
};

// kNorm: one row whose input is the norm's (NormPrologue, W4A16NormInput), in shared memory after the inbox;
// no activation copies.
template <int MX, int U, int XR, bool kNorm>
__device__ __forceinline__ void NarrowTmaBody(const W4A16GemmParams& p, const W4A16NormInput& n) {
  using T = NarrowTma<MX, U, XR>;
  static_assert(!kNorm || (MX == 1 && XR == 1), "the norm input is one row");
  extern __shared__ __align__(128) unsigned char smem[];
  __shared__ __align__(8) uint64_t bars[kKWarps][U];
  __shared__ __align__(8) uint64_t inbox_bar;
  const SplitInbox inbox{&inbox_bar, smem + T::kSmemBytes, p.splits};
  inbox.Start();
  // The warp index broadcast from lane 0: the compiler then knows it (and the ring's addresses) is warp-uniform.
  const int warp = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x / 32), 0), lane = threadIdx.x % 32;
  const WarpRange r(p, 8 * MX, warp);
  const int nunits = r.nunits;
  // The warp's ring and mbarriers as shared addresses: slot i at ring + i * kSlotBytes (its weights, then its
  // activation rows), its mbarrier at bar + 8 i.
  const uint32_t ring = SmemAddr(smem + warp * T::kWarpBytes), bar = SmemAddr(bars[warp]);
  if (lane == 0) {
#pragma unroll
    for (int i = 0; i < U; ++i) MbarInit(&bars[warp][i], 1);
    FenceMbarInit();
  }
  __syncwarp();
  constexpr int kUnitWBytes = kUnitSteps * kW4FragmentBytes;
  const uint32_t slot_bytes = kUnitWBytes + (kNorm ? 0 : r.rows * kUnitK * 2);
  const unsigned char* w_next =
      reinterpret_cast<const unsigned char*>(p.qweight) +
      (static_cast<int64_t>(r.block) * (p.k / kW4StepK) + r.u0 * kUnitSteps) * kW4FragmentBytes;
  // Weights of the first U units and the first group's scales, before PdlWait (nothing writes them).
  if (ElectOne()) {
#pragma unroll
    for (int i = 0; i < U; ++i)
      if (i < nunits) {
        MbarArriveExpectTx(bar + 8 * i, slot_bytes);
        BulkCopyToShared(ring + i * T::kSlotBytes, w_next + i * kUnitWBytes, kUnitWBytes, bar + 8 * i);
      }
  }
  w_next += U * kUnitWBytes;
  const uint4* s_src = ScaleSource(p, r, lane);
  uint4 s_raw[2] = {};
  if (nunits > 0) s_raw[0] = s_src[r.g0 * kGroupUint4], s_raw[1] = s_src[r.g0 * kGroupUint4 + 1];
  NormPrologue<Narrow<MX>::kThreads> norm;
  if constexpr (kNorm) norm.Load(n, p.k, r.k0, r.k1);

  PdlWait();
  PdlLaunchDependents();  // the next kernel may take its place as this one drains
  __half* xs = reinterpret_cast<__half*>(smem + T::kSmemBytes + (p.splits - 1) * Narrow<MX>::kInboxBytes);
  if constexpr (kNorm) {
    __shared__ float norm_sums[kRmsWarps];
    norm.Run(n, p.k, r.k0, r.k1, xs, norm_sums);
  }
  // The unit's activations: in its slot, or (kNorm) at the unit's k in xs.
  const uint32_t xs_unit0 = SmemAddr(xs) + (r.u0 * kUnitK - r.k0) * 2;
  // Each unit's activation rows into its slot: the first by one elected lane (warp-uniform operands, as in the
  // refills), row `lane` by lane 1.. .
  const __half* x_next = p.x + static_cast<int64_t>(r.row0 + lane) * p.ldx + static_cast<int64_t>(r.u0) * kUnitK;
  const __half* x_next0 = p.x + static_cast<int64_t>(r.row0) * p.ldx + static_cast<int64_t>(r.u0) * kUnitK;
  const uint32_t x_dst = ring + kUnitWBytes + lane * kXRowHalves * 2, x_row0 = ring + kUnitWBytes;
  if (!kNorm && ElectOne()) {
#pragma unroll
    for (int i = 0; i < U; ++i)
      if (i < nunits) BulkCopyToShared(x_row0 + i * T::kSlotBytes, x_next0 + i * kUnitK, kUnitK * 2, bar + 8 * i);
  }
  if (XR > 1 && lane > 0 && lane < r.rows)
    for (int i = 0; i < U && i < nunits; ++i)
      BulkCopyToShared(x_dst + i * T::kSlotBytes, x_next + i * kUnitK, kUnitK * 2, bar + 8 * i);
  x_next += U * kUnitK;
  x_next0 += U * kUnitK;

  NarrowMath<MX> math;
  math.Zero();
  GroupCursor at(r.g0);
  uint32_t x_off[MX];
  XRowOffsets<MX>(r.rows, lane, x_off);
  // Rounds of U units, one per slot (compile-time slot addresses); each slot is refilled with the unit U ahead.
  for (int u0 = 0, parity = 0; u0 < nunits; u0 += U, parity ^= 1) {
#pragma unroll
    for (int s = 0; s < U; ++s) {
      if (u0 + s >= nunits) break;
      if (at.in_group == 0) {
        math.sc = W4CenteredScalesOf(s_raw);
        if (at.next < r.g1) s_raw[0] = s_src[at.next * kGroupUint4], s_raw[1] = s_src[at.next * kGroupUint4 + 1];
      }
      const uint32_t slot = ring + s * T::kSlotBytes;
      MbarWait(bar + 8 * s, parity);
      uint4 w[kUnitSteps];
#pragma unroll
      for (int f = 0; f < kUnitSteps; ++f) w[f] = LdShared128(slot + f * kW4FragmentBytes + lane * 16);
      math.Unit(w, kNorm ? xs_unit0 + (u0 + s) * kUnitK * 2 : slot + kUnitWBytes, x_off, at.Last(r));
      at.Advance(r);
      __syncwarp();  // every lane is done with the slot before it is refilled
      if (u0 + s + U < nunits) {
        // One elected lane copies the weights and the first row (warp-uniform operands), lanes 1.. their rows.
        if (ElectOne()) {
          MbarArriveExpectTx(bar + 8 * s, slot_bytes);
          BulkCopyToShared(slot, w_next, kUnitWBytes, bar + 8 * s);
          if (!kNorm) BulkCopyToShared(x_row0 + s * T::kSlotBytes, x_next0, kUnitK * 2, bar + 8 * s);
        }
        if (XR > 1 && lane > 0 && lane < r.rows)
          BulkCopyToShared(x_dst + s * T::kSlotBytes, x_next, kUnitK * 2, bar + 8 * s);
      }
      w_next += kUnitWBytes;
      x_next += kUnitK;
      x_next0 += kUnitK;
    }
  }
  NarrowFinish<MX, T::kWarpBytes>(p, r, math.acc, smem, inbox, warp, lane);
}

// The kernels' parameters are kept small (the norm input only where it is used): engine steps at 32 rows took 0.1 ms
// longer with 40 more bytes in W4A16GemmParams, unused (bench/RESULTS.md, thirteenth round).
template <int MX, int U, int XR>
__global__ void __launch_bounds__(Narrow<MX>::kThreads, NarrowTma<MX, U, XR>::kMinCtasPerSm)
    NarrowTmaKernel(W4A16GemmParams p) {
  NarrowTmaBody<MX, U, XR, false>(p, W4A16NormInput{});
}

template <int U>
__global__ void __launch_bounds__(Narrow<1>::kThreads, NarrowTma<1, U, 1>::kMinCtasPerSm)
    NarrowTmaNormKernel(W4A16GemmParams p, W4A16NormInput n) {
  NarrowTmaBody<1, U, 1, true>(p, n);
}

template <int MX>
void Launch(const W4A16GemmParams& p, cudaStream_t stream) {
  using C = Narrow<MX>;
  auto* kernel = NarrowKernel<MX>;
  static const cudaError_t attr = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                       C::kSmemBytes + (kW4MaxSplits - 1) * C::kInboxBytes);
  (void)attr;  // a failure here surfaces as the launch error the caller checks
  const dim3 grid((p.m + C::kRows - 1) / C::kRows, p.splits, p.n / kW4BlockN);
  LaunchPdlClusters(kernel, grid, dim3(C::kThreads), C::kSmemBytes + (p.splits - 1) * C::kInboxBytes, stream,
                    p.splits, p);
}

// A launch with a norm input (one row): the kNorm kernel of ring depth U, its input after the inbox.
template <int U>
void LaunchTmaNorm(const W4A16GemmParams& p, const W4A16NormInput& n, cudaStream_t stream) {
  using T = NarrowTma<1, U, 1>;
  auto* kernel = NarrowTmaNormKernel<U>;
  constexpr int kInbox = Narrow<1>::kInboxBytes;
  static const cudaError_t attr = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                       T::kSmemBytes + (kW4MaxSplits - 1) * kInbox + kW4NormMaxK * 2);
  (void)attr;  // a failure here surfaces as the launch error the caller checks
  const int groups = p.k / p.group, per_split = (groups + p.splits - 1) / p.splits;
  LaunchPdlClusters(kernel, dim3(1, p.splits, p.n / kW4BlockN), dim3(Narrow<1>::kThreads),
                    T::kSmemBytes + (p.splits - 1) * kInbox + per_split * p.group * 2, stream, p.splits, p, n);
}

template <int MX, int U, int XR = 8 * MX>
void LaunchTma(const W4A16GemmParams& p, cudaStream_t stream) {
  if constexpr (XR < 8 * MX) {
    if (p.m > XR) return LaunchTma<MX, U, 8 * MX>(p, stream);  // the same arithmetic with whole tiles of rows
  }
  using T = NarrowTma<MX, U, XR>;
  auto* kernel = NarrowTmaKernel<MX, U, XR>;
  constexpr int kInbox = Narrow<MX>::kInboxBytes;
  static const cudaError_t attr = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                       T::kSmemBytes + (kW4MaxSplits - 1) * kInbox);
  (void)attr;  // a failure here surfaces as the launch error the caller checks
  const dim3 grid((p.m + 8 * MX - 1) / (8 * MX), p.splits, p.n / kW4BlockN);
  LaunchPdlClusters(kernel, grid, dim3(Narrow<MX>::kThreads), T::kSmemBytes + (p.splits - 1) * kInbox, stream,
                    p.splits, p);
}

constexpr W4A16GemmKind kN = W4A16GemmKind::kNarrow;
// Every kNarrow shape the dispatcher or the benchmark may pick: {kind, mw, mt = MX, nw, sk, stages, -, x_rows}.
// Shared memory per CTA: 18, 36 and 72 KB (registers); 51, 38 and 26 KB (ring of 4 x 8, 3 x 8 and 3 x 1 activation
// rows).
constexpr int kTmaUnits = kW4NarrowTmaUnits, kTmaUnitsShort = kW4NarrowTmaUnitsShort;
constexpr W4A16GemmEntry kNarrowEntries[] = {
    {{kN, 1, 1, 1, 1, kWBuf}, Launch<1>},
    {{kN, 1, 2, 1, 1, kWBuf}, Launch<2>},
    {{kN, 1, 4, 1, 1, kWBuf}, Launch<4>},
    {{kN, 1, 1, 1, 1, kTmaUnits}, LaunchTma<1, kTmaUnits>, LaunchTmaNorm<kTmaUnits>},
    {{kN, 1, 1, 1, 1, kTmaUnitsShort}, LaunchTma<1, kTmaUnitsShort>, LaunchTmaNorm<kTmaUnitsShort>},
    {{kN, 1, 1, 1, 1, kTmaUnitsShort, false, 1}, LaunchTma<1, kTmaUnitsShort, 1>, LaunchTmaNorm<kTmaUnitsShort>},
};

}  // namespace

const W4A16GemmEntry* W4A16NarrowEntries(int* count) {
  *count = static_cast<int>(std::size(kNarrowEntries));
  return kNarrowEntries;
}

}  // namespace inference::cuda
