// W4A16 kernels against their CPU twins: the repack + dequantization is exact, the tensor-core GEMM and the
// dequant+cuBLAS path match x @ W in double to fp16 output rounding, and a row's result does not depend on how many
// rows share the launch (batch invariance). Fresh random AWQ weights in the checkpoint's own packing
// (../shared/tools/awq_reference.py pack_awq) for every shape.
#include <cmath>
#include <cstring>

#include "inference/cuda/kernels/elementwise.h"
#include "inference/cuda/kernels/w4a16.h"
#include "inference/cuda/linear.h"
#include "tests/gpu/awq_case.h"
#include "tests/gpu/gpu_test_util.h"

namespace inference::cuda {
namespace {

using testing::DeviceArray;

using testing::AwqCase;
using testing::MakeCase;
using testing::Packed;
using testing::SmCount;

constexpr W4A16GemmKind kKinds[] = {W4A16GemmKind::kNarrow, W4A16GemmKind::kWide};
const char* KindName(W4A16GemmKind kind) { return kind == W4A16GemmKind::kNarrow ? "narrow" : "wide"; }

// Runs the GEMM of `kind` over the first m rows of x with `splits` K ranges; returns y as floats.
std::vector<float> RunGemm(const Packed& packed, const AwqCase& c, const DeviceArray<__half>& x, int m,
                           W4A16GemmKind kind, int splits, DeviceArray<float>* ws, DeviceArray<int32_t>* counters) {
  DeviceArray<__half> dy(static_cast<size_t>(m) * c.n);
  dy.Poison();
  W4A16GemmParams p;
  p.x = x.get(), p.ldx = c.k, p.qweight = packed.qweight.get(), p.scale_zero = packed.scale_zero.get();
  p.y = dy.get(), p.ldy = c.n, p.m = m, p.n = c.n, p.k = c.k, p.group = c.group, p.kind = kind, p.splits = splits;
  p.workspace = ws->get(), p.counters = counters->get();
  EXPECT_TRUE(ValidateW4A16Gemm(p).ok()) << ValidateW4A16Gemm(p);
  LaunchW4A16Gemm(p, nullptr);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  return testing::ToFloat(dy.Download());
}

std::vector<double> Reference(const AwqCase& c, const std::vector<float>& x, int m) {
  std::vector<double> y(static_cast<size_t>(m) * c.n, 0.0);
  for (int i = 0; i < m; ++i)
    for (int r = 0; r < c.k; ++r) {
      const double xv = x[static_cast<size_t>(i) * c.k + r];
      for (int col = 0; col < c.n; ++col) y[static_cast<size_t>(i) * c.n + col] += xv * c.w[static_cast<size_t>(r) * c.n + col];
    }
  return y;
}

struct Shape { int k, n, group; };
const Shape kShapes[] = {{4096, 576, 128}, {128, 384, 128}, {384, 128, 128}, {64, 192, 64}, {14336, 128, 128},
                         {4096, 640, 128}};
constexpr int kMaxRows = 300;

TEST(W4A16, DequantizedRepackEqualsTheAwqFormula) {
  std::mt19937 rng(1);
  for (const Shape& s : kShapes) {
    const AwqCase c = MakeCase(s.k, s.n, s.group, &rng);
    Packed packed(c);
    DeviceArray<__half> out(static_cast<size_t>(c.n) * c.k);
    out.Poison();
    const W4A16DequantParams p{packed.qweight.get(), packed.scale_zero.get(), c.n, c.k, c.group, out.get()};
    ASSERT_TRUE(ValidateW4A16Dequant(p).ok());
    LaunchW4A16Dequant(p, nullptr);
    const std::vector<float> got = testing::ToFloat(out.Download());
    int mismatches = 0;
    for (int col = 0; col < c.n; ++col)
      for (int r = 0; r < c.k; ++r) {
        const float want = HalfToFloat(FloatToHalf(c.w[static_cast<size_t>(r) * c.n + col]));
        mismatches += got[static_cast<size_t>(col) * c.k + r] != want;
      }
    EXPECT_EQ(mismatches, 0) << "k=" << s.k << " n=" << s.n;
  }
}

// q/k/v-style fusion: parts of 16-column multiples at 16-column offsets land where one repack of the whole would.
TEST(W4A16, FusedPartsRepackLikeTheWhole) {
  std::mt19937 rng(7);
  const AwqCase whole = MakeCase(128, 128, 64, &rng);
  Packed reference(whole);
  DeviceArray<uint32_t> qweight(static_cast<size_t>(whole.n) * whole.k / 8);
  DeviceArray<__half2> scale_zero(static_cast<size_t>(whole.n) * whole.k / whole.group);
  qweight.Poison();
  scale_zero.Poison();
  for (const auto& [offset, width] : std::vector<std::pair<int, int>>{{0, 64}, {64, 32}, {96, 32}}) {
    // The part's own AWQ tensors: columns [offset, offset + width) of the whole.
    std::vector<int32_t> qw(static_cast<size_t>(whole.k) * width / 8), qz(static_cast<size_t>(whole.k / 64) * width / 8);
    std::vector<float> sc(static_cast<size_t>(whole.k / 64) * width);
    for (int r = 0; r < whole.k; ++r)
      for (int c = 0; c < width / 8; ++c) qw[r * (width / 8) + c] = whole.qweight[r * (whole.n / 8) + (offset / 8) + c];
    for (int g = 0; g < whole.k / 64; ++g) {
      for (int c = 0; c < width / 8; ++c) qz[g * (width / 8) + c] = whole.qzeros[g * (whole.n / 8) + (offset / 8) + c];
      for (int c = 0; c < width; ++c) sc[g * width + c] = whole.scales[g * whole.n + offset + c];
    }
    DeviceArray<int32_t> dqw(qw), dqz(qz);
    DeviceArray<__half> dsc(testing::ToHalf(sc));
    const AwqRepackParams p{dqw.get(), dqz.get(), dsc.get(), whole.k, width, 64, qweight.get(), scale_zero.get(),
                            offset};
    ASSERT_TRUE(ValidateAwqRepack(p).ok()) << ValidateAwqRepack(p);
    LaunchAwqRepack(p, nullptr);
  }
  EXPECT_EQ(qweight.Download(), reference.qweight.Download());
  const std::vector<__half2> a = scale_zero.Download(), b = reference.scale_zero.Download();
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(__half2)), 0);
}

TEST(W4A16, GemmMatchesDoubleReferenceAtEveryRowCountAndSplit) {
  std::mt19937 rng(2);
  DeviceArray<float> ws(size_t{kW4MaxSplits} * kMaxRows * 640);
  DeviceArray<int32_t> counters(W4A16GemmCounters(kMaxRows, 640));
  cudaMemset(counters.get(), 0, W4A16GemmCounters(kMaxRows, 640) * sizeof(int32_t));
  for (const Shape& s : kShapes) {
    const AwqCase c = MakeCase(s.k, s.n, s.group, &rng);
    Packed packed(c);
    const std::vector<float> x = testing::RandomHalfValues(static_cast<size_t>(kMaxRows) * c.k, -1.f, 1.f, &rng);
    DeviceArray<__half> dx(testing::ToHalf(x));
    const std::vector<double> want_all = Reference(c, x, kMaxRows);
    for (W4A16GemmKind kind : kKinds)
      for (int splits : {1, W4A16GemmSplits(kind, c.n, c.k, SmCount())}) {
        for (int m : {1, 2, 5, 16, 17, 32, 33, 64, 65, 130, kMaxRows}) {
          const std::vector<float> got = RunGemm(packed, c, dx, m, kind, splits, &ws, &counters);
          const std::vector<double> want(want_all.begin(), want_all.begin() + static_cast<size_t>(m) * c.n);
          EXPECT_LT(testing::RelErr(got, want), 1e-3)
              << "k=" << s.k << " n=" << s.n << " m=" << m << " " << KindName(kind) << " splits=" << splits;
        }
      }
  }
  // Every tile's last CTA put its counter back: the next launch (or graph replay) starts from zero.
  for (int32_t v : counters.Download()) ASSERT_EQ(v, 0);
}

// The property the engine relies on for "the same request gives the same tokens alone and in a batch": within a
// kind, a row's output is bit-identical whatever the row count (the tile shape changes with it, the arithmetic must
// not).
TEST(W4A16, GemmRowsDoNotDependOnTheRowCount) {
  std::mt19937 rng(4);
  DeviceArray<float> ws(size_t{kW4MaxSplits} * 256 * 640);
  DeviceArray<int32_t> counters(W4A16GemmCounters(256, 640));
  cudaMemset(counters.get(), 0, W4A16GemmCounters(256, 640) * sizeof(int32_t));
  int count = 0;
  const W4A16GemmConfig* configs = W4A16GemmConfigs(&count);
  for (const Shape& s : {kShapes[0], kShapes[4], kShapes[5]}) {
    const AwqCase c = MakeCase(s.k, s.n, s.group, &rng);
    Packed packed(c);
    DeviceArray<__half> dx(testing::ToHalf(testing::RandomHalfValues(size_t{256} * c.k, -1.f, 1.f, &rng)));
    for (W4A16GemmKind kind : kKinds) {
      const int splits = W4A16GemmSplits(kind, c.n, c.k, SmCount());
      const std::vector<float> all = RunGemm(packed, c, dx, 256, kind, splits, &ws, &counters);
      for (int m : {1, 3, 8, 16, 17, 32, 40, 64, 65, 128, 200}) {
        const std::vector<float> got = RunGemm(packed, c, dx, m, kind, splits, &ws, &counters);
        EXPECT_EQ(std::memcmp(got.data(), all.data(), got.size() * sizeof(float)), 0)
            << "k=" << s.k << " n=" << s.n << " m=" << m << " " << KindName(kind);
      }
      // Every CTA shape of the kind computes the same bits.
      int tried = 0;
      for (int i = 0; i < count; ++i) {
        if (configs[i].kind != kind || c.n % (64 * configs[i].nw) != 0) continue;
        ++tried;
        DeviceArray<__half> dy(size_t{100} * c.n);
        W4A16GemmParams p;
        p.x = dx.get(), p.ldx = c.k, p.qweight = packed.qweight.get(), p.scale_zero = packed.scale_zero.get();
        p.y = dy.get(), p.ldy = c.n, p.m = 100, p.n = c.n, p.k = c.k, p.group = c.group, p.kind = kind;
        p.splits = splits, p.workspace = ws.get(), p.counters = counters.get();
        for (int m : {100, 1}) {  // a config for one row (x_rows) runs its own kernel only there
          p.m = m;
          dy.Poison();
          ASSERT_TRUE(LaunchW4A16GemmWith(p, configs[i], nullptr).ok());
          const std::vector<float> got = testing::ToFloat(dy.Download());
          EXPECT_EQ(std::memcmp(got.data(), all.data(), size_t{1} * m * c.n * sizeof(float)), 0)
              << "k=" << s.k << " n=" << s.n << " m=" << m << " " << KindName(kind) << " config mw=" << configs[i].mw
              << " mt=" << configs[i].mt << " nw=" << configs[i].nw << " sk=" << configs[i].sk
              << " stages=" << configs[i].stages << " x_rows=" << configs[i].x_rows;
        }
      }
      EXPECT_GE(tried, 2) << KindName(kind) << " n=" << c.n;
    }
  }
}

TEST(W4A16, LinearDispatchMatchesDoubleReferenceForBothRowKinds) {
  std::mt19937 rng(3);
  auto cublas = CublasGemm::Create();
  ASSERT_TRUE(cublas.ok()) << cublas.status();
  CublasGemm* handle = cublas->get();
  for (const Shape& s : {kShapes[0], kShapes[3]}) {
    const AwqCase c = MakeCase(s.k, s.n, s.group, &rng);
    Packed packed(c);
    DeviceArray<__half> scratch(static_cast<size_t>(c.n) * c.k);
    DeviceLinear w{packed.qweight.get(), packed.scale_zero.get(), nullptr, c.n, c.k, c.group};
    w.splits = W4A16GemmSplits(W4A16GemmKind::kNarrow, c.n, c.k, SmCount());
    w.wide_splits = W4A16GemmSplits(W4A16GemmKind::kWide, c.n, c.k, SmCount());
    constexpr int kMostDecode = 130;  // past kWide's 128: the whole step through dequantize + cuBLAS
    DeviceArray<float> ws(LinearGemmWorkspaceBytes(w, kMostDecode) / sizeof(float) + 1);
    DeviceArray<int32_t> counters(LinearGemmCounters(w, kMostDecode) + 1);
    cudaMemset(counters.get(), 0, (LinearGemmCounters(w, kMostDecode) + 1) * sizeof(int32_t));
    LinearContext ctx{nullptr, handle, scratch.get(), LinearScratchBytes(w)};
    ctx.gemm_workspace = ws.get(), ctx.gemm_workspace_bytes = LinearGemmWorkspaceBytes(w, kMostDecode);
    ctx.gemm_counters = counters.get(), ctx.num_gemm_counters = LinearGemmCounters(w, kMostDecode);
    for (const LinearRows rows :
         {LinearRows{0, 1}, LinearRows{0, 32}, LinearRows{0, 70}, LinearRows{17, 0}, LinearRows{9, 4}, LinearRows{5, 40},
          LinearRows{0, 130}, LinearRows{3, 129}}) {
      const int m = rows.total();
      const std::vector<float> x = testing::RandomHalfValues(static_cast<size_t>(m) * c.k, -1.f, 1.f, &rng);
      DeviceArray<__half> dx(testing::ToHalf(x));
      DeviceArray<__half> dy(static_cast<size_t>(m) * c.n);
      dy.Poison();
      ASSERT_TRUE(RunLinear(w, dx.get(), rows, dy.get(), ctx).ok());
      const double err = testing::RelErr(testing::ToFloat(dy.Download()), Reference(c, x, m));
      EXPECT_LT(err, 1e-3) << "k=" << s.k << " n=" << s.n << " prefill=" << rows.prefill << " decode=" << rows.decode;
    }
  }
}

// Prefill rows, decode rows above 128 and every sampled row go through cuBLAS with algorithms fixed per row class:
// within a class a row must not depend on the row count, and a step's decode rows must not depend on the prefill
// rows sharing it.
TEST(W4A16, CublasRowsDoNotDependOnTheRowCount) {
  std::mt19937 rng(5);
  auto cublas = CublasGemm::Create();
  ASSERT_TRUE(cublas.ok()) << cublas.status();
  CublasGemm* handle = cublas->get();
  const AwqCase c = MakeCase(4096, 640, 128, &rng);
  Packed packed(c);
  DeviceArray<__half> scratch(static_cast<size_t>(c.n) * c.k);
  const DeviceLinear w{packed.qweight.get(), packed.scale_zero.get(), nullptr, c.n, c.k, c.group};
  const LinearContext ctx{nullptr, handle, scratch.get(), LinearScratchBytes(w)};
  constexpr int kAll = 1000;
  DeviceArray<__half> dx(testing::ToHalf(testing::RandomHalfValues(size_t{kAll} * c.k, -1.f, 1.f, &rng)));
  auto linear = [&](LinearRows rows) {
    DeviceArray<__half> dy(static_cast<size_t>(rows.total()) * c.n);
    EXPECT_TRUE(RunLinear(w, dx.get(), rows, dy.get(), ctx).ok());
    return testing::ToFloat(dy.Download());
  };
  auto same_rows = [](const std::vector<float>& got, const std::vector<float>& want, size_t first, size_t count) {
    return std::memcmp(got.data() + first, want.data(), count * sizeof(float)) == 0;
  };
  const std::vector<float> all = linear(LinearRows{kAll, 0});
  for (int m : {2, 5, 17, 64, 300, 513})
    EXPECT_TRUE(same_rows(linear(LinearRows{m, 0}), all, 0, static_cast<size_t>(m) * c.n)) << "prefill rows m=" << m;
  // Decode rows above kWide's 128: their own algorithm, the same for every count and beside any prefill rows.
  const std::vector<float> decode_all = linear(LinearRows{0, 256});
  for (int m : {129, 200, 255})
    EXPECT_TRUE(same_rows(linear(LinearRows{0, m}), decode_all, 0, static_cast<size_t>(m) * c.n)) << "decode rows m=" << m;
  DeviceArray<__half> shifted(static_cast<size_t>(kAll) * c.k);  // 7 prefill rows, then the same 200 decode rows
  cudaMemcpy(shifted.get(), dx.get(), size_t{7} * c.k * sizeof(__half), cudaMemcpyDeviceToDevice);
  cudaMemcpy(shifted.get() + size_t{7} * c.k, dx.get(), size_t{200} * c.k * sizeof(__half), cudaMemcpyDeviceToDevice);
  DeviceArray<__half> mixed_y(size_t{207} * c.n);
  ASSERT_TRUE(RunLinear(w, shifted.get(), LinearRows{7, 200}, mixed_y.get(), ctx).ok());
  const std::vector<float> mixed = testing::ToFloat(mixed_y.Download());
  EXPECT_TRUE(same_rows(mixed, all, 0, size_t{7} * c.n)) << "the prefill rows of a mixed step";
  EXPECT_EQ(std::memcmp(mixed.data() + size_t{7} * c.n, decode_all.data(), size_t{200} * c.n * sizeof(float)), 0)
      << "the decode rows of a mixed step";

  constexpr int kVocab = 32000, kHidden = 4096;
  DeviceArray<__half> head(testing::ToHalf(testing::RandomHalfValues(size_t{kVocab} * kHidden, -0.05f, 0.05f, &rng)));
  auto logits = [&](int m) {
    DeviceArray<float> out(static_cast<size_t>(m) * kVocab);
    EXPECT_TRUE(RunLmHead(head.get(), kVocab, kHidden, dx.get(), m, out.get(), ctx).ok());
    return out.Download();
  };
  // The lm_head's classes are the decode classes: 1-32, 33-128, more.
  struct Class { int largest; std::vector<int> others; };
  for (const Class& cl : {Class{32, {1, 2, 4, 8, 16, 31}}, Class{128, {33, 64, 100}}, Class{256, {129, 200}}}) {
    const std::vector<float> want = logits(cl.largest);
    for (int m : cl.others) {
      const std::vector<float> got = logits(m);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0) << "lm_head rows m=" << m;
    }
  }
}

// gate/up fused for SiLU*up: the two parts interleaved in runs of kW4SiluRun land where each part's own repack puts
// its columns (the same bits for the same K split), and RunGateUpSiluMul gives the same bits whether the kNarrow
// GEMM's epilogue computes the product (steps of 1-8 decode rows; every kNarrow config at 1 and 20 rows) or SiluMul
// does after the GEMM, and matches the double reference on every path.
TEST(W4A16, GateUpSiluMulInTheEpilogueEqualsGemmThenSiluMul) {
  std::mt19937 rng(8);
  const int k = 1024, inter = 192, group = 128, n = 2 * inter;
  const AwqCase gate = MakeCase(k, inter, group, &rng), up = MakeCase(k, inter, group, &rng);
  DeviceArray<uint32_t> qweight(size_t{1} * n * k / 8);
  DeviceArray<__half2> scale_zero(size_t{1} * n * (k / group));
  qweight.Poison();
  scale_zero.Poison();
  int part = 0;
  for (const AwqCase* c : {&gate, &up}) {
    DeviceArray<int32_t> qw(c->qweight), qz(c->qzeros);
    DeviceArray<__half> sc(testing::ToHalf(c->scales));
    AwqRepackParams rp{qw.get(), qz.get(), sc.get(), k, inter, group, qweight.get(), scale_zero.get(),
                       part++ * kW4SiluRun};
    rp.col_run = kW4SiluRun, rp.col_stride = 2 * kW4SiluRun;
    ASSERT_TRUE(ValidateAwqRepack(rp).ok()) << ValidateAwqRepack(rp);
    LaunchAwqRepack(rp, nullptr);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  DeviceLinear w{qweight.get(), scale_zero.get(), nullptr, n, k, group};
  w.splits = W4A16GemmSplits(W4A16GemmKind::kNarrow, n, k, SmCount());
  w.wide_splits = W4A16GemmSplits(W4A16GemmKind::kWide, n, k, SmCount());
  w.interleave = kW4SiluRun;
  constexpr int kMost = 140;
  DeviceArray<float> ws(LinearGemmWorkspaceBytes(w, kMost) / sizeof(float) + 1);
  DeviceArray<int32_t> counters(LinearGemmCounters(w, kMost) + 1);
  cudaMemset(counters.get(), 0, (LinearGemmCounters(w, kMost) + 1) * sizeof(int32_t));
  auto cublas = CublasGemm::Create();
  ASSERT_TRUE(cublas.ok()) << cublas.status();
  DeviceArray<__half> scratch(size_t{1} * n * k);
  LinearContext ctx{nullptr, cublas->get(), scratch.get(), LinearScratchBytes(w)};
  ctx.gemm_workspace = ws.get(), ctx.gemm_workspace_bytes = LinearGemmWorkspaceBytes(w, kMost);
  ctx.gemm_counters = counters.get(), ctx.num_gemm_counters = LinearGemmCounters(w, kMost);
  const std::vector<float> x = testing::RandomHalfValues(size_t{kMost} * k, -1.f, 1.f, &rng);
  DeviceArray<__half> dx(testing::ToHalf(x));

  // The interleaved repack against each part's own, three rows through kNarrow with the fused linear's K split.
  const int m3 = 3;
  DeviceArray<__half> fused_y(size_t{m3} * n);
  ASSERT_TRUE(RunLinear(w, dx.get(), LinearRows{0, m3}, fused_y.get(), ctx).ok());
  const std::vector<float> fused = testing::ToFloat(fused_y.Download());
  DeviceArray<float> no_ws(1);
  DeviceArray<int32_t> no_counters(1);
  const AwqCase* parts[2] = {&gate, &up};
  for (int pi = 0; pi < 2; ++pi) {
    Packed own(*parts[pi]);
    const std::vector<float> y = RunGemm(own, *parts[pi], dx, m3, W4A16GemmKind::kNarrow, w.splits, &no_ws, &no_counters);
    for (int r = 0; r < m3; ++r)
      for (int c = 0; c < inter; ++c)
        ASSERT_EQ(fused[size_t{1} * r * n + c / kW4SiluRun * 2 * kW4SiluRun + pi * kW4SiluRun + c % kW4SiluRun],
                  y[size_t{1} * r * inter + c])
            << "part " << pi << " row " << r << " column " << c;
  }

  const std::vector<double> g_ref = Reference(gate, x, kMost), u_ref = Reference(up, x, kMost);
  DeviceArray<__half> gate_up(size_t{kMost} * n), act(size_t{kMost} * inter), act_kernel(size_t{kMost} * inter);
  for (const LinearRows rows : {LinearRows{0, 1}, LinearRows{0, 8}, LinearRows{0, 20}, LinearRows{0, 32},
                                LinearRows{0, 33}, LinearRows{0, 100}, LinearRows{6, 0}, LinearRows{3, 4},
                                LinearRows{0, 140}}) {
    const int m = rows.total();
    act.Poison();
    ASSERT_TRUE(RunGateUpSiluMul(w, dx.get(), rows, gate_up.get(), act.get(), ctx).ok());
    const std::vector<float> got = testing::ToFloat(act.Download());
    std::vector<double> want(size_t{1} * m * inter);
    for (size_t i = 0; i < want.size(); ++i) {
      const size_t r = i / inter, c = i % inter;
      const double g = g_ref[r * inter + c];
      want[i] = g / (1 + std::exp(-g)) * u_ref[r * inter + c];
    }
    EXPECT_LT(testing::RelErr(std::vector<float>(got.begin(), got.begin() + want.size()), want), 2e-3)
        << "prefill=" << rows.prefill << " decode=" << rows.decode;
    // The same rows as a plain GEMM and then SiluMul over the interleaved columns.
    act_kernel.Poison();
    ASSERT_TRUE(RunLinear(w, dx.get(), rows, gate_up.get(), ctx).ok());
    SiluMulParams sp{gate_up.get(), act_kernel.get(), m, inter};
    sp.interleave = kW4SiluRun;
    ASSERT_TRUE(ValidateSiluMul(sp).ok());
    LaunchSiluMul(sp, nullptr);
    const std::vector<__half> fused_act = act.Download(), kernel_act = act_kernel.Download();
    EXPECT_EQ(std::memcmp(fused_act.data(), kernel_act.data(), size_t{1} * m * inter * sizeof(__half)), 0)
        << "prefill=" << rows.prefill << " decode=" << rows.decode;
  }

  // Every kNarrow config's epilogue: the bits of the default's.
  int count = 0;
  const W4A16GemmConfig* configs = W4A16GemmConfigs(&count);
  for (int m : {1, 20}) {
    act.Poison();
    ASSERT_TRUE(RunGateUpSiluMul(w, dx.get(), LinearRows{0, m}, gate_up.get(), act.get(), ctx).ok());
    const std::vector<__half> want = act.Download();
    for (int i = 0; i < count; ++i) {
      if (configs[i].kind != W4A16GemmKind::kNarrow) continue;
      W4A16GemmParams p;
      p.x = dx.get(), p.ldx = k, p.qweight = w.qweight, p.scale_zero = w.scale_zero, p.y = act_kernel.get();
      p.ldy = inter, p.m = m, p.n = n, p.k = k, p.group = group, p.splits = w.splits, p.silu_mul = true;
      act_kernel.Poison();
      ASSERT_TRUE(ValidateW4A16Gemm(p).ok()) << ValidateW4A16Gemm(p);
      ASSERT_TRUE(LaunchW4A16GemmWith(p, configs[i], nullptr).ok());
      const std::vector<__half> got = act_kernel.Download();
      EXPECT_EQ(std::memcmp(got.data(), want.data(), size_t{1} * m * inter * sizeof(__half)), 0)
          << "m=" << m << " config mt=" << configs[i].mt << " stages=" << configs[i].stages
          << " x_rows=" << configs[i].x_rows;
    }
  }
}

TEST(W4A16, ValidationNamesTheShape) {
  W4A16GemmParams p;
  EXPECT_EQ(ValidateW4A16Gemm(p).code(), absl::StatusCode::kInvalidArgument);
  int dummy[4] = {};
  p.x = reinterpret_cast<const __half*>(dummy);
  p.qweight = reinterpret_cast<const uint32_t*>(dummy);
  p.scale_zero = reinterpret_cast<const __half2*>(dummy);
  p.y = reinterpret_cast<__half*>(dummy);
  p.m = 1, p.n = 64, p.k = 48, p.group = 64, p.ldx = 48, p.ldy = 64;
  EXPECT_NE(ValidateW4A16Gemm(p).message().find("in_features=48"), std::string::npos);
}

}  // namespace
}  // namespace inference::cuda
