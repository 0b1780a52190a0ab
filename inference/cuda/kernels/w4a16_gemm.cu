// The W4A16 tensor-core GEMM of kind kNarrow over the kernel layout (w4a16.h): any row count; linear.h gives it the
// decode rows of steps of up to 32 sequences (kWide: w4a16_wide.cu).
//
// A CTA owns a tile of 16*MT rows x 64*NW columns and one of `splits` ranges of K. Its warps form a 4 (along K) x NW
// (along N) grid: in each 64-k sub-stage (one group's scales), warp (kw, nw) takes k16 step kw of column block nw,
// dequantizes its B fragments in registers (w4a16_fragment.cuh) and runs MT x 8 mma.sync.m16n8k16. Weights, scales
// and activations reach shared memory through a STAGES-deep cp.async pipeline of SK sub-stages each, so at batch 1 a
// CTA keeps (STAGES - 1) * SK * 2 KB of weights in flight (bench/RESULTS.md has what it reaches and what limits it).
//
// Reduction order, the same for every row count: each warp accumulates its k16 steps in order; the four K-warps'
// sums are added kw = 0, 1, 2, 3; the splits' partials (fp32, workspace) are added in split order by the tile's last
// CTA. Only the CTA shape (MT, NW, SK, STAGES: W4A16GemmConfig), which never changes a row's arithmetic, follows the
// row count.
#include <algorithm>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/w4a16_fragment.cuh"
#include "inference/cuda/kernels/w4a16_store.cuh"
#include "inference/cuda/kernels/w4a16_wide.h"

namespace inference::cuda {
namespace {

constexpr int kKWarps = kW4StepsPerStage;  // 4 warps along K, one k16 step each per 64-k sub-stage
constexpr int kWSubBytes = kW4StageWBytes;  // one column block's weights per 64-k sub-stage: 2 KB
constexpr int kSSubBytes = kW4StageSBytes;  // one column block's (scale, zero) of one group
constexpr int kNarrowCtasPerSmAtOneRow = 3;  // kNarrow's splits aim at this many CTAs per SM for one row
constexpr int kWideRefCols = 128;            // kWide's splits aim at one CTA per SM for 128-column tiles

// MT m16 tiles per warp, NW column blocks per CTA, SK 64-k sub-stages per pipeline stage, STAGES stages in flight.
template <int MT, int NW, int SK, int STAGES>
struct Config {
  static constexpr int kThreads = 32 * kKWarps * NW;
  static constexpr int kRows = 16 * MT;
  static constexpr int kARowHalves = SK * kW4StageK + 8;  // padded: ldmatrix rows land on distinct banks
  static constexpr int kWBytes = NW * SK * kWSubBytes;
  static constexpr int kSBytes = NW * SK * kSSubBytes;
  static constexpr int kAStageBytes = kRows * kARowHalves * 2;
  static constexpr int kStageBytes = kWBytes + kSBytes + kAStageBytes;
  static constexpr int kReduceBytes = NW * (kKWarps - 1) * 32 * 32 * 4;  // one m16 tile of three K-warps
  static constexpr int kSmemBytes = std::max(STAGES * kStageBytes, kReduceBytes);
  static_assert(NW * SK * kSSubBytes / 16 <= kThreads, "one scale copy per thread at most");
};

template <int MT, int NW, int SK, int STAGES>
__global__ void __launch_bounds__(Config<MT, NW, SK, STAGES>::kThreads)
    GemmKernel(W4A16GemmParams p) {
  using C = Config<MT, NW, SK, STAGES>;
  extern __shared__ __align__(16) unsigned char smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int kw = warp % kKWarps, nw = warp / kKWarps;
  const int m0 = blockIdx.x * C::kRows;
  const int rows = min(C::kRows, p.m - m0);  // valid rows of this tile; the rest stay zero in shared memory
  const int split = blockIdx.y;
  const int block0 = blockIdx.z * NW;  // first 64-column block of this CTA
  const int steps = p.k / kW4StepK, groups = p.k / p.group;
  const int total_subs = p.k / kW4StageK;
  const int per_split = (total_subs + p.splits - 1) / p.splits;
  const int sub0 = split * per_split;
  const int nsub = min(per_split, total_subs - sub0);
  const int nst = (nsub + SK - 1) / SK;

  auto w_smem = [&](int buf) { return smem + buf * C::kStageBytes; };
  auto s_smem = [&](int buf) { return smem + buf * C::kStageBytes + C::kWBytes; };
  auto a_smem = [&](int buf) { return reinterpret_cast<__half*>(smem + buf * C::kStageBytes + C::kWBytes + C::kSBytes); };

  // Rows past m are zeros in every stage buffer, written once; the loads below never touch them.
  for (int i = threadIdx.x; i < STAGES * (C::kRows - rows) * C::kARowHalves / 8; i += C::kThreads) {
    const int per_buf = (C::kRows - rows) * C::kARowHalves / 8;
    reinterpret_cast<uint4*>(a_smem(i / per_buf) + rows * C::kARowHalves)[i % per_buf] = make_uint4(0, 0, 0, 0);
  }

  // Each thread's share of a stage's copies, with the offsets that do not change from stage to stage computed once:
  // weights (a column block's sub-stages are contiguous in the kernel layout), scales, then activations.
  constexpr int kWChunksPerSub = kWSubBytes / 16, kSChunksPerSub = kSSubBytes / 16, kAChunksPerSub = kW4StageK / 8;
  constexpr int kWChunks = NW * SK * kWChunksPerSub, kWPerThread = (kWChunks + C::kThreads - 1) / C::kThreads;
  const uint4* w_src[kWPerThread];
  int w_off[kWPerThread];  // within its block's stage: < subs * kWChunksPerSub is a real copy
#pragma unroll
  for (int i = 0; i < kWPerThread; ++i) {
    const int c = threadIdx.x + i * C::kThreads, b = c / (SK * kWChunksPerSub);
    w_off[i] = c < kWChunks ? c % (SK * kWChunksPerSub) : SK * kWChunksPerSub;
    w_src[i] = reinterpret_cast<const uint4*>(p.qweight) + (static_cast<int64_t>(block0 + min(b, NW - 1)) * steps +
                                                            sub0 * kKWarps) * 32 + w_off[i];
  }
  const __half* a_src = p.x + static_cast<int64_t>(m0) * p.ldx + sub0 * kW4StageK;
  auto load_stage = [&](int st, int buf) {
    const int first = st * SK, subs = min(SK, nsub - first);  // sub-stages relative to sub0
#pragma unroll
    for (int i = 0; i < kWPerThread; ++i) {
      const int c = threadIdx.x + i * C::kThreads;
      if (w_off[i] < subs * kWChunksPerSub)
        CpAsync16(w_smem(buf) + c * 16, w_src[i] + static_cast<int64_t>(first) * kWChunksPerSub, true);
    }
    if (threadIdx.x < NW * SK * kSChunksPerSub) {
      const int b = threadIdx.x / (SK * kSChunksPerSub), u = (threadIdx.x / kSChunksPerSub) % SK;
      if (u < subs) {
        const int group = (sub0 + first + u) * kW4StageK / p.group;
        const uint4* src = reinterpret_cast<const uint4*>(
                               p.scale_zero + (static_cast<int64_t>(block0 + b) * groups + group) * 64) +
                           threadIdx.x % kSChunksPerSub;
        CpAsync16(s_smem(buf) + threadIdx.x * 16, src, true);
      }
    }
    for (int c = threadIdx.x; c < rows * SK * kAChunksPerSub; c += C::kThreads) {
      const int r = c / (SK * kAChunksPerSub), col = c % (SK * kAChunksPerSub);
      if (col < subs * kAChunksPerSub)
        CpAsync16(a_smem(buf) + r * C::kARowHalves + 8 * col,
                  a_src + static_cast<int64_t>(r) * p.ldx + first * kW4StageK + 8 * col, true);
    }
  };

  float acc[MT][8][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mt][i][e] = 0.f;

#pragma unroll
  for (int i = 0; i < STAGES - 1; ++i) {
    if (i < nst) load_stage(i, i);
    CpAsyncCommit();
  }
  // Scales are reconverted at the first sub-stage and at each group boundary (a counter: no division per step).
  const int subs_per_group = p.group / kW4StageK;
  int sub_in_group = sub0 % subs_per_group;
  bool fresh = true;
  W4GroupScales sc;
  for (int st = 0; st < nst; ++st) {
    CpAsyncWait<STAGES - 2>();
    __syncthreads();  // stage st is visible to all; everyone is done with the buffer the next load overwrites
    if (st + STAGES - 1 < nst) load_stage(st + STAGES - 1, (st + STAGES - 1) % STAGES);
    CpAsyncCommit();
    const int buf = st % STAGES, subs = min(SK, nsub - st * SK);
    // All of the stage's fragments first (their shared-memory latencies overlap), then the arithmetic.
    uint4 q[SK];
    uint32_t a[SK][MT][4];
#pragma unroll
    for (int u = 0; u < SK; ++u) {
      if (u < subs) {
        q[u] = reinterpret_cast<const uint4*>(w_smem(buf) + (nw * SK + u) * kWSubBytes)[kw * 32 + lane];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
          LdMatrixX4(a[u][mt], a_smem(buf) + (16 * mt + lane % 16) * C::kARowHalves + u * kW4StageK +
                                   kw * kW4StepK + 8 * (lane / 16));
      }
    }
#pragma unroll
    for (int u = 0; u < SK; ++u) {
      if (u < subs) {
        if (fresh || sub_in_group == 0)
          sc = W4ScalesOf(reinterpret_cast<const __half2*>(s_smem(buf) + (nw * SK + u) * kSSubBytes), lane);
        fresh = false;
        if (++sub_in_group == subs_per_group) sub_in_group = 0;
        const uint32_t words[4] = {q[u].x, q[u].y, q[u].z, q[u].w};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          __half2 b[4];
          DequantW4Word(words[j], sc, j, b);
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            MmaM16N8K16(acc[mt][2 * j], a[u][mt], AsU32(b[0]), AsU32(b[1]));
            MmaM16N8K16(acc[mt][2 * j + 1], a[u][mt], AsU32(b[2]), AsU32(b[3]));
          }
        }
      }
    }
  }
  CpAsyncWait<0>();
  __syncthreads();

  // The K-warps' sums, added in kw order by warp kw = 0 of each column block, one m16 tile at a time.
  float* red = reinterpret_cast<float*>(smem);
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    if (kw > 0) {
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) red[(((nw * (kKWarps - 1) + kw - 1) * 32) + 4 * i + e) * 32 + lane] = acc[mt][i][e];
    }
    __syncthreads();
    if (kw == 0) {
#pragma unroll
      for (int w = 0; w < kKWarps - 1; ++w)
#pragma unroll
        for (int i = 0; i < 8; ++i)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[mt][i][e] += red[(((nw * (kKWarps - 1) + w) * 32) + 4 * i + e) * 32 + lane];
    }
    __syncthreads();
  }

  const int g = lane / 4, t = lane % 4;
  const int col0 = (block0 + nw) * kW4BlockN;
  auto for_each_pair = [&](auto&& fn) {  // fn(row, col, v0, v1) for this lane's accumulator pairs
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int row = m0 + 16 * mt + g + 8 * h;
          if (row < p.m) fn(row, col0 + 8 * i + 2 * t, acc[mt][i][2 * h], acc[mt][i][2 * h + 1]);
        }
  };
  W4StoreTile(p, split, blockIdx.z * gridDim.x + blockIdx.x, kw == 0, for_each_pair);
}

template <int MT, int NW, int SK, int STAGES>
void Launch(const W4A16GemmParams& p, cudaStream_t stream) {
  using C = Config<MT, NW, SK, STAGES>;
  auto* kernel = GemmKernel<MT, NW, SK, STAGES>;
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmemBytes);
  (void)attr;  // a failure here surfaces as the launch error the caller checks
  const dim3 grid((p.m + C::kRows - 1) / C::kRows, p.splits, p.n / (kW4BlockN * NW));
  kernel<<<grid, C::kThreads, C::kSmemBytes, stream>>>(p);
}

struct ConfigEntry {
  W4A16GemmConfig config;
  void (*launch)(const W4A16GemmParams&, cudaStream_t);
};
constexpr W4A16GemmKind kN = W4A16GemmKind::kNarrow, kW = W4A16GemmKind::kWide;
// Every shape the dispatcher or the benchmark may pick: {kind, mw, mt, nw, sk, stages}. Shared memory per CTA (KB)
// in the comments.
constexpr ConfigEntry kConfigs[] = {
    {{kN, 1, 1, 1, 4, 3}, Launch<1, 1, 4, 3>},  // 53
    {{kN, 1, 1, 1, 2, 6}, Launch<1, 1, 2, 6>},  // 54
    {{kN, 1, 1, 2, 2, 4}, Launch<1, 2, 2, 4>},  // 54
    {{kN, 1, 1, 4, 1, 8}, Launch<1, 4, 1, 8>},  // 86
    {{kN, 1, 2, 1, 2, 4}, Launch<2, 1, 2, 4>},  // 53
    {{kN, 1, 2, 2, 2, 4}, Launch<2, 2, 2, 4>},  // 72
    {{kN, 1, 2, 4, 2, 3}, Launch<2, 4, 2, 3>},  // 80
    {{kN, 1, 4, 1, 2, 3}, Launch<4, 1, 2, 3>},  // 66
    {{kN, 1, 4, 2, 2, 3}, Launch<4, 2, 2, 3>},  // 80
};

bool SameConfig(const W4A16GemmConfig& a, const W4A16GemmConfig& b) {
  return a.kind == b.kind && a.mw == b.mw && a.mt == b.mt && a.nw == b.nw && a.sk == b.sk && a.stages == b.stages;
}

}  // namespace

int W4A16GemmSplits(W4A16GemmKind kind, int n, int k, int sm_count) {
  const int want = kind == W4A16GemmKind::kNarrow
                       ? kNarrowCtasPerSmAtOneRow * sm_count / std::max(1, n / kW4BlockN)
                       : sm_count / std::max(1, n / kWideRefCols);
  return std::max(1, std::min({want, kW4MaxSplits, k / kW4StageK}));
}

size_t W4A16GemmWorkspaceBytes(int m, int n, int splits) {
  return splits > 1 ? static_cast<size_t>(splits) * m * n * sizeof(float) : 0;
}

int W4A16GemmCounters(int m, int n) { return (n / kW4BlockN) * ((m + 15) / 16); }

absl::Status ValidateW4A16Gemm(const W4A16GemmParams& p) {
  if (!p.x || !p.qweight || !p.scale_zero || !p.y) return absl::InvalidArgumentError("w4a16 gemm: null pointer");
  if (p.m < 1) return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: m=", p.m, " must be >= 1"));
  if (absl::Status s = ValidateW4Shape("w4a16 gemm", p.n, p.k, p.group); !s.ok()) return s;
  if (p.ldx < p.k || p.ldx % 8 != 0 || reinterpret_cast<uintptr_t>(p.x) % 16 != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("w4a16 gemm: ldx=", p.ldx, " must be >= k=", p.k, " and a multiple of 8, x 16-byte aligned"));
  if (p.ldy < p.n || p.ldy % 2 != 0)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: ldy=", p.ldy, " must be even and >= n=", p.n));
  if (p.splits < 1 || p.splits > kW4MaxSplits || p.splits > p.k / kW4StageK)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: splits=", p.splits, " outside [1, ",
                                                   std::min(kW4MaxSplits, p.k / kW4StageK), "]"));
  if (p.splits > 1 && (!p.workspace || !p.counters))
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: splits=", p.splits, " needs a workspace and counters"));
  return absl::OkStatus();
}

const W4A16GemmConfig* W4A16GemmConfigs(int* count) {
  static const std::vector<W4A16GemmConfig> configs = [] {
    std::vector<W4A16GemmConfig> all;
    for (const ConfigEntry& e : kConfigs) all.push_back(e.config);
    int wide = 0;
    const W4A16GemmConfig* w = W4A16WideConfigs(&wide);
    all.insert(all.end(), w, w + wide);
    return all;
  }();
  *count = static_cast<int>(configs.size());
  return configs.data();
}

// From bench/engine/kernel_bench's sweep on an H200 (bench/RESULTS.md), Mistral-7B shapes. kNarrow: one m16 tile per
// warp up to 16 rows; beyond, the wide gate/up layer wants many warps per CTA (four column blocks), the o_proj-sized
// square layer one tile per warp, the others two m16 tiles per warp. kWide: one warpgroup per CTA up to 64 rows,
// with two column blocks for gate/up; two warpgroups above, four blocks for gate/up.
W4A16GemmConfig W4A16GemmDefaultConfig(W4A16GemmKind kind, int m, int n) {
  constexpr int kLongN = 16384;  // gate/up's n (28672); q/k/v (6144), o_proj and down_proj (4096) are shorter
  const int blocks = n / kW4BlockN;
  if (kind == W4A16GemmKind::kWide) {
    if (m <= 64) return {kW, 1, 4, n >= kLongN && blocks % 2 == 0 ? 2 : 1, 1, 4};
    return n >= kLongN && blocks % 4 == 0 ? W4A16GemmConfig{kW, 2, 4, 4, 1, 4} : W4A16GemmConfig{kW, 2, 4, 1, 1, 4};
  }
  constexpr int kSquare = 4096;  // o_proj
  if (m <= 16) return {kN, 1, 1, 1, 4, 3};
  if (n >= kLongN && blocks % 4 == 0) return {kN, 1, 2, 4, 2, 3};
  if (n == kSquare) return {kN, 1, 1, 1, 4, 3};
  return {kN, 1, 2, 1, 2, 4};
}

absl::Status LaunchW4A16GemmWith(const W4A16GemmParams& p, const W4A16GemmConfig& c, cudaStream_t stream) {
  if (c.kind != p.kind)
    return absl::InvalidArgumentError("w4a16 gemm: the config's kind differs from the params' kind");
  if (p.n % (kW4BlockN * c.nw) != 0)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: n=", p.n, " is not a multiple of the config's ",
                                                   kW4BlockN * c.nw, " columns"));
  if (c.kind == W4A16GemmKind::kWide && LaunchW4A16Wide(p, c, stream)) return absl::OkStatus();
  for (const ConfigEntry& e : kConfigs) {
    if (SameConfig(e.config, c)) {
      e.launch(p, stream);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: no kernel for config mw=", c.mw, " mt=", c.mt,
                                                 " nw=", c.nw, " sk=", c.sk, " stages=", c.stages));
}

void LaunchW4A16Gemm(const W4A16GemmParams& p, cudaStream_t stream) {
  (void)LaunchW4A16GemmWith(p, W4A16GemmDefaultConfig(p.kind, p.m, p.n), stream);  // the default always exists
}

}  // namespace inference::cuda
