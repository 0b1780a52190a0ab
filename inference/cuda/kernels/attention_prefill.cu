// Flash-style prefill attention on the tensor cores (attention.h: FlashPrefillParams). One CTA = 64 (head, query)
// rows: a tile of consecutive query tokens of one sequence for 1, 2 or 4 query heads of one KV head; 4 warps, 16
// rows each. Per key tile of 64:
// K and V are gathered from the paged cache into shared memory, S = Q K^T by WMMA (fp16 in, fp32 out), an online
// softmax per row in fp32 (Attends decides the mask), P in fp16, O += P V by WMMA with O kept in shared memory.
#include <mma.h>

#include <cfloat>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/attention.h"
#include "inference/engine/kv_layout.h"

namespace inference::cuda {
namespace {

using namespace nvcuda;

constexpr int kWarps = kFlashTileQ / 16;
constexpr int kThreads = kWarps * 32;
constexpr int kPadHalf = 8;   // row padding (16 bytes) against bank conflicts; keeps WMMA's 16-byte ldm rule
constexpr int kPadFloat = 4;

template <int HD>
struct Smem {
  static constexpr int ldh = HD + kPadHalf;          // Q, K, V rows (halves)
  static constexpr int lds = kFlashTileK + kPadFloat;  // S rows (floats)
  static constexpr int ldp = kFlashTileK + kPadHalf;   // P rows (halves)
  static constexpr int ldo = HD + kPadFloat;          // O rows (floats)
  static constexpr size_t q = 0;
  static constexpr size_t k = q + sizeof(__half) * kFlashTileQ * ldh;
  static constexpr size_t v = k + sizeof(__half) * kFlashTileK * ldh;
  static constexpr size_t s = v + sizeof(__half) * kFlashTileK * ldh;
  static constexpr size_t pm = s + sizeof(float) * kFlashTileQ * lds;
  static constexpr size_t o = pm + sizeof(__half) * kFlashTileQ * ldp;
  static constexpr size_t bytes = o + sizeof(float) * kFlashTileQ * ldo;
};

template <int HD>
__global__ void __launch_bounds__(kThreads) FlashPrefillKernel(FlashPrefillParams p) {
  using L = Smem<HD>;
  extern __shared__ __align__(128) unsigned char smem[];
  __half* qs = reinterpret_cast<__half*>(smem + L::q);
  __half* ks = reinterpret_cast<__half*>(smem + L::k);
  __half* vs = reinterpret_cast<__half*>(smem + L::v);
  float* ss = reinterpret_cast<float*>(smem + L::s);
  __half* ps = reinterpret_cast<__half*>(smem + L::pm);
  float* os = reinterpret_cast<float*>(smem + L::o);
  constexpr int kChunks = HD / 8;  // 16-byte chunks per row

  const FlashTile tile = p.tiles[blockIdx.x];
  const int group = p.heads / p.kv_heads;
  const int heads_here = FlashHeadsPerCta(group), tile_rows = kFlashTileQ / heads_here;
  const int h_base = blockIdx.y * heads_here, kvh = h_base / group;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int32_t* table = p.block_tables + static_cast<int64_t>(tile.seq) * p.max_blocks;

  // CTA row r is query r % tile_rows of head h_base + r / tile_rows. Rows past count repeat the last query (never
  // stored). O = 0.
  for (int idx = threadIdx.x; idx < kFlashTileQ * kChunks; idx += kThreads) {
    const int r = idx / kChunks, c = idx % kChunks;
    const int row = tile.row0 + min(r % tile_rows, tile.count - 1), h = h_base + r / tile_rows;
    *reinterpret_cast<uint4*>(qs + r * L::ldh + 8 * c) =
        *reinterpret_cast<const uint4*>(p.q + row * p.ldq + h * HD + 8 * c);
  }
  for (int idx = threadIdx.x; idx < kFlashTileQ * HD; idx += kThreads) os[(idx / HD) * L::ldo + idx % HD] = 0.f;

  // Row statistics: lanes 2i and 2i+1 share row warp*16 + i, each owning half of its columns.
  const int r = warp * 16 + lane / 2, half_sel = lane % 2;
  const int qi = r % tile_rows, h = h_base + r / tile_rows;
  const int qpos = tile.pos0 + qi;
  const bool row_valid = qi < tile.count;
  float m = -FLT_MAX, l = 0.f;

  const int hi = tile.pos0 + tile.count - 1;
  const int lo = p.window > 0 ? max(0, tile.pos0 - p.window + 1) : 0;
  for (int kb = lo; kb <= hi; kb += kFlashTileK) {
    __syncthreads();  // previous K/V tile fully used
    for (int idx = threadIdx.x; idx < kFlashTileK * kChunks; idx += kThreads) {
      const int kk = idx / kChunks, c = idx % kChunks;
      const int j = kb + kk;
      uint4 kv = make_uint4(0, 0, 0, 0), vv = kv;
      if (j <= hi) {
        const int64_t slot = static_cast<int64_t>(table[j / p.block_size]) * p.block_size + j % p.block_size;
        const int64_t off = (slot * p.kv_heads + kvh) * HD + 8 * c;
        kv = *reinterpret_cast<const uint4*>(p.k_cache + off);
        vv = *reinterpret_cast<const uint4*>(p.v_cache + off);
      }
      *reinterpret_cast<uint4*>(ks + kk * L::ldh + 8 * c) = kv;
      *reinterpret_cast<uint4*>(vs + kk * L::ldh + 8 * c) = vv;
    }
    __syncthreads();

    // S = Q K^T for this warp's 16 rows.
#pragma unroll
    for (int n = 0; n < kFlashTileK / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int d = 0; d < HD / 16; ++d) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b;
        wmma::load_matrix_sync(a, qs + warp * 16 * L::ldh + d * 16, L::ldh);
        wmma::load_matrix_sync(b, ks + n * 16 * L::ldh + d * 16, L::ldh);
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(ss + warp * 16 * L::lds + n * 16, acc, L::lds, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax on this lane's 32 columns of row r.
    float sv[kFlashTileK / 2];
    float tile_max = -FLT_MAX;
#pragma unroll
    for (int c = 0; c < kFlashTileK / 2; ++c) {
      const int col = half_sel * (kFlashTileK / 2) + c, j = kb + col;
      const bool valid = row_valid && j <= hi && Attends(qpos, j, p.window);
      sv[c] = valid ? ss[r * L::lds + col] * p.scale : -FLT_MAX;
      tile_max = fmaxf(tile_max, sv[c]);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float m_new = fmaxf(m, tile_max);
    const bool any = m_new > -FLT_MAX;
    const float corr = any ? __expf(m - m_new) : 1.f;
    float sum = 0.f;
#pragma unroll
    for (int c = 0; c < kFlashTileK / 2; ++c) {
      const float w = sv[c] > -FLT_MAX ? __expf(sv[c] - m_new) : 0.f;
      sum += w;
      ps[r * L::ldp + half_sel * (kFlashTileK / 2) + c] = __float2half_rn(w);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = l * corr + sum;
    m = m_new;
#pragma unroll 8
    for (int d = half_sel * (HD / 2); d < (half_sel + 1) * (HD / 2); ++d) os[r * L::ldo + d] *= corr;
    __syncwarp();

    // O += P V for this warp's rows.
#pragma unroll
    for (int d = 0; d < HD / 16; ++d) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, os + warp * 16 * L::ldo + d * 16, L::ldo, wmma::mem_row_major);
#pragma unroll
      for (int k = 0; k < kFlashTileK / 16; ++k) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b;
        wmma::load_matrix_sync(a, ps + warp * 16 * L::ldp + k * 16, L::ldp);
        wmma::load_matrix_sync(b, vs + k * 16 * L::ldh + d * 16, L::ldh);
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(os + warp * 16 * L::ldo + d * 16, acc, L::ldo, wmma::mem_row_major);
    }
    __syncwarp();
  }

  if (!row_valid) return;
  const float inv = 1.f / l;
  __half* out = p.out + static_cast<int64_t>(tile.row0 + qi) * p.heads * HD + h * HD;
  for (int d = half_sel * (HD / 2); d < (half_sel + 1) * (HD / 2); ++d) out[d] = __float2half_rn(os[r * L::ldo + d] * inv);
}

template <int HD>
void Launch(const FlashPrefillParams& p, cudaStream_t stream) {
  static const cudaError_t attr = cudaFuncSetAttribute(
      FlashPrefillKernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Smem<HD>::bytes));
  (void)attr;  // a failure surfaces as the launch error the caller checks
  const int ctas_per_token_tile = p.heads / FlashHeadsPerCta(p.heads / p.kv_heads);
  FlashPrefillKernel<HD><<<dim3(p.num_tiles, ctas_per_token_tile), kThreads, Smem<HD>::bytes, stream>>>(p);
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
