// W4A16 kernels against their CPU twins: the repack + dequantization is exact, the GEMV and the dequant+cuBLAS
// path match x @ W in double to fp16 output rounding. Fresh random AWQ weights in the checkpoint's own packing
// (../shared/tools/awq_reference.py pack_awq) for every shape.
#include <cublas_v2.h>

#include "inference/cuda/kernels/w4a16.h"
#include "inference/cuda/linear.h"
#include "tests/gpu/gpu_test_util.h"

namespace inference::cuda {
namespace {

using testing::DeviceArray;

struct AwqCase {
  int k, n, group;
  std::vector<int32_t> qweight, qzeros;  // AWQ packing
  std::vector<float> scales;             // fp16 values
  std::vector<float> w;                  // dequantized W [k][n], float (exact products of fp16-representable values)
};

// pack_awq: nibble i of word c holds column 8c + kAwqOrder[i].
std::vector<int32_t> PackAwq(const std::vector<int>& q, int rows, int cols) {
  std::vector<int32_t> out(static_cast<size_t>(rows) * cols / 8, 0);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols / 8; ++c) {
      uint32_t word = 0;
      for (int i = 0; i < 8; ++i) word |= static_cast<uint32_t>(q[r * cols + 8 * c + kAwqOrder[i]] & 0xF) << (4 * i);
      out[static_cast<size_t>(r) * (cols / 8) + c] = static_cast<int32_t>(word);
    }
  return out;
}

AwqCase MakeCase(int k, int n, int group, std::mt19937* rng) {
  AwqCase c{k, n, group, {}, {}, {}, {}};
  std::uniform_int_distribution<int> nib(0, 15);
  std::vector<int> q(static_cast<size_t>(k) * n), z(static_cast<size_t>(k / group) * n);
  for (int& v : q) v = nib(*rng);
  for (int& v : z) v = nib(*rng);
  c.qweight = PackAwq(q, k, n);
  c.qzeros = PackAwq(z, k / group, n);
  c.scales = testing::RandomHalfValues(z.size(), 0.001f, 0.02f, rng);
  c.w.resize(q.size());
  for (int r = 0; r < k; ++r)
    for (int col = 0; col < n; ++col) {
      const size_t g = static_cast<size_t>(r / group) * n + col;
      c.w[static_cast<size_t>(r) * n + col] = (q[static_cast<size_t>(r) * n + col] - z[g]) * c.scales[g];
    }
  return c;
}

struct Packed {
  DeviceArray<uint32_t> qweight;
  DeviceArray<__half2> scale_zero;
  Packed(const AwqCase& c) : qweight(static_cast<size_t>(c.n) * c.k / 8), scale_zero(static_cast<size_t>(c.n) * c.k / c.group) {
    DeviceArray<int32_t> qw(c.qweight), qz(c.qzeros);
    DeviceArray<__half> sc(testing::ToHalf(c.scales));
    qweight.Poison();
    scale_zero.Poison();
    const AwqRepackParams p{qw.get(), qz.get(), sc.get(), c.k, c.n, c.group, qweight.get(), scale_zero.get(), 0};
    EXPECT_TRUE(ValidateAwqRepack(p).ok());
    LaunchAwqRepack(p, nullptr);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
};

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
const Shape kShapes[] = {{4096, 544, 128}, {128, 384, 128}, {384, 128, 128}, {64, 192, 64}, {14336, 96, 128}};

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

TEST(W4A16, GemvMatchesDoubleReference) {
  std::mt19937 rng(2);
  for (const Shape& s : kShapes) {
    const AwqCase c = MakeCase(s.k, s.n, s.group, &rng);
    Packed packed(c);
    for (int m : {1, 2, 3, 5, 8, 13, 16}) {
      const std::vector<float> x = testing::RandomHalfValues(static_cast<size_t>(m) * c.k, -1.f, 1.f, &rng);
      DeviceArray<__half> dx(testing::ToHalf(x));
      DeviceArray<__half> dy(static_cast<size_t>(m) * c.n);
      dy.Poison();
      const W4A16GemvParams p{dx.get(), c.k, packed.qweight.get(), packed.scale_zero.get(), dy.get(), c.n,
                              m, c.n, c.k, c.group};
      ASSERT_TRUE(ValidateW4A16Gemv(p).ok());
      LaunchW4A16Gemv(p, nullptr);
      ASSERT_CUDA_OK(cudaGetLastError());
      const double err = testing::RelErr(testing::ToFloat(dy.Download()), Reference(c, x, m));
      EXPECT_LT(err, 1e-3) << "k=" << s.k << " n=" << s.n << " m=" << m;
    }
  }
}

TEST(W4A16, LinearDispatchMatchesDoubleReferenceOnBothPaths) {
  std::mt19937 rng(3);
  cublasHandle_t handle;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  for (const Shape& s : {kShapes[0], kShapes[3]}) {
    const AwqCase c = MakeCase(s.k, s.n, s.group, &rng);
    Packed packed(c);
    DeviceArray<__half> scratch(static_cast<size_t>(c.n) * c.k);
    const DeviceLinear w{packed.qweight.get(), packed.scale_zero.get(), nullptr, c.n, c.k, c.group};
    const LinearContext ctx{nullptr, handle, scratch.get(), LinearScratchBytes(w)};
    for (int m : {1, 16, 17, 70}) {
      const std::vector<float> x = testing::RandomHalfValues(static_cast<size_t>(m) * c.k, -1.f, 1.f, &rng);
      DeviceArray<__half> dx(testing::ToHalf(x));
      DeviceArray<__half> dy(static_cast<size_t>(m) * c.n);
      dy.Poison();
      ASSERT_TRUE(RunLinear(w, dx.get(), m, dy.get(), ctx).ok());
      const double err = testing::RelErr(testing::ToFloat(dy.Download()), Reference(c, x, m));
      EXPECT_LT(err, 1e-3) << "k=" << s.k << " n=" << s.n << " m=" << m;
    }
  }
  cublasDestroy(handle);
}

TEST(W4A16, ValidationNamesTheShape) {
  W4A16GemvParams p;
  const absl::Status st = ValidateW4A16Gemv(p);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  int dummy = 0;
  p.x = reinterpret_cast<const __half*>(&dummy);
  p.qweight = reinterpret_cast<const uint32_t*>(&dummy);
  p.scale_zero = reinterpret_cast<const __half2*>(&dummy);
  p.y = reinterpret_cast<__half*>(&dummy);
  p.m = 17, p.n = 64, p.k = 64, p.group = 64, p.ldx = 64, p.ldy = 64;
  EXPECT_NE(ValidateW4A16Gemv(p).message().find("m=17"), std::string::npos);
  p.m = 1, p.k = 48, p.ldx = 48;
  EXPECT_NE(ValidateW4A16Gemv(p).message().find("k=48"), std::string::npos);
}

}  // namespace
}  // namespace inference::cuda
