// Flash-style prefill attention on the tensor cores (attention.h: FlashPrefillParams): mma.sync m16n8k16 (fp16 in,
// fp32 accumulate) through inline PTX, everything between the two matrix products in registers.
//
// One CTA = kFlashTileQ (head, query) rows: a tile of consecutive query tokens of one sequence for the
// FlashHeadsPerCta query heads sharing one KV head; kFlashTileQ / 16 warps, 16 rows each. A warp keeps its Q
// fragments, its O accumulator and its softmax statistics in registers for the whole key loop. Per key tile of
// kFlashTileK keys (double-buffered, cp.async gathers the next tile from the paged cache while this one is used):
//   S = Q K^T           (K B-fragments by ldmatrix from shared memory)
//   online softmax      (row max / sum over the 4 lanes of a quad by shuffles; exp2 of S * scale - max by fma)
//   P = fp16(S)         (the S accumulators are already laid out as the A fragments of the next product)
//   O = O * corr + P V  (V B-fragments by ldmatrix.trans)
// Key tiles are aligned to multiples of kFlashTileK in absolute positions, and a tile that is wholly masked for a
// row leaves that row's state bit-identical, so a row's result depends on its own position only: not on the tile
// it is in, the other sequences of the launch, or where a chunked prefill split its prompt (batch invariance).
// Tiles wholly outside every row's keys (causal, window) are never visited; only tiles crossing the diagonal or
// the window's edge evaluate Attends (kv_layout.h) per element.
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/attention.h"
#include "inference/engine/kv_layout.h"

namespace inference::cuda {
namespace {

constexpr int kWarps = kFlashTileQ / 16;  // m16n8k16: 16 query rows per warp
constexpr int kThreads = kWarps * 32;
// Three CTAs per SM: registers <= 65536 / (3 * 128) = 170 per thread, enough for head_dim 128's Q (32), O (64)
// and S (32) fragments; shared memory 3 * 68 KiB fits the SM's 227 KiB.
constexpr int kMinCtasPerSm = 3;
// Row padding of 16 bytes: the 8 row addresses of one ldmatrix (row stride HD + 8 halves = 4 banks mod 32 for
// HD 32, 64 and 128) fall on 8 disjoint groups of 4 banks, so ldmatrix and cp.async are conflict-free.
constexpr int kPadHalf = 8;
constexpr float kLog2e = 1.4426950408889634f;
static_assert(kFlashTileQ % 16 == 0 && kFlashTileK % 16 == 0, "mma tiles");
static_assert(kFlashTileQ <= kFlashTileK, "Q is staged in a K buffer");

template <int HD>
struct Smem {
  static constexpr int ld = HD + kPadHalf;            // halves per K/V/Q row
  static constexpr int tile = kFlashTileK * ld;        // halves per K or V tile
  // Stage s (0, 1): K at (2s) * tile, V at (2s + 1) * tile. Q passes through stage 1's K before the loop.
  static constexpr size_t bytes = sizeof(__half) * 4 * tile;
};

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, bypassing L1; zeros when !valid (src is then not read).
__device__ __forceinline__ void CpAsync16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void Ldmatrix4(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void Ldmatrix4Trans(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// c += a * b for a 16x16 fp16 A (row-major fragment), a 16x8 fp16 B (column fragment), fp32 C.
__device__ __forceinline__ void Mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// 2^x; 2^-inf = 0.
__device__ __forceinline__ float Exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ uint32_t PackHalf2(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);  // lo in the low 16 bits: the lower column of the fragment
  return *reinterpret_cast<const uint32_t*>(&h);
}

// j / d without a division: (j * ceil(2^32 / d)) >> 32, exact while j * d < 2^32 (ValidateFlashPrefill bounds the
// key positions so).
__device__ __forceinline__ uint64_t FastDivMagic(uint32_t d) { return ((uint64_t{1} << 32) + d - 1) / d; }
__device__ __forceinline__ int FastDiv(int j, uint64_t magic) {
  return static_cast<int>((static_cast<uint64_t>(j) * magic) >> 32);
}

// Keys kb .. kb + kFlashTileK - 1 of the sequence into ks / vs (cp.async, not waited); keys outside [lo, hi] are
// zeros and their cache blocks are never touched (they may be unallocated or recycled, kv_layout.h).
template <int HD>
__device__ __forceinline__ void LoadKv(const FlashPrefillParams& p, const int32_t* table, uint64_t bs_magic, int kvh,
                                       int kb, int lo, int hi, __half* ks, __half* vs) {
  constexpr int kChunks = HD / 8;  // 16-byte chunks per row
  constexpr int kRowsPerPass = kThreads / kChunks;
  static_assert(kThreads % kChunks == 0 && kFlashTileK % kRowsPerPass == 0, "loader shape");
  const int c = threadIdx.x % kChunks;
  const int token_stride = p.kv_heads * HD;
#pragma unroll
  for (int kk = threadIdx.x / kChunks; kk < kFlashTileK; kk += kRowsPerPass) {
    const int j = kb + kk;
    const bool valid = j >= lo && j <= hi;
    int64_t off = 0;
    if (valid) {
      const int blk = FastDiv(j, bs_magic);
      const int slot = __ldg(table + blk) * p.block_size + (j - blk * p.block_size);
      off = static_cast<int64_t>(slot) * token_stride + kvh * HD + 8 * c;
    }
    const int s = kk * Smem<HD>::ld + 8 * c;
    CpAsync16(SmemAddr(ks + s), p.k_cache + off, valid);
    CpAsync16(SmemAddr(vs + s), p.v_cache + off, valid);
  }
}

template <int HD>
__global__ void __launch_bounds__(kThreads, kMinCtasPerSm) FlashPrefillKernel(FlashPrefillParams p) {
  using L = Smem<HD>;
  constexpr int kKd = HD / 16;          // k-steps of Q K^T; pairs of 8-wide dim blocks of O
  constexpr int kNk = kFlashTileK / 8;  // 8-key blocks of S
  extern __shared__ __align__(128) unsigned char smem[];
  __half* const buf = reinterpret_cast<__half*>(smem);

  // CTAs start in blockIdx order: all head groups of the last tile (the most keys) first, the first tile last, so
  // the long CTAs do not form the tail.
  const int group = p.heads / p.kv_heads;
  const int heads_here = FlashHeadsPerCta(group), tile_rows = kFlashTileQ / heads_here;
  const int head_ctas = p.heads / heads_here;
  const FlashTile tile = p.tiles[p.num_tiles - 1 - static_cast<int>(blockIdx.x) / head_ctas];
  const int h_base = (blockIdx.x % head_ctas) * heads_here, kvh = h_base / group;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t4 = lane % 4;  // fragment row (and row + 8), column pair 2 * t4
  const int32_t* table = p.block_tables + static_cast<int64_t>(tile.seq) * p.max_blocks;
  const int hi = tile.pos0 + tile.count - 1;  // the tile's last query position: its last key
  const int lo = p.window > 0 ? max(0, tile.pos0 - p.window + 1) : 0;
  const int t_first = lo / kFlashTileK, t_last = hi / kFlashTileK;
  const uint64_t bs_magic = FastDivMagic(p.block_size);

  // CTA row r is query r % tile_rows of head h_base + r / tile_rows; rows past count repeat the last query (never
  // stored). Q goes through stage 1's K buffer into registers; key tile t_first into stage 0 meanwhile.
  {
    constexpr int kChunks = HD / 8;
    __half* qs = buf + 2 * L::tile;
    for (int idx = threadIdx.x; idx < kFlashTileQ * kChunks; idx += kThreads) {
      const int r = idx / kChunks, c = idx % kChunks;
      const int64_t row = tile.row0 + min(r % tile_rows, tile.count - 1);
      const int h = h_base + r / tile_rows;
      CpAsync16(SmemAddr(qs + r * L::ld + 8 * c), p.q + row * p.ldq + h * HD + 8 * c, true);
    }
  }
  LoadKv<HD>(p, table, bs_magic, kvh, t_first * kFlashTileK, lo, hi, buf, buf + L::tile);
  CpAsyncCommit();
  CpAsyncWait<0>();
  __syncthreads();
  uint32_t qf[kKd][4];  // stage 1 is refilled only after the loop's first barrier
#pragma unroll
  for (int kd = 0; kd < kKd; ++kd)
    Ldmatrix4(SmemAddr(buf + 2 * L::tile + (warp * 16 + lane % 16) * L::ld + kd * 16 + (lane / 16) * 8), qf[kd]);

  int qpos[2];  // positions of this lane's rows g and g + 8
#pragma unroll
  for (int i = 0; i < 2; ++i) qpos[i] = tile.pos0 + min((warp * 16 + g + 8 * i) % tile_rows, tile.count - 1);
  const float scale = p.scale * kLog2e;  // S * scale: scores in log2 units
  float o[2 * kKd][4];
#pragma unroll
  for (int n = 0; n < 2 * kKd; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY};  // running row maxima of S * scale
  float l[2] = {0.f, 0.f};              // this lane's partial row sums

  for (int t = t_first; t <= t_last; ++t) {
    // One barrier per tile: after it, tile t is visible to all and every warp is done with tile t - 1, whose
    // stage then receives tile t + 1 while tile t is used.
    const int stage = (t - t_first) & 1;
    CpAsyncWait<0>();
    __syncthreads();
    if (t < t_last) {
      LoadKv<HD>(p, table, bs_magic, kvh, (t + 1) * kFlashTileK, lo, hi, buf + (2 - 2 * stage) * L::tile,
                 buf + (3 - 2 * stage) * L::tile);
      CpAsyncCommit();
    }
    const __half* ks = buf + 2 * stage * L::tile;
    const __half* vs = ks + L::tile;

    float s[kNk][4];
#pragma unroll
    for (int n = 0; n < kNk; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int kd = 0; kd < kKd; ++kd) {
#pragma unroll
      for (int np = 0; np < kNk / 2; ++np) {
        // Matrices: keys +0..7 / dims +0..7, keys +0..7 / dims +8..15, keys +8..15 / dims +0..7, keys +8..15 /
        // dims +8..15 = (b0, b1) of key block 2np, (b0, b1) of key block 2np + 1.
        uint32_t b[4];
        Ldmatrix4(SmemAddr(ks + (np * 16 + (lane & 7) + (lane >> 4) * 8) * L::ld + kd * 16 + ((lane >> 3) & 1) * 8), b);
        Mma(s[2 * np], qf[kd], b[0], b[1]);
        Mma(s[2 * np + 1], qf[kd], b[2], b[3]);
      }
    }

    const int kb = t * kFlashTileK;
    const bool unmasked = kb + kFlashTileK - 1 <= tile.pos0 && (p.window <= 0 || kb > hi - p.window);
    if (!unmasked) {
#pragma unroll
      for (int n = 0; n < kNk; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (!Attends(qpos[e / 2], kb + n * 8 + 2 * t4 + (e & 1), p.window)) s[n][e] = -INFINITY;
    }

    // Online softmax; a row with no key so far keeps m = -inf and uses 0 as its reference (every p and corr 0).
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kNk; ++n) {
      mx[0] = fmaxf(mx[0], fmaxf(s[n][0], s[n][1]));
      mx[1] = fmaxf(mx[1], fmaxf(s[n][2], s[n][3]));
    }
    float ref[2], corr[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
      mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
      const float m_new = fmaxf(m[i], mx[i] * scale);
      ref[i] = m_new == -INFINITY ? 0.f : m_new;
      corr[i] = Exp2(m[i] - ref[i]);
      m[i] = m_new;
      l[i] *= corr[i];
    }
    // Most tiles leave every maximum of the warp unchanged (corr exactly 1): skip the rescale then.
    if (!__all_sync(0xffffffffu, corr[0] == 1.f && corr[1] == 1.f)) {
#pragma unroll
      for (int n = 0; n < 2 * kKd; ++n) o[n][0] *= corr[0], o[n][1] *= corr[0], o[n][2] *= corr[1], o[n][3] *= corr[1];
    }
    uint32_t pf[kNk / 2][4];  // A fragments of P, one per 16 keys
#pragma unroll
    for (int n = 0; n < kNk; ++n) {
      const float p0 = Exp2(fmaf(s[n][0], scale, -ref[0])), p1 = Exp2(fmaf(s[n][1], scale, -ref[0]));
      const float p2 = Exp2(fmaf(s[n][2], scale, -ref[1])), p3 = Exp2(fmaf(s[n][3], scale, -ref[1]));
      l[0] += p0 + p1;
      l[1] += p2 + p3;
      pf[n / 2][(n % 2) * 2] = PackHalf2(p0, p1);
      pf[n / 2][(n % 2) * 2 + 1] = PackHalf2(p2, p3);
    }

#pragma unroll
    for (int kk = 0; kk < kNk / 2; ++kk) {
#pragma unroll
      for (int dp = 0; dp < kKd; ++dp) {
        // Transposed matrices: keys +0..7 / dims +0..7, keys +8..15 / dims +0..7, keys +0..7 / dims +8..15,
        // keys +8..15 / dims +8..15 = (b0, b1) of dim block 2dp, (b0, b1) of dim block 2dp + 1.
        uint32_t b[4];
        Ldmatrix4Trans(SmemAddr(vs + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * L::ld + dp * 16 + (lane >> 4) * 8), b);
        Mma(o[2 * dp], pf[kk], b[0], b[1]);
        Mma(o[2 * dp + 1], pf[kk], b[2], b[3]);
      }
    }
  }

#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
    const int r = warp * 16 + g + 8 * i, qi = r % tile_rows;
    if (qi >= tile.count) continue;
    const float inv = 1.f / l[i];
    __half* out = p.out + static_cast<int64_t>(tile.row0 + qi) * p.heads * HD + (h_base + r / tile_rows) * HD;
#pragma unroll
    for (int n = 0; n < 2 * kKd; ++n)
      *reinterpret_cast<__half2*>(out + n * 8 + 2 * t4) = __floats2half2_rn(o[n][2 * i] * inv, o[n][2 * i + 1] * inv);
  }
}

template <int HD>
void Launch(const FlashPrefillParams& p, cudaStream_t stream) {
  // Failures surface as the launch error the caller checks.
  static const cudaError_t attr = [] {
    cudaFuncSetAttribute(FlashPrefillKernel<HD>, cudaFuncAttributePreferredSharedMemoryCarveout,
                         cudaSharedmemCarveoutMaxShared);
    return cudaFuncSetAttribute(FlashPrefillKernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                static_cast<int>(Smem<HD>::bytes));
  }();
  (void)attr;
  const int ctas_per_token_tile = p.heads / FlashHeadsPerCta(p.heads / p.kv_heads);
  FlashPrefillKernel<HD><<<p.num_tiles * ctas_per_token_tile, kThreads, Smem<HD>::bytes, stream>>>(p);
}

// Shape dispatch: head_dim picks the instantiation.
struct FlashEntry {
  int head_dim;
  void (*launch)(const FlashPrefillParams&, cudaStream_t);
};
constexpr FlashEntry kFlashTable[] = {{32, Launch<32>}, {64, Launch<64>}, {128, Launch<128>}};

}  // namespace

bool FlashPrefillSupports(int head_dim) {
  for (const FlashEntry& e : kFlashTable)
    if (e.head_dim == head_dim) return true;
  return false;
}

absl::Status ValidateFlashPrefill(const FlashPrefillParams& p) {
  if (!p.q || !p.k_cache || !p.v_cache || !p.block_tables || !p.tiles || !p.out)
    return absl::InvalidArgumentError("flash prefill: null pointer");
  if (!FlashPrefillSupports(p.head_dim))
    return absl::InvalidArgumentError(absl::StrCat("flash prefill: head_dim=", p.head_dim, " not in {32, 64, 128}"));
  if (p.kv_heads <= 0 || p.heads % p.kv_heads != 0 || p.num_tiles <= 0 || p.block_size <= 0 || p.window < 0 ||
      p.ldq % 8 != 0)
    return absl::InvalidArgumentError(absl::StrCat("flash prefill: heads=", p.heads, " kv_heads=", p.kv_heads,
                                                   " tiles=", p.num_tiles, " ldq=", p.ldq, " unsupported"));
  // Key positions stay below max_blocks * block_size; the kernel divides them by block_size exactly while
  // position * block_size < 2^32, and keeps positions and cache slots in 32 bits.
  if (int64_t{p.max_blocks} * p.block_size * p.block_size >= (int64_t{1} << 32) ||
      int64_t{p.max_blocks} * p.block_size >= (int64_t{1} << 31))
    return absl::InvalidArgumentError(absl::StrCat("flash prefill: max_blocks=", p.max_blocks, " x block_size=",
                                                   p.block_size, " needs max_blocks * block_size^2 < 2^32"));
  // cp.async moves 16-byte chunks: every row start (q + row * ldq + head * head_dim, cache slots) must be 16-byte
  // aligned, which ldq % 8 == 0 and head_dim % 8 == 0 give when the base pointers are.
  const auto misaligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 != 0; };
  if (misaligned(p.q) || misaligned(p.k_cache) || misaligned(p.v_cache) || misaligned(p.out))
    return absl::InvalidArgumentError("flash prefill: q, k_cache, v_cache and out must be 16-byte aligned");
  return absl::OkStatus();
}

void LaunchFlashPrefill(const FlashPrefillParams& p, cudaStream_t stream) {
  for (const FlashEntry& e : kFlashTable) {
    if (e.head_dim == p.head_dim) {
      e.launch(p, stream);
      return;
    }
  }
}

}  // namespace inference::cuda
