// The kNarrow GEMM's norm input (W4A16NormInput, linear.h's RunNormLinear): one row's AddRmsNorm computed by
// the GEMM itself gives the bits of AddRmsNorm's kernel followed by the GEMM, for every bulk-copy config and K split,
// with and without a delta; the residual goes to residual_out and nowhere else; at the linear level a step of one
// row takes the fused path (the norm's own output is left unwritten) and computes what the same row computes among
// others. Its validation: tests/unit/cuda/contracts_test.cc.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "inference/cuda/kernels/elementwise.h"
#include "inference/cuda/kernels/w4a16.h"
#include "inference/cuda/kernels/w4a16_entries.h"  // kW4NarrowWBuf: the register configs
#include "inference/cuda/linear.h"
#include "tests/gpu/awq_case.h"
#include "tests/gpu/gpu_test_util.h"

namespace inference::cuda {
namespace {

using testing::DeviceArray;

template <typename T>
bool SameBits(const std::vector<T>& a, const std::vector<T>& b, size_t n) {
  return a.size() >= n && b.size() >= n && std::memcmp(a.data(), b.data(), n * sizeof(T)) == 0;
}

// One row's residual stream: residual, delta and the norm weight, random (k halves / floats).
struct NormRow {
  std::vector<float> residual, delta, weight;
  NormRow(int k, std::mt19937* rng)
      : residual(testing::RandomHalfValues(k, -3, 3, rng)),
        delta(testing::RandomHalfValues(k, -1, 1, rng)),
        weight(testing::RandomHalfValues(k, 0.5, 1.5, rng)) {}
};

TEST(NormInput, GemmOfOneRowEqualsAddRmsNormThenGemm) {
  std::mt19937 rng(31);
  int count = 0;
  const W4A16GemmConfig* configs = W4A16GemmConfigs(&count);
  for (const auto& [k, n] : {std::pair{4096, 192}, std::pair{1024, 320}, std::pair{256, 64}}) {
    const testing::AwqCase c = testing::MakeCase(k, n, 128, &rng);
    const testing::Packed packed(c);
    const NormRow row(k, &rng);
    DeviceArray<__half> delta(testing::ToHalf(row.delta)), weight(testing::ToHalf(row.weight));
    DeviceArray<__half> x(k), y_want(n), y_got(n);
    for (const bool with_delta : {true, false}) {
      // The reference: AddRmsNorm in place on a copy of the residual, then the GEMM over its output.
      DeviceArray<float> res_in_place(row.residual);
      x.Poison();
      const AddRmsNormParams np{res_in_place.get(), with_delta ? delta.get() : nullptr, nullptr, weight.get(), x.get(),
                                1, k, 1e-5f};
      ASSERT_TRUE(ValidateAddRmsNorm(np).ok());
      LaunchAddRmsNorm(np, nullptr);
      const std::vector<float> want_residual = res_in_place.Download();
      for (int splits : {1, 2, 4}) {
        W4A16GemmParams p;
        p.ldx = k, p.qweight = packed.qweight.get(), p.scale_zero = packed.scale_zero.get(), p.ldy = n;
        p.m = 1, p.n = n, p.k = k, p.group = c.group, p.splits = splits;
        for (int i = 0; i < count; ++i) {
          if (configs[i].kind != W4A16GemmKind::kNarrow || configs[i].stages == kW4NarrowWBuf) continue;
          const std::string where = "k=" + std::to_string(k) + " splits=" + std::to_string(splits) +
                                    " stages=" + std::to_string(configs[i].stages) + " x_rows=" +
                                    std::to_string(configs[i].x_rows) + (with_delta ? " delta" : " no delta");
          W4A16GemmParams plain = p;
          plain.x = x.get(), plain.y = y_want.get();
          y_want.Poison();
          ASSERT_TRUE(LaunchW4A16GemmWith(plain, configs[i], nullptr).ok());

          DeviceArray<float> residual(row.residual), residual_out(k);
          residual_out.Poison();
          W4A16GemmParams fused = p;
          fused.y = y_got.get();
          const W4A16NormInput norm{residual.get(), with_delta ? delta.get() : nullptr, residual_out.get(),
                                    weight.get(), 1e-5f};
          ASSERT_TRUE(ValidateW4A16GemmNorm(fused, norm).ok()) << ValidateW4A16GemmNorm(fused, norm);
          y_got.Poison();
          ASSERT_TRUE(LaunchW4A16GemmNormWith(fused, norm, configs[i], nullptr).ok());
          ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << where;
          EXPECT_TRUE(SameBits(y_got.Download(), y_want.Download(), n)) << where;
          EXPECT_TRUE(SameBits(residual.Download(), row.residual, k)) << "the input residual changed, " << where;
          const std::vector<float> out = residual_out.Download();
          if (with_delta) {
            EXPECT_TRUE(SameBits(out, want_residual, k)) << where;
          } else {
            for (int e = 0; e < k; ++e) ASSERT_TRUE(std::isnan(out[e])) << "residual_out written without delta";
          }
        }
      }
    }
  }
}

// A DeviceLinear over a packed case, with a context for up to `rows` decode rows.
struct LinearFixture {
  DeviceLinear w;
  std::unique_ptr<CublasGemm> cublas;
  DeviceArray<__half> scratch;
  LinearContext ctx;
  LinearFixture(const testing::Packed& packed, const testing::AwqCase& c)
      : w{packed.qweight.get(), packed.scale_zero.get(), nullptr, c.n, c.k, c.group},
        scratch(size_t{1} * c.n * c.k) {
    w.splits = W4A16GemmSplits(W4A16GemmKind::kNarrow, c.n, c.k, testing::SmCount());
    w.wide_splits = W4A16GemmSplits(W4A16GemmKind::kWide, c.n, c.k, testing::SmCount());
    auto created = CublasGemm::Create();
    EXPECT_TRUE(created.ok()) << created.status();
    cublas = std::move(*created);
    ctx = LinearContext{nullptr, cublas.get(), scratch.get(), LinearScratchBytes(w)};
  }
};

TEST(NormInput, RunNormLinearFusesOneRowAndMatchesTheRowAmongOthers) {
  std::mt19937 rng(32);
  const int k = 4096, n = 256, rows = 3;
  const testing::AwqCase c = testing::MakeCase(k, n, 128, &rng);
  const testing::Packed packed(c);
  LinearFixture f(packed, c);
  std::vector<float> residual, delta, weight;
  for (int r = 0; r < rows; ++r) {
    const NormRow row(k, &rng);
    residual.insert(residual.end(), row.residual.begin(), row.residual.end());
    delta.insert(delta.end(), row.delta.begin(), row.delta.end());
    if (r == 0) weight = row.weight;
  }
  DeviceArray<__half> d_delta(testing::ToHalf(delta)), d_weight(testing::ToHalf(weight)), normed(size_t{rows} * k);
  DeviceArray<__half> y(size_t{rows} * n);
  // Three rows: AddRmsNorm's kernel, then the GEMM.
  DeviceArray<float> res3(residual), res3_out(size_t{rows} * k);
  AddRmsNormParams n3{res3.get(), d_delta.get(), nullptr, d_weight.get(), normed.get(), rows, k, 1e-5f};
  n3.residual_out = res3_out.get();
  ASSERT_TRUE(RunNormLinear(n3, f.w, LinearRows{0, rows}, y.get(), f.ctx).ok());
  const std::vector<__half> y3 = y.Download();
  const std::vector<float> out3 = res3_out.Download();
  // The first row alone: fused, so the norm's own output stays unwritten.
  DeviceArray<float> res1(std::vector<float>(residual.begin(), residual.begin() + k)), res1_out(k);
  AddRmsNormParams n1 = n3;
  n1.residual = res1.get(), n1.residual_out = res1_out.get(), n1.tokens = 1;
  normed.Poison();
  y.Poison();
  ASSERT_TRUE(RunNormLinear(n1, f.w, LinearRows{0, 1}, y.get(), f.ctx).ok());
  EXPECT_TRUE(SameBits(y.Download(), y3, n)) << "row 0 alone differs from row 0 of three";
  EXPECT_TRUE(SameBits(res1_out.Download(), out3, k));
  const std::vector<__half> normed_after = normed.Download();
  EXPECT_TRUE(std::isnan(__half2float(normed_after[0])) && std::isnan(__half2float(normed_after[k - 1])))
      << "one row ran AddRmsNorm's kernel instead of the GEMM's norm input";
  // In place (residual_out null) the GEMM cannot fuse: the kernel runs, with the same result.
  DeviceArray<float> res_in_place(std::vector<float>(residual.begin(), residual.begin() + k));
  AddRmsNormParams n_in_place = n1;
  n_in_place.residual = res_in_place.get(), n_in_place.residual_out = nullptr;
  y.Poison();
  ASSERT_TRUE(RunNormLinear(n_in_place, f.w, LinearRows{0, 1}, y.get(), f.ctx).ok());
  EXPECT_TRUE(SameBits(y.Download(), y3, n));
  EXPECT_TRUE(SameBits(res_in_place.Download(), out3, k));
}

}  // namespace
}  // namespace inference::cuda
