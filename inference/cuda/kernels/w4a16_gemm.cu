// The W4A16 tensor-core GEMM over the kernel layout (w4a16.h), both kinds (W4A16GemmKind): any row count; linear.h
// gives it the decode rows.
//
// A CTA owns a tile of 16*MT*MW rows x 64*NW columns and one of `splits` ranges of K. Its warps form a KW (along
// K) x MW (along M) x NW (along N) grid; weights, scales and activations reach shared memory through a STAGES-deep
// cp.async pipeline of SK 64-k sub-stages (one group's scales each) per stage, and every warp dequantizes its B
// fragments in registers (w4a16_fragment.cuh) before mma.sync.m16n8k16.
//   kNarrow (KW = 4, MW = 1): in each sub-stage warp (kw, nw) takes k16 step kw of column block nw for all MT m16
//     tiles, so at batch 1 a CTA keeps (STAGES - 1) * SK * 2 KB of weights in flight with few rows of registers.
//   kWide (KW = 1): warp (mw, nw) takes all four k16 steps of column block nw for its MT m16 tiles; the CTA's
//     activation tile is shared by NW column blocks (bench/RESULTS.md has what each kind reaches).
//
// Reduction order, the same for every row count of a kind: each warp accumulates its k16 steps in order; with
// KW = 4 the four K-warps' sums are added kw = 0, 1, 2, 3; the splits' partials (fp32, workspace) are added in split
// order by the tile's last CTA. Only the CTA shape (MW, MT, NW, SK, STAGES: W4A16GemmConfig), which never changes a
// row's arithmetic, follows the row count.
#include <algorithm>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/w4a16_fragment.cuh"
#include "inference/cuda/kernels/w4a16_store.cuh"
#include "inference/cuda/kernels/w4a16_wide.h"

namespace inference::cuda {
namespace {

constexpr int kStepsPerSub = kW4StepsPerStage;  // 4 k16 steps per 64-k sub-stage
constexpr int kWSubBytes = kW4StageWBytes;      // one column block's weights per 64-k sub-stage: 2 KB
constexpr int kSSubBytes = kW4StageSBytes;      // one column block's (scale, zero) of one group
constexpr int kNarrowCtasPerSmAtOneRow = 3;         // kNarrow's splits aim at this many CTAs per SM for one row
constexpr int kWideRefRows = 64, kWideRefCols = 256;  // kWide's splits: one CTA per SM for 64 x 256 tiles at 64 rows

// KW warps along K, MW along M with MT m16 tiles each, NW column blocks per CTA, SK 64-k sub-stages per pipeline
// stage, STAGES stages in flight.
template <int KW, int MW, int MT, int NW, int SK, int STAGES>
struct Config {
  static_assert(KW == kStepsPerSub || KW == 1, "four K-warps (kNarrow) or none (kWide)");
  static_assert(KW == 1 || MW == 1, "kNarrow has one warp along M");
  static constexpr int kThreads = 32 * KW * MW * NW;
  static constexpr int kRows = 16 * MT * MW;
  static constexpr int kARowHalves = SK * kW4StageK + 8;  // padded: ldmatrix rows land on distinct banks
  static constexpr int kWBytes = NW * SK * kWSubBytes;
  static constexpr int kSBytes = NW * SK * kSSubBytes;
  static constexpr int kAStageBytes = kRows * kARowHalves * 2;
  static constexpr int kStageBytes = kWBytes + kSBytes + kAStageBytes;
  static constexpr int kReduceBytes = NW * (KW - 1) * 32 * 32 * 4;  // one m16 tile of the K-warps past the first
  static constexpr int kSmemBytes = std::max(STAGES * kStageBytes, kReduceBytes);
  static_assert(NW * SK * kSSubBytes / 16 <= kThreads, "one scale copy per thread at most");
};

template <int KW, int MW, int MT, int NW, int SK, int STAGES>
__global__ void __launch_bounds__(Config<KW, MW, MT, NW, SK, STAGES>::kThreads)
    GemmKernel(W4A16GemmParams p) {
  using C = Config<KW, MW, MT, NW, SK, STAGES>;
  extern __shared__ __align__(16) unsigned char smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int kw = warp % KW, mw = (warp / KW) % MW, nw = warp / (KW * MW);
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
                                                            sub0 * kStepsPerSub) * 32 + w_off[i];
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

  // One k16 step: the fragment's four words dequantized and multiplied into every m16 tile.
  auto mma_step = [&](const uint4& q, const uint32_t (&a)[MT][4], const W4GroupScales& sc) {
    const uint32_t words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      __half2 b[4];
      DequantW4Word(words[j], sc, j, b);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        MmaM16N8K16(acc[mt][2 * j], a[mt], AsU32(b[0]), AsU32(b[1]));
        MmaM16N8K16(acc[mt][2 * j + 1], a[mt], AsU32(b[2]), AsU32(b[3]));
      }
    }
  };
  // The A fragments of k16 step `step` of sub-stage u for this warp's m16 tiles.
  auto load_a = [&](int buf, int u, int step, uint32_t (&a)[MT][4]) {
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
      LdMatrixX4(a[mt], a_smem(buf) + (16 * (mw * MT + mt) + lane % 16) * C::kARowHalves + u * kW4StageK +
                            step * kW4StepK + 8 * (lane / 16));
  };

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
    auto next_scales = [&](int u) {
      if (fresh || sub_in_group == 0)
        sc = W4ScalesOf(reinterpret_cast<const __half2*>(s_smem(buf) + (nw * SK + u) * kSSubBytes), lane);
      fresh = false;
      if (++sub_in_group == subs_per_group) sub_in_group = 0;
    };
    auto fragment = [&](int u, int step) {
      return reinterpret_cast<const uint4*>(w_smem(buf) + (nw * SK + u) * kWSubBytes)[step * 32 + lane];
    };
    if constexpr (KW > 1) {
      // All of the stage's fragments first (their shared-memory latencies overlap), then the arithmetic.
      uint4 q[SK];
      uint32_t a[SK][MT][4];
#pragma unroll
      for (int u = 0; u < SK; ++u) {
        if (u < subs) {
          q[u] = fragment(u, kw);
          load_a(buf, u, kw, a[u]);
        }
      }
#pragma unroll
      for (int u = 0; u < SK; ++u) {
        if (u < subs) {
          next_scales(u);
          mma_step(q[u], a[u], sc);
        }
      }
    } else {
      // Four k16 steps per sub-stage, the next step's fragments loaded while this one's are multiplied.
#pragma unroll
      for (int u = 0; u < SK; ++u) {
        if (u < subs) {
          next_scales(u);
          uint4 q[2];
          uint32_t a[2][MT][4];
          q[0] = fragment(u, 0);
          load_a(buf, u, 0, a[0]);
#pragma unroll
          for (int step = 0; step < kStepsPerSub; ++step) {
            if (step + 1 < kStepsPerSub) {
              q[(step + 1) % 2] = fragment(u, step + 1);
              load_a(buf, u, step + 1, a[(step + 1) % 2]);
            }
            mma_step(q[step % 2], a[step % 2], sc);
          }
        }
      }
    }
  }
  CpAsyncWait<0>();
  __syncthreads();

  if constexpr (KW > 1) {
    // The K-warps' sums, added in kw order by warp kw = 0 of each column block, one m16 tile at a time.
    float* red = reinterpret_cast<float*>(smem);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      if (kw > 0) {
#pragma unroll
        for (int i = 0; i < 8; ++i)
#pragma unroll
          for (int e = 0; e < 4; ++e) red[(((nw * (KW - 1) + kw - 1) * 32) + 4 * i + e) * 32 + lane] = acc[mt][i][e];
      }
      __syncthreads();
      if (kw == 0) {
#pragma unroll
        for (int w = 0; w < KW - 1; ++w)
#pragma unroll
          for (int i = 0; i < 8; ++i)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[mt][i][e] += red[(((nw * (KW - 1) + w) * 32) + 4 * i + e) * 32 + lane];
      }
      __syncthreads();
    }
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
          const int row = m0 + 16 * (mw * MT + mt) + g + 8 * h;
          if (row < p.m) fn(row, col0 + 8 * i + 2 * t, acc[mt][i][2 * h], acc[mt][i][2 * h + 1]);
        }
  };
  W4StoreTile(p, split, blockIdx.z * gridDim.x + blockIdx.x, kw == 0, for_each_pair);
}

template <int KW, int MW, int MT, int NW, int SK, int STAGES>
void Launch(const W4A16GemmParams& p, cudaStream_t stream) {
  using C = Config<KW, MW, MT, NW, SK, STAGES>;
  auto* kernel = GemmKernel<KW, MW, MT, NW, SK, STAGES>;
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
    {{kN, 1, 1, 1, 4, 3}, Launch<4, 1, 1, 1, 4, 3>},  // 53
    {{kN, 1, 1, 1, 2, 6}, Launch<4, 1, 1, 1, 2, 6>},  // 54
    {{kN, 1, 1, 2, 2, 4}, Launch<4, 1, 1, 2, 2, 4>},  // 54
    {{kN, 1, 1, 4, 1, 8}, Launch<4, 1, 1, 4, 1, 8>},  // 86
    {{kN, 1, 2, 1, 2, 4}, Launch<4, 1, 2, 1, 2, 4>},  // 53
    {{kN, 1, 2, 2, 2, 4}, Launch<4, 1, 2, 2, 2, 4>},  // 72
    {{kN, 1, 2, 4, 2, 3}, Launch<4, 1, 2, 4, 2, 3>},  // 80
    {{kN, 1, 4, 1, 2, 3}, Launch<4, 1, 4, 1, 2, 3>},  // 66
    {{kN, 1, 4, 2, 2, 3}, Launch<4, 1, 4, 2, 2, 3>},  // 80
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
// square layer one tile per warp, the others two m16 tiles per warp. kWide: 64 x 256 tiles up to 64 rows, then
// 128 x 256; narrower where n is not a multiple of 256.
W4A16GemmConfig W4A16GemmDefaultConfig(W4A16GemmKind kind, int m, int n) {
  if (kind == W4A16GemmKind::kWide) {
    const int blocks = n / kW4BlockN;
    const int nw = blocks % 4 == 0 ? 4 : blocks % 2 == 0 ? 2 : 1;
    if (m <= kWideRefRows) return nw == 4 ? W4A16GemmConfig{kW, 1, 4, 4, 1, 3} : W4A16GemmConfig{kW, 1, 4, nw, 1, 4};
    return {kW, 2, 4, nw, 1, 4};
  }
  constexpr int kWide = 16384;   // gate/up (28672) is wide; q/k/v (6144), o_proj and down_proj (4096) are not
  constexpr int kSquare = 4096;  // o_proj
  if (m <= 16) return {kN, 1, 1, 1, 4, 3};
  if (n >= kWide && n % (4 * kW4BlockN) == 0) return {kN, 1, 2, 4, 2, 3};
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
