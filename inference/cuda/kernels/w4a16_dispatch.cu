// The W4A16 GEMM's dispatch (w4a16.h): the K split of each kind, validation, the default config per row count and
// shape, and the lookup of a config among the kernel tables (w4a16_entries.h). Host code only.
#include <algorithm>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/w4a16.h"
#include "inference/cuda/kernels/w4a16_entries.h"

namespace inference::cuda {
namespace {

constexpr W4A16GemmKind kN = W4A16GemmKind::kNarrow, kW = W4A16GemmKind::kWide;
constexpr int kKWarps = kW4NarrowKWarps, kWBuf = kW4NarrowWBuf;
constexpr int kTmaUnits = kW4NarrowTmaUnits, kTmaUnitsShort = kW4NarrowTmaUnitsShort;
constexpr int kNarrowCtasPerSm = 3;  // kNarrow's splits aim at this many CTAs per SM
constexpr int kWideRefCols = 128;    // kWide's splits aim at one CTA per SM for 128-column tiles

// Every kernel of both kinds.
const std::vector<W4A16GemmEntry>& AllEntries() {
  static const std::vector<W4A16GemmEntry> all = [] {
    std::vector<W4A16GemmEntry> v;
    for (auto* table : {W4A16NarrowEntries, W4A16WideEntries, W4A16WideSwappedEntries}) {
      int n = 0;
      const W4A16GemmEntry* e = table(&n);
      v.insert(v.end(), e, e + n);
    }
    return v;
  }();
  return all;
}

bool Aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

absl::Status ValidateNormInput(const W4A16GemmParams& p, const W4A16NormInput& n) {
  if (p.kind != W4A16GemmKind::kNarrow || p.m != 1)
    return absl::InvalidArgumentError(
        absl::StrCat("w4a16 gemm: a norm input needs kind kNarrow and m=1 (m=", p.m, ")"));
  return ValidateW4A16NormInput(n, p.k);
}

// The kernel of config c for p's shape, or why there is none.
absl::StatusOr<const W4A16GemmEntry*> EntryFor(const W4A16GemmParams& p, const W4A16GemmConfig& c) {
  if (c.kind != p.kind)
    return absl::InvalidArgumentError("w4a16 gemm: the config's kind differs from the params' kind");
  if (p.n % (kW4BlockN * c.nw) != 0)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: n=", p.n, " is not a multiple of the config's ",
                                                   kW4BlockN * c.nw, " columns"));
  for (const W4A16GemmEntry& e : AllEntries())
    if (e.config == c) return &e;
  return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: no kernel for config mw=", c.mw, " mt=", c.mt,
                                                 " nw=", c.nw, " sk=", c.sk, " stages=", c.stages));
}

int SmCount() {  // of the device current at the first launch: one GPU per process
  static const int sm_count = [] {
    int device = 0, sms = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    return sms;
  }();
  return sm_count;
}

}  // namespace

int W4A16GemmSplits(W4A16GemmKind kind, int n, int k, int sm_count) {
  if (kind == W4A16GemmKind::kWide)
    return std::max(1, std::min({sm_count / std::max(1, n / kWideRefCols), kW4MaxSplits, k / kW4StageK}));
  // kNarrow: about kNarrowCtasPerSm CTAs per SM, preferring a split that gives each of a CTA's warps the same number
  // of 128-k groups (AWQ's usual group; any group is correct, only the balance differs).
  const int cap = std::max(1, std::min({kNarrowCtasPerSm * sm_count / std::max(1, n / kW4BlockN), kW4MaxSplits,
                                        k / kW4StageK}));
  const int groups128 = k / (2 * kW4StageK);
  for (int s = cap; s >= 1; --s)
    if (groups128 % (kKWarps * s) == 0) return s;
  return cap;
}

size_t W4A16GemmWorkspaceBytes(int m, int n, int splits) {
  return splits > 1 ? static_cast<size_t>(splits) * m * n * sizeof(float) : 0;
}

int W4A16GemmCounters(int m, int n) { return (n / kW4BlockN) * ((m + 15) / 16); }

// ValidateW4A16Gemm, and with a norm input ValidateW4A16GemmNorm (x not read).
absl::Status ValidateGemm(const W4A16GemmParams& p, const W4A16NormInput* norm) {
  if ((!p.x && !norm) || !p.qweight || !p.scale_zero || !p.y)
    return absl::InvalidArgumentError("w4a16 gemm: null pointer");
  if (p.m < 1) return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: m=", p.m, " must be >= 1"));
  if (absl::Status s = ValidateW4Shape("w4a16 gemm", p.n, p.k, p.group); !s.ok()) return s;
  if (norm) {
    if (absl::Status s = ValidateNormInput(p, *norm); !s.ok()) return s;
  } else if (p.ldx < p.k || p.ldx % 8 != 0 || reinterpret_cast<uintptr_t>(p.x) % 16 != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("w4a16 gemm: ldx=", p.ldx, " must be >= k=", p.k, " and a multiple of 8, x 16-byte aligned"));
  const int y_width = p.silu_mul ? p.n / 2 : p.n;  // silu_mul: one output per gate/up pair
  if (p.ldy < y_width || p.ldy % 2 != 0)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: ldy=", p.ldy, " must be even and >= ", y_width,
                                                   p.silu_mul ? " (n / 2, silu_mul)" : " (n)"));
  if (p.splits < 1 || p.splits > kW4MaxSplits || p.splits > p.k / kW4StageK)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: splits=", p.splits, " outside [1, ",
                                                   std::min(kW4MaxSplits, p.k / kW4StageK), "]"));
  if (p.silu_mul && p.kind != W4A16GemmKind::kNarrow)
    return absl::InvalidArgumentError("w4a16 gemm: silu_mul needs kind kNarrow");
  if (p.kind == W4A16GemmKind::kWide && p.splits > 1 && (!p.workspace || !p.counters))
    return absl::InvalidArgumentError(
        absl::StrCat("w4a16 gemm: kWide with splits=", p.splits, " needs a workspace and counters"));
  return absl::OkStatus();
}

absl::Status ValidateW4A16Gemm(const W4A16GemmParams& p) { return ValidateGemm(p, nullptr); }

absl::Status ValidateW4A16NormInput(const W4A16NormInput& n, int k) {
  if (!n.residual) return absl::InvalidArgumentError("w4a16 gemm: a norm input needs residual");
  if (k > kW4NormMaxK)
    return absl::InvalidArgumentError(absl::StrCat("w4a16 gemm: a norm input of k=", k, " exceeds ", kW4NormMaxK));
  if (!n.weight || !(n.eps > 0) || (n.delta && !n.residual_out))
    return absl::InvalidArgumentError("w4a16 gemm: a norm input needs weight, eps > 0 and, with delta, residual_out");
  if (n.delta && n.residual_out == n.residual)
    return absl::InvalidArgumentError(
        "w4a16 gemm: a norm input's residual_out must be another buffer than residual (the CTAs read it)");
  if (!Aligned16(n.residual) || !Aligned16(n.delta) || !Aligned16(n.residual_out) || !Aligned16(n.weight))
    return absl::InvalidArgumentError("w4a16 gemm: a norm input's rows must be 16-byte aligned");
  return absl::OkStatus();
}

absl::Status ValidateW4A16GemmNorm(const W4A16GemmParams& p, const W4A16NormInput& norm) {
  return ValidateGemm(p, &norm);
}

const W4A16GemmConfig* W4A16GemmConfigs(int* count) {
  static const std::vector<W4A16GemmConfig> configs = [] {
    std::vector<W4A16GemmConfig> v;
    for (const W4A16GemmEntry& e : AllEntries()) v.push_back(e.config);
    return v;
  }();
  *count = static_cast<int>(configs.size());
  return configs.data();
}

// From bench/engine/kernel_bench's sweep on an H200 (bench/RESULTS.md), Mistral-7B shapes. kWide up to 64 rows: the
// swapped kernel (w4a16_wide_swapped.cu, two warpgroups, 64 rows per CTA), except for gate/up, where one warpgroup
// with two column blocks stays faster (85 against 102 us at 64 rows; at 64 rows q/k/v 39.3 against 42.9 us, o_proj
// 28.1 against 29.7, down_proj 63.3 against 70.8). Above 64 rows two warpgroups (four blocks for gate/up), except
// for the q/k/v width between o_proj's and gate/up's, where one warpgroup stays faster (50.6 against 52.1 us at 128
// rows); there the swapped kernel is slower on every shape (its activations are read once per 128 columns). kNarrow:
// up to 8 rows one n8 tile per CTA and the bulk-copy ring: for launches of at most two CTAs per SM four units deep
// with slots of the tile's 8 rows, for more three units deep, at one row with slots of one activation row
// (ten-GEMM chains with programmatic launch, eighth round: at one row down_proj 13.4 us against 15.5 with four
// one-row slots, q/k/v 6.9 against 7.3 and 10.5, gate/up 19.7 against 20.1 and 20.5; at 8 rows q/k/v 8.2 against
// 11.8, gate/up 25.1 against 26.8, down_proj 17.0 against 19.5); up to 16 two tiles, above four, weights through
// registers.
W4A16GemmConfig W4A16GemmDefaultConfig(W4A16GemmKind kind, int m, int n, int splits, int sm_count) {
  constexpr int kLongN = 16384;  // gate/up's n (28672); q/k/v (6144), o_proj and down_proj (4096) are shorter
  constexpr int kSquareN = 4096;
  const int blocks = n / kW4BlockN;
  if (kind == W4A16GemmKind::kWide) {
    if (m <= 64 && n < kLongN && blocks % 2 == 0) return {kW, 1, 4, 2, 1, 5, true};
    if (m <= 64 || (n > kSquareN && n < kLongN)) return {kW, 1, 4, n >= kLongN && blocks % 2 == 0 ? 2 : 1, 1, 4};
    return n >= kLongN && blocks % 4 == 0 ? W4A16GemmConfig{kW, 2, 4, 4, 1, 4} : W4A16GemmConfig{kW, 2, 4, 1, 1, 4};
  }
  if (m <= 8) {
    if (blocks * splits <= 2 * sm_count) return {kN, 1, 1, 1, 1, kTmaUnits};
    return {kN, 1, 1, 1, 1, kTmaUnitsShort, false, m == 1 ? 1 : 0};
  }
  return {kN, 1, m <= 16 ? 2 : 4, 1, 1, kWBuf};
}

absl::Status LaunchW4A16GemmWith(const W4A16GemmParams& p, const W4A16GemmConfig& c, cudaStream_t stream) {
  const absl::StatusOr<const W4A16GemmEntry*> e = EntryFor(p, c);
  if (!e.ok()) return e.status();
  (*e)->launch(p, stream);
  return absl::OkStatus();
}

absl::Status LaunchW4A16GemmNormWith(const W4A16GemmParams& p, const W4A16NormInput& norm, const W4A16GemmConfig& c,
                                     cudaStream_t stream) {
  const absl::StatusOr<const W4A16GemmEntry*> e = EntryFor(p, c);
  if (!e.ok()) return e.status();
  if (!(*e)->launch_norm)
    return absl::InvalidArgumentError("w4a16 gemm: a norm input needs a bulk-copy kNarrow config");
  (*e)->launch_norm(p, norm, stream);
  return absl::OkStatus();
}

void LaunchW4A16Gemm(const W4A16GemmParams& p, cudaStream_t stream) {
  (void)LaunchW4A16GemmWith(p, W4A16GemmDefaultConfig(p.kind, p.m, p.n, p.splits, SmCount()), stream);  // always exists
}

void LaunchW4A16GemmNorm(const W4A16GemmParams& p, const W4A16NormInput& norm, cudaStream_t stream) {
  // At one row the default config is always a bulk-copy kNarrow one.
  (void)LaunchW4A16GemmNormWith(p, norm, W4A16GemmDefaultConfig(p.kind, p.m, p.n, p.splits, SmCount()), stream);
}

}  // namespace inference::cuda
