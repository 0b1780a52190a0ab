// Device helpers of the W4A16 kernels (w4a16.h's layout): a lane's group scales, the dequantization of one packed
// word into its four mma B-fragment registers, and the PTX wrappers (mma.sync, ldmatrix, cp.async) the GEMM uses.
// Device code only; included by the .cu files of kernels/.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {

inline constexpr int kW4StepsPerStage = kW4StageK / kW4StepK;  // 4 k16 steps per 64-k stage
inline constexpr int kW4FragmentBytes = 32 * 16;                 // one warp's k16 x 64-column fragment: 512 bytes
inline constexpr int kW4StageWBytes = kW4StepsPerStage * kW4FragmentBytes;  // a column block's weights per stage
inline constexpr int kW4StageSBytes = 64 * 4;  // a column block's (scale, zero) half2 of one group

inline constexpr uint32_t kHalfMagic1024 = 0x64006400u;  // half2(1024, 1024): OR a nibble in to get 1024 + q exactly
inline constexpr uint32_t kLowNibbles = 0x000F000Fu;

// (word & kMask) | kHalfMagic1024 in one LOP3: written in C++, the two constants make it an AND and an OR (a LOP3
// takes one immediate), a third more instructions in the dequantizations below.
template <uint32_t kMask>
__device__ __forceinline__ uint32_t MaskedHalfMagic(uint32_t word) {
  uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(r) : "r"(word), "n"(kMask), "n"(kHalfMagic1024));
  return r;
}

// One lane's (scale, zero) for its eight n8 tiles of a 64-column block in one group, as the half2 the
// dequantization wants: ss[i] = (scale, scale), zz[i] = (1024 + zero, 1024 + zero).
struct W4GroupScales {
  __half2 ss[8], zz[8];
};

// One tile's (scale, zero) half2, as the bits of a 32-bit word, in that form.
__device__ __forceinline__ void W4ScaleZeroOf(uint32_t raw, __half2& ss, __half2& zz) {
  const __half2 sz = *reinterpret_cast<const __half2*>(&raw);
  ss = __half2half2(__low2half(sz));
  zz = __hadd2(__half2half2(__high2half(sz)), __half2half2(__float2half(1024.f)));
}

// `group_block` points at the 64 half2 of one (column block, group) (global or shared memory).
__device__ __forceinline__ W4GroupScales W4ScalesOf(const __half2* group_block, int lane) {
  const uint4* src = reinterpret_cast<const uint4*>(group_block + (lane / 4) * 8);
  const uint4 lo = src[0], hi = src[1];
  const uint32_t raw[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
  W4GroupScales s;
#pragma unroll
  for (int i = 0; i < 8; ++i) W4ScaleZeroOf(raw[i], s.ss[i], s.zz[i]);
  return s;
}

__device__ __forceinline__ W4GroupScales LoadW4GroupScales(const __half2* scale_zero, int block, int group, int groups,
                                                          int lane) {
  return W4ScalesOf(scale_zero + (static_cast<int64_t>(block) * groups + group) * 64, lane);
}

// Word j of a lane's k16 fragment -> the B registers of its tiles 2j (out[0], out[1]) and 2j + 1 (out[2], out[3]),
// each the half2 (k, k + 1) = (q - zero) * scale, exact before the one fp16 rounding of the product.
__device__ __forceinline__ void DequantW4Word(uint32_t word, const W4GroupScales& s, int j, __half2 (&out)[4]) {
#pragma unroll
  for (int part = 0; part < 4; ++part) {
    const uint32_t bits = MaskedHalfMagic<kLowNibbles>(word >> (4 * part));
    const int tile = 2 * j + part / 2;
    out[part] = __hmul2(__hsub2(*reinterpret_cast<const __half2*>(&bits), s.zz[tile]), s.ss[tile]);
  }
}

// The centered form of one lane's group data, for kNarrow, which multiplies (q - zero) on the tensor cores and applies
// the scale to each group's fp32 sum: per n8 tile of the lane's column, the scale as a float, lo = (1024 + zero) and
// hi = -(64 + zero). `raw` is the lane's 32 bytes of the (column block, group): (scale, zero) of tiles 0..7.
struct W4CenteredScales {
  float s[8];
  __half2 lo[8], hi[8];
};

__device__ __forceinline__ W4CenteredScales W4CenteredScalesOf(const uint4 (&raw)[2]) {
  const uint32_t words[8] = {raw[0].x, raw[0].y, raw[0].z, raw[0].w, raw[1].x, raw[1].y, raw[1].z, raw[1].w};
  W4CenteredScales c;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const __half2 sz = *reinterpret_cast<const __half2*>(&words[i]);
    const __half2 zz = __high2half2(sz);  // (zero, zero): the swizzle is an operand modifier of the adds below
    c.s[i] = __low2float(sz);
    c.lo[i] = __hadd2(zz, __float2half2_rn(1024.f));
    c.hi[i] = __hsub2(__float2half2_rn(-64.f), zz);  // -(64 + zero), exact: one add, no negation and replication
  }
  return c;
}

// Word j of a lane's k16 fragment -> the A operand of mma.m16n8k16 whose 16 rows are the columns of the word's two n8
// tiles (rows 0-7 tile 2j, rows 8-15 tile 2j + 1) and whose k is the fragment's: a[0] = tile 2j (k, k + 1),
// a[1] = tile 2j + 1 (k, k + 1), a[2] = tile 2j (k + 8, k + 9), a[3] = tile 2j + 1 (k + 8, k + 9), each the integer
// q - zero, exact in fp16. Nibbles 0 and 2 become 1024 + q (minus 1024 + zero); nibbles 1 and 3 are masked in place
// as 1024 + 16q, which times 1/16 minus 64 + zero is q - zero in one exact fused multiply-add.
__device__ __forceinline__ void DequantW4WordCentered(uint32_t word, const W4CenteredScales& c, int j,
                                                      uint32_t (&a)[4]) {
  const __half2 sixteenth = __half2half2(__float2half(0.0625f));
  const uint32_t up = word >> 8;
  const uint32_t n0 = MaskedHalfMagic<kLowNibbles>(word), n1 = MaskedHalfMagic<(kLowNibbles << 4)>(word);
  const uint32_t n2 = MaskedHalfMagic<kLowNibbles>(up), n3 = MaskedHalfMagic<(kLowNibbles << 4)>(up);
  auto h = [](const uint32_t& v) { return *reinterpret_cast<const __half2*>(&v); };
  const __half2 r0 = __hsub2(h(n0), c.lo[2 * j]), r2 = __hfma2(h(n1), sixteenth, c.hi[2 * j]);
  const __half2 r1 = __hsub2(h(n2), c.lo[2 * j + 1]), r3 = __hfma2(h(n3), sixteenth, c.hi[2 * j + 1]);
  a[0] = *reinterpret_cast<const uint32_t*>(&r0);
  a[1] = *reinterpret_cast<const uint32_t*>(&r1);
  a[2] = *reinterpret_cast<const uint32_t*>(&r2);
  a[3] = *reinterpret_cast<const uint32_t*>(&r3);
}

__device__ __forceinline__ uint32_t AsU32(__half2 h) { return *reinterpret_cast<const uint32_t*>(&h); }

// d += a (16x16, row) * b (16x8, col), fp16 operands, fp32 accumulators.
__device__ __forceinline__ void MmaM16N8K16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Shared-memory addresses as the 32-bit offsets of the shared window: a kernel that converts its base pointers once
// and adds offsets saves the generic-to-shared conversion every access through a pointer costs.
__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// The A fragment of a 16x16 fp16 tile in shared memory; lane l passes the address of row l % 16, column 8 (l / 16).
__device__ __forceinline__ void LdMatrixX4(uint32_t (&a)[4], uint32_t smem_row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3])
               : "r"(smem_row));
}
__device__ __forceinline__ void LdMatrixX4(uint32_t (&a)[4], const void* smem_row) {
  LdMatrixX4(a, SmemAddr(smem_row));
}

// 16 bytes from shared memory (16-byte aligned).
__device__ __forceinline__ uint4 LdShared128(uint32_t addr) {
  uint4 v;
  asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(addr));
  return v;
}

// mbarrier and bulk-copy (TMA) wrappers for per-warp shared-memory rings (pointers, or SmemAddr offsets).
__device__ __forceinline__ void MbarInit(uint64_t* bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(SmemAddr(bar)), "r"(count) : "memory");
}
__device__ __forceinline__ void FenceMbarInit() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }
__device__ __forceinline__ void MbarArriveExpectTx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void MbarArriveExpectTx(uint64_t* bar, uint32_t bytes) {
  MbarArriveExpectTx(SmemAddr(bar), bytes);
}
__device__ __forceinline__ void MbarWait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_%=;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void MbarWait(uint64_t* bar, uint32_t parity) { MbarWait(SmemAddr(bar), parity); }
// Waits as MbarWait does, acquiring at cluster scope what other CTAs of the cluster released with MbarArriveRemote.
__device__ __forceinline__ void MbarWaitCluster(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  while (!done)
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(SmemAddr(bar)), "r"(parity)
        : "memory");
}
// One arrival on the mbarrier at `bar`'s offset in the shared memory of the cluster's CTA `rank`, releasing this
// thread's earlier writes (to that CTA's shared memory too) at cluster scope.
__device__ __forceinline__ void MbarArriveRemote(uint64_t* bar, uint32_t rank) {
  uint32_t remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(remote) : "r"(SmemAddr(bar)), "r"(rank));
  asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];\n" ::"r"(remote) : "memory");
}
// The cluster barrier split in two: every thread arrives (relaxed: after FenceMbarInit, what the mbarrier needs) and
// later waits until every thread of the cluster has arrived.
__device__ __forceinline__ void ClusterArriveRelaxed() {
  asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void ClusterWait() { asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory"); }

// True in one lane of the (converged) warp. A bulk copy issued under it with warp-uniform operands needs no loop over
// the active lanes, which the compiler wraps around one issued by a lane picked as `lane == 0`.
__device__ __forceinline__ bool ElectOne() {
  uint32_t elected;
  asm volatile("{\n.reg .pred p;\nelect.sync _|p, 0xffffffff;\nselp.u32 %0, 1, 0, p;\n}\n" : "=r"(elected));
  return elected != 0;
}

// `bytes` (a multiple of 16, both addresses 16-byte aligned) global -> shared; completes `bar`'s transaction bytes.
__device__ __forceinline__ void BulkCopyToShared(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
               "l"(src), "r"(bytes), "r"(bar)
               : "memory");
}
__device__ __forceinline__ void BulkCopyToShared(void* dst, const void* src, uint32_t bytes, uint64_t* bar) {
  BulkCopyToShared(SmemAddr(dst), src, bytes, SmemAddr(bar));
}

// 16 bytes global -> shared, bypassing L1; zero-filled when !valid.
__device__ __forceinline__ void CpAsync16(void* smem, const void* gmem, bool valid) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(addr), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

}  // namespace inference::cuda
