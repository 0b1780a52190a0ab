// Our AWQ format functions (pack, unpack, dequantize, round-to-nearest quantize) and half-precision rounding agree
// bit for bit with shared/tools/awq_reference.py, run by python3 + numpy on seeded random data.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"
#include "inference/model/awq_format.h"
#include "inference/model/dtype.h"
#include "inference/model/safetensors.h"
#include "tests/unit/inference/test_dir.h"

namespace inference {
namespace {

class AwqReferenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const std::string out = dir_->File("cases.safetensors");
    const std::string cmd = std::string(AWQ_PYTHON3) + " " + AWQSERVE_SOURCE_DIR +
                            "/tests/unit/inference/awq_reference_cases.py " + AWQSERVE_SHARED_DIR + "/tools " + out;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    absl::StatusOr<std::shared_ptr<const Checkpoint>> c = Checkpoint::OpenFile(out);
    ASSERT_TRUE(c.ok()) << c.status();
    cases_ = new std::shared_ptr<const Checkpoint>(*c);
  }
  void SetUp() override { ASSERT_NE(cases_, nullptr) << "the reference script failed (see above)"; }
  static void TearDownTestSuite() {
    delete cases_;
    delete dir_;
  }

  // A reference tensor; the script writes every name the tests ask for, so absence is a broken script.
  static const TensorInfo& T(const std::string& name) {
    const TensorInfo* t = (*cases_)->Find(name);
    if (t == nullptr) {
      std::fprintf(stderr, "reference tensor missing: %s\n", name.c_str());
      std::abort();
    }
    return *t;
  }
  template <typename E>
  static std::vector<E> Values(const TensorInfo& t) {
    std::vector<E> v(t.nbytes / sizeof(E));
    std::memcpy(v.data(), t.data, t.nbytes);
    return v;
  }
  static int NumCases() {
    int n = 0;
    while ((*cases_)->Find(std::to_string(n) + ".q") != nullptr) ++n;
    return n;
  }

  static testing::TempDir* dir_;
  static std::shared_ptr<const Checkpoint>* cases_;
};
testing::TempDir* AwqReferenceTest::dir_ = nullptr;
std::shared_ptr<const Checkpoint>* AwqReferenceTest::cases_ = nullptr;

TEST_F(AwqReferenceTest, PackMatchesReference) {
  ASSERT_EQ(NumCases(), 4);
  for (int c = 0; c < NumCases(); ++c) {
    const std::string p = std::to_string(c) + ".";
    const TensorInfo& qt = T(p + "q");
    const int64_t K = qt.shape[0], N = qt.shape[1];
    std::vector<int32_t> q32 = Values<int32_t>(qt);
    std::vector<uint8_t> q(q32.begin(), q32.end());
    std::vector<int32_t> packed(K * N / 8);
    PackAwq(q.data(), K, N, packed.data());
    EXPECT_EQ(packed, Values<int32_t>(T(p + "packed"))) << "case " << c;
    std::vector<uint8_t> back(K * N);
    UnpackAwq(packed.data(), K, N, back.data());
    EXPECT_EQ(back, q) << "case " << c;
  }
}

TEST_F(AwqReferenceTest, UnpackMatchesReference) {
  for (int c = 0; c < NumCases(); ++c) {
    const std::string p = std::to_string(c) + ".";
    const TensorInfo& rp = T(p + "rand_packed");
    const int64_t K = rp.shape[0], N = rp.shape[1] * 8;
    std::vector<uint8_t> q(K * N);
    UnpackAwq(rp.data, K, N, q.data());
    std::vector<int32_t> expected = Values<int32_t>(T(p + "rand_unpacked"));
    EXPECT_EQ(std::vector<int32_t>(q.begin(), q.end()), expected) << "case " << c;
  }
}

TEST_F(AwqReferenceTest, QuantizeRtnMatchesReferenceBitForBit) {
  for (int c = 0; c < NumCases(); ++c) {
    const std::string p = std::to_string(c) + ".";
    const TensorInfo& wt = T(p + "w");
    const int64_t K = wt.shape[0], N = wt.shape[1];
    const int G = static_cast<int>(K / T(p + "scales").shape[0]);
    std::vector<float> w = Values<float>(wt);
    AwqTensors a = QuantizeRtn(w.data(), K, N, G);
    EXPECT_EQ(a.qweight, Values<int32_t>(T(p + "qweight"))) << "case " << c;
    EXPECT_EQ(a.qzeros, Values<int32_t>(T(p + "qzeros"))) << "case " << c;
    EXPECT_EQ(a.scales, Values<uint16_t>(T(p + "scales"))) << "case " << c;
  }
}

TEST_F(AwqReferenceTest, DequantizeMatchesReference) {
  for (int c = 0; c < NumCases(); ++c) {
    const std::string p = std::to_string(c) + ".";
    const TensorInfo& qw = T(p + "qweight");
    const int64_t K = qw.shape[0], N = qw.shape[1] * 8;
    const int G = static_cast<int>(K / T(p + "scales").shape[0]);
    std::vector<float> w(K * N);
    DequantizeAwq(qw.data, T(p + "qzeros").data, T(p + "scales").data, K, N, G, w.data());
    std::vector<float> expected = Values<float>(T(p + "dequant"));
    ASSERT_EQ(w.size(), expected.size());
    EXPECT_EQ(std::memcmp(w.data(), expected.data(), w.size() * sizeof(float)), 0) << "case " << c;
  }
}

TEST_F(AwqReferenceTest, FloatToHalfMatchesNumpy) {
  std::vector<float> in = Values<float>(T("f16.in"));
  std::vector<uint16_t> out = Values<uint16_t>(T("f16.out"));
  ASSERT_EQ(in.size(), out.size());
  int mismatches = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (FloatToHalf(in[i]) != out[i] && mismatches++ < 10) {
      ADD_FAILURE() << "FloatToHalf(" << in[i] << ") = " << FloatToHalf(in[i]) << ", numpy " << out[i];
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_EQ(FloatToHalf(f) & 0x7C00u, 0x7C00u);
      continue;
    }
    EXPECT_EQ(FloatToHalf(f), h) << h;
  }
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0xFBFF), -65504.0f);
  EXPECT_EQ(BFloat16ToFloat(0x3F80), 1.0f);
}

}  // namespace
}  // namespace inference
