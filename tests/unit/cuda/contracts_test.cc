// The CUDA kernels' host-side contracts, checked without a GPU: every Validate names the offending field, the
// kernel layout's index maps are bijections, the attention split/workspace arithmetic holds its bounds, and the W4A16
// GEMM's default configs are kernels of its tables.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "inference/cuda/kernels/attention.h"
#include "inference/cuda/kernels/elementwise.h"
#include "inference/cuda/kernels/sampling.h"
#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {
namespace {

bool Mentions(const absl::Status& st, const std::string& text) {
  return st.code() == absl::StatusCode::kInvalidArgument && st.message().find(text) != std::string::npos;
}

// A non-null pointer the validators accept (they never dereference).
template <typename T>
T* Fake() {
  alignas(16) static unsigned char storage[64];
  return reinterpret_cast<T*>(storage);
}

TEST(W4A16Layout, EveryWeightHasOneNibbleAndFragmentsAreContiguous) {
  for (const auto& [n, k] : std::vector<std::pair<int, int>>{{64, 64}, {128, 192}, {192, 4096}}) {
    std::set<std::pair<int64_t, int>> seen;
    for (int col = 0; col < n; ++col)
      for (int kk = 0; kk < k; ++kk) {
        const int64_t word = W4WordIndex(col, kk, k);
        ASSERT_GE(word, 0);
        ASSERT_LT(word, int64_t{n} * k / 8);
        seen.insert({word, W4NibbleIndex(col, kk)});
        // k and k + 1 share a word, in nibbles p and p + 4: one 0x000F000F mask yields the half2 (k, k + 1).
        if (kk % 2 == 1) {
          EXPECT_EQ(word, W4WordIndex(col, kk - 1, k));
          EXPECT_EQ(W4NibbleIndex(col, kk), W4NibbleIndex(col, kk - 1) + 4);
        }
      }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), int64_t{n} * k) << n << "x" << k;
  }
  // One k16 step of a 64-column block is 32 lanes x 4 words in a row (a warp's 512-byte load), lane l holding
  // column 8i + l/4 of tile i and k = 2(l%4) (+1, +8, +9): mma.sync's B-fragment order.
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 8; ++i) {
      const int col = 8 * i + lane / 4, kk = 2 * (lane % 4);
      EXPECT_EQ(W4WordIndex(col, kk, 64), lane * 4 + i / 2);
      EXPECT_EQ(W4WordIndex(col, kk + 8, 64), lane * 4 + i / 2);
      EXPECT_EQ(W4WordIndex(col, kk + 16, 64), 128 + lane * 4 + i / 2);
      EXPECT_EQ(W4NibbleIndex(col, kk), 2 * (i % 2));
      EXPECT_EQ(W4NibbleIndex(col, kk + 8), 2 * (i % 2) + 1);
    }
  // The 8 (scale, zero) a lane needs for one group are 32 consecutive bytes.
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 1; i < 8; ++i)
      EXPECT_EQ(W4GroupIndex(64 + 8 * i + lane / 4, 3, 32), W4GroupIndex(64 + 8 * (i - 1) + lane / 4, 3, 32) + 1);
}

TEST(W4A16Validate, NamesTheShape) {
  W4A16GemmParams g;
  g.x = Fake<const __half>(), g.qweight = Fake<const uint32_t>(), g.scale_zero = Fake<const __half2>();
  g.y = Fake<__half>();
  g.m = 1, g.n = 4096, g.k = 4096, g.group = 128, g.ldx = 4096, g.ldy = 4096;
  EXPECT_TRUE(ValidateW4A16Gemm(g).ok());
  g.m = 0;
  EXPECT_TRUE(Mentions(ValidateW4A16Gemm(g), "m=0"));
  g.m = 300, g.n = 4000;  // not a multiple of the 64-column block
  EXPECT_TRUE(Mentions(ValidateW4A16Gemm(g), "out_features=4000"));
  g.n = 4096, g.group = 32;
  EXPECT_TRUE(Mentions(ValidateW4A16Gemm(g), "group_size=32"));
  g.group = 128, g.ldy = 100;
  EXPECT_TRUE(Mentions(ValidateW4A16Gemm(g), "ldy=100"));
  g.ldy = 4096, g.ldx = 4100;
  EXPECT_TRUE(Mentions(ValidateW4A16Gemm(g), "ldx=4100"));
  g.ldx = 4096, g.splits = 4;
  EXPECT_TRUE(ValidateW4A16Gemm(g).ok());  // kNarrow adds its K ranges within a cluster
  g.kind = W4A16GemmKind::kWide;
  EXPECT_TRUE(Mentions(ValidateW4A16Gemm(g), "needs a workspace"));
  g.workspace = Fake<float>(), g.counters = Fake<int32_t>();
  EXPECT_TRUE(ValidateW4A16Gemm(g).ok());
  g.splits = kW4MaxSplits + 1;
  EXPECT_TRUE(Mentions(ValidateW4A16Gemm(g), "splits=9"));
  g.splits = 1, g.y = nullptr;
  EXPECT_TRUE(Mentions(ValidateW4A16Gemm(g), "null"));

  g.y = Fake<__half>(), g.kind = W4A16GemmKind::kNarrow, g.workspace = nullptr, g.counters = nullptr;
  g.m = 1;
  ASSERT_TRUE(ValidateW4A16Gemm(g).ok());

  AwqRepackParams r{Fake<const int32_t>(), Fake<const int32_t>(), Fake<const __half>(), 4096, 1024, 128,
                    Fake<uint32_t>(), Fake<__half2>(), 4096};
  EXPECT_TRUE(ValidateAwqRepack(r).ok());
  r.col_offset = 8;
  EXPECT_TRUE(Mentions(ValidateAwqRepack(r), "col_offset=8"));
  r.col_offset = 0, r.group = 100;
  EXPECT_TRUE(Mentions(ValidateAwqRepack(r), "group_size=100"));
  r.group = 128, r.n = 40;
  EXPECT_TRUE(Mentions(ValidateAwqRepack(r), "out_features=40"));

  W4A16DequantParams d{Fake<const uint32_t>(), Fake<const __half2>(), 4096, 4096, 128, Fake<__half>()};
  EXPECT_TRUE(ValidateW4A16Dequant(d).ok());
  d.k = 4032;  // not a multiple of the group
  EXPECT_TRUE(Mentions(ValidateW4A16Dequant(d), "in_features=4032"));
  EXPECT_EQ(W4A16DequantWorkspaceBytes(6144, 4096), size_t{6144} * 4096 * 2);
}

TEST(W4A16Validate, NormInputNamesItsLimits) {
  W4A16GemmParams g;
  g.qweight = Fake<const uint32_t>(), g.scale_zero = Fake<const __half2>(), g.y = Fake<__half>();
  g.m = 1, g.n = 4096, g.k = 4096, g.group = 128, g.ldy = 4096;
  W4A16NormInput n{Fake<const float>(), Fake<const __half>(), Fake<float>(), Fake<const __half>(), 1e-5f};
  EXPECT_TRUE(ValidateW4A16GemmNorm(g, n).ok()) << ValidateW4A16GemmNorm(g, n);  // x is not read
  EXPECT_TRUE(Mentions(ValidateW4A16Gemm(g), "null"));  // without the norm input it is
  g.m = 2;
  EXPECT_TRUE(Mentions(ValidateW4A16GemmNorm(g, n), "m=1 (m=2)"));
  g.m = 1, g.k = 8192, g.ldx = 8192;
  EXPECT_TRUE(Mentions(ValidateW4A16GemmNorm(g, n), "k=8192 exceeds 4096"));
  g.k = 4096, n.residual_out = nullptr;
  EXPECT_TRUE(Mentions(ValidateW4A16GemmNorm(g, n), "residual_out"));
  n.residual_out = const_cast<float*>(n.residual);
  EXPECT_TRUE(Mentions(ValidateW4A16GemmNorm(g, n), "another buffer than residual"));
  n.delta = nullptr;  // without delta nothing is written: residual_out is not needed
  EXPECT_TRUE(ValidateW4A16GemmNorm(g, n).ok()) << ValidateW4A16GemmNorm(g, n);
  n.eps = 0;
  EXPECT_TRUE(Mentions(ValidateW4A16GemmNorm(g, n), "eps > 0"));
  n.eps = 1e-5f, n.weight = reinterpret_cast<const __half*>(Fake<unsigned char>() + 2);
  EXPECT_TRUE(Mentions(ValidateW4A16GemmNorm(g, n), "16-byte aligned"));
  n.weight = Fake<const __half>(), n.residual = nullptr;
  EXPECT_TRUE(Mentions(ValidateW4A16GemmNorm(g, n), "needs residual"));
  n.residual = Fake<const float>(), g.kind = W4A16GemmKind::kWide;
  EXPECT_TRUE(Mentions(ValidateW4A16GemmNorm(g, n), "kind kNarrow"));
  // Only the bulk-copy kNarrow kernels take a norm input; the register ones are refused before any launch.
  g.kind = W4A16GemmKind::kNarrow;
  const W4A16GemmConfig registers{W4A16GemmKind::kNarrow, 1, 1, 1, 1, 2};
  EXPECT_TRUE(Mentions(LaunchW4A16GemmNormWith(g, n, registers, nullptr), "bulk-copy"));
  // The norm input's own rules, as a caller asks them before choosing the norm GEMM (linear.cc).
  EXPECT_TRUE(ValidateW4A16NormInput(n, 4096).ok()) << ValidateW4A16NormInput(n, 4096);
  EXPECT_TRUE(Mentions(ValidateW4A16NormInput(n, 8192), "k=8192 exceeds 4096"));
}

TEST(W4A16Gemm, SplitsDependOnTheShapeOnlyAndStayInBounds) {
  constexpr W4A16GemmKind kNarrow = W4A16GemmKind::kNarrow, kWide = W4A16GemmKind::kWide;
  // Mistral-7B's linears on 132 SMs: narrow outputs are split along K, the wide gate/up is not.
  // kNarrow: about three CTAs per SM, 3 * 132 / (n / 64) ranges at most, the largest that gives each of a CTA's
  // four warps the same number of 128-k groups; at most kW4MaxSplits.
  EXPECT_EQ(W4A16GemmSplits(kNarrow, 4096, 4096, 132), 4);     // 6 and 5 would leave 32 groups uneven
  EXPECT_EQ(W4A16GemmSplits(kNarrow, 6144, 4096, 132), 4);
  EXPECT_EQ(W4A16GemmSplits(kNarrow, 28672, 4096, 132), 1);
  EXPECT_EQ(W4A16GemmSplits(kNarrow, 4096, 14336, 132), 4);    // 112 groups: 4 ranges of 28
  EXPECT_EQ(W4A16GemmSplits(kNarrow, 4096, 4096, 1000), kW4MaxSplits);
  EXPECT_EQ(W4A16GemmSplits(kNarrow, 64, 64, 132), 1);  // one 64-k stage cannot be split
  // kWide: one CTA per SM for 128-column tiles, 132 / (n / 128).
  EXPECT_EQ(W4A16GemmSplits(kWide, 4096, 4096, 132), 4);
  EXPECT_EQ(W4A16GemmSplits(kWide, 6144, 4096, 132), 2);
  EXPECT_EQ(W4A16GemmSplits(kWide, 28672, 4096, 132), 1);
  EXPECT_EQ(W4A16GemmSplits(kWide, 4096, 14336, 132), 4);
  EXPECT_EQ(W4A16GemmSplits(kWide, 64, 128, 132), 2);  // n below one tile counts as one; two 64-k stages
  EXPECT_EQ(W4A16GemmWorkspaceBytes(256, 4096, 4), size_t{4} * 256 * 4096 * 4);
  EXPECT_EQ(W4A16GemmWorkspaceBytes(256, 4096, 1), 0u);
  EXPECT_EQ(W4A16GemmCounters(17, 4096), 64 * 2);
}

// The dispatcher's default config for every row count a kind takes is one of the kernels in the tables (the lookup
// LaunchW4A16Gemm does), and the ring's depth follows the CTAs per SM: four units with slots of the tile's rows for at
// most two CTAs per SM, three otherwise, slots of one row at one row.
TEST(W4A16Gemm, DefaultConfigsAreKernelsOfTheTables) {
  int count = 0;
  const W4A16GemmConfig* configs = W4A16GemmConfigs(&count);
  const std::vector<W4A16GemmConfig> all(configs, configs + count);
  struct Shape {
    int n, k;
  };
  for (const Shape s : {Shape{6144, 4096}, Shape{4096, 4096}, Shape{28672, 4096}, Shape{4096, 14336}, Shape{640, 256}})
    for (W4A16GemmKind kind : {W4A16GemmKind::kNarrow, W4A16GemmKind::kWide})
      for (int m = 1; m <= 256; ++m) {
        const W4A16GemmConfig c =
            W4A16GemmDefaultConfig(kind, m, s.n, W4A16GemmSplits(kind, s.n, s.k, 132), 132);
        EXPECT_NE(std::find(all.begin(), all.end(), c), all.end())
            << "n=" << s.n << " k=" << s.k << " m=" << m << " stages=" << c.stages << " x_rows=" << c.x_rows;
        EXPECT_EQ(c.kind, kind);
      }
  const auto narrow = [](int m, int n, int k) {
    return W4A16GemmDefaultConfig(W4A16GemmKind::kNarrow, m, n, W4A16GemmSplits(W4A16GemmKind::kNarrow, n, k, 132),
                                  132);
  };
  EXPECT_EQ(narrow(1, 4096, 14336).stages, 4);  // down_proj: 256 CTAs on 132 SMs
  EXPECT_EQ(narrow(1, 4096, 14336).x_rows, 0);
  EXPECT_EQ(narrow(1, 6144, 4096).stages, 3);   // q/k/v: 384 CTAs
  EXPECT_EQ(narrow(1, 6144, 4096).x_rows, 1);
  EXPECT_EQ(narrow(8, 28672, 4096).stages, 3);  // gate/up: 448 CTAs
  EXPECT_EQ(narrow(8, 28672, 4096).x_rows, 0);
}

TEST(AttentionValidate, NamesHeadDimGroupAndSplits) {
  PagedAttentionParams p;
  p.q = Fake<const __half>(), p.k_cache = Fake<const __half>(), p.v_cache = Fake<const __half>();
  p.block_tables = Fake<const int32_t>(), p.query_seq = Fake<const int32_t>(), p.query_pos = Fake<const int32_t>();
  p.workspace = Fake<float>(), p.out = Fake<__half>();
  p.tokens = 4, p.heads = 32, p.kv_heads = 8, p.head_dim = 128, p.block_size = 16, p.max_blocks = 8, p.splits = 1;
  EXPECT_TRUE(ValidatePagedAttention(p).ok());
  p.head_dim = 96;
  EXPECT_TRUE(Mentions(ValidatePagedAttention(p), "head_dim=96"));
  p.head_dim = 128, p.kv_heads = 3;
  EXPECT_TRUE(Mentions(ValidatePagedAttention(p), "kv_heads=3"));
  p.kv_heads = 2;  // group 16 > kAttentionMaxGroup
  EXPECT_TRUE(Mentions(ValidatePagedAttention(p), "group must be"));
  p.kv_heads = 8, p.splits = kAttentionMaxSplits + 1;
  EXPECT_TRUE(Mentions(ValidatePagedAttention(p), "splits=33"));

  FlashPrefillParams f;
  f.q = Fake<const __half>(), f.k_cache = Fake<const __half>(), f.v_cache = Fake<const __half>();
  f.block_tables = Fake<const int32_t>(), f.tiles = Fake<const FlashTile>(), f.out = Fake<__half>();
  f.num_tiles = 1, f.heads = 32, f.kv_heads = 8, f.head_dim = 128, f.block_size = 16, f.ldq = 6144;
  EXPECT_TRUE(ValidateFlashPrefill(f).ok());
  f.head_dim = 8;
  EXPECT_TRUE(Mentions(ValidateFlashPrefill(f), "head_dim=8"));
  f.head_dim = 128, f.max_blocks = 1 << 18;  // positions up to 2^22: position * block_size reaches 2^26 < 2^32
  EXPECT_TRUE(ValidateFlashPrefill(f).ok());
  f.max_blocks = 1 << 25;  // position * block_size would pass 2^32: the kernel's 32-bit division is inexact
  EXPECT_TRUE(Mentions(ValidateFlashPrefill(f), "max_blocks=33554432"));
  f.max_blocks = 0, f.q = Fake<const __half>() + 4;  // cp.async moves 16-byte chunks
  EXPECT_TRUE(Mentions(ValidateFlashPrefill(f), "16-byte aligned"));
  EXPECT_FALSE(FlashPrefillSupports(8));
  EXPECT_TRUE(FlashPrefillSupports(128));
}

TEST(AttentionSplits, FillTheChipAndStayBounded) {
  // Workers per (query, KV head) on 132 SMs with 8 KV heads: the most whose CTAs fit in one wave of 4 per SM, capped.
  EXPECT_EQ(PagedAttentionSplits(1, 8, 132), kAttentionMaxSplits);
  EXPECT_EQ(PagedAttentionSplits(8, 8, 132), 8);     // 528 / 64 = 8.25
  EXPECT_EQ(PagedAttentionSplits(32, 8, 132), 2);
  EXPECT_EQ(PagedAttentionSplits(33, 8, 132), 2);    // 528 CTAs: exactly one wave
  EXPECT_EQ(PagedAttentionSplits(34, 8, 132), 1);
  EXPECT_EQ(PagedAttentionSplits(256, 8, 132), 1);
  for (int t = 1; t <= 512; ++t) {
    const int s = PagedAttentionSplits(t, 8, 132);
    EXPECT_GE(s, 1);
    EXPECT_LE(s, kAttentionMaxSplits);
  }
  // Per query: 32 records of (out[128], max, sum, 2 pad) per head, then one counter per head; none for one worker.
  EXPECT_EQ(PagedAttentionWorkspaceBytes(2, 32, 128, 3), size_t{2} * (32 * 32 * 132 + 32) * 4);
  EXPECT_EQ(PagedAttentionWorkspaceBytes(2, 32, 128, 1), 0u);
  // The key partition depends on the key count alone: 64-key splits up to 2048 keys, then 32 longer ones.
  EXPECT_EQ(PagedAttentionKeySplits(1).keys, 64);
  EXPECT_EQ(PagedAttentionKeySplits(1).count, 1);
  EXPECT_EQ(PagedAttentionKeySplits(512).count, 8);
  EXPECT_EQ(PagedAttentionKeySplits(2048).count, 32);
  EXPECT_EQ(PagedAttentionKeySplits(2049).keys, 128);
  EXPECT_EQ(PagedAttentionKeySplits(2049).count, 17);
  EXPECT_EQ(PagedAttentionKeySplits(4096).count, 32);
  for (int keys = 1; keys <= 40000; ++keys) {
    const AttentionKeySplits ks = PagedAttentionKeySplits(keys);
    ASSERT_EQ(ks.keys % kAttentionSplitKeys, 0) << keys;
    ASSERT_GE(ks.count, 1) << keys;
    ASSERT_LE(ks.count, kAttentionMaxSplits) << keys;
    ASSERT_LT((ks.count - 1) * ks.keys, keys) << keys;  // no empty split
    ASSERT_GE(ks.count * ks.keys, keys) << keys;
  }
  // Flash tiles: 64 (head, query) rows per CTA, up to 4 heads sharing one KV head.
  EXPECT_EQ(FlashTileRows(4), 16);
  EXPECT_EQ(FlashTileRows(8), 16);
  EXPECT_EQ(FlashTileRows(2), 32);
  EXPECT_EQ(FlashTileRows(3), 64);
}

TEST(ElementwiseValidate, RejectsBadShapes) {
  EXPECT_TRUE(Mentions(ValidateEmbedding({}), "null"));
  EmbeddingParams e{Fake<const int32_t>(), Fake<const __half>(), Fake<float>(), 0, 64, 100};
  EXPECT_TRUE(Mentions(ValidateEmbedding(e), "tokens=0"));
  RopeKvParams r{Fake<__half>(), Fake<const int32_t>(), Fake<const int32_t>(), Fake<const float>(), Fake<__half>(),
                 Fake<__half>(), 1, 4, 2, 31};
  EXPECT_TRUE(Mentions(ValidateRopeKv(r), "width=31"));
  AddRmsNormParams n{Fake<float>(), nullptr, nullptr, Fake<const __half>(), Fake<__half>(), 2, 64, 0.f};
  EXPECT_TRUE(Mentions(ValidateAddRmsNorm(n), "add_rmsnorm"));
}

TEST(SampleValidate, NamesRowsVocabAndNullPointers) {
  EXPECT_TRUE(Mentions(ValidateSample({}), "null"));
  SampleParams p;
  p.logits = Fake<float>(), p.row_params = Fake<const SampleRow>(), p.workspace = Fake<double>();
  p.ids = Fake<int32_t>(), p.logprobs = Fake<float>(), p.top_ids = Fake<int32_t>(), p.top_logprobs = Fake<float>();
  p.rows = 256, p.vocab = 32000;
  EXPECT_TRUE(ValidateSample(p).ok());
  p.rows = 0;
  EXPECT_TRUE(Mentions(ValidateSample(p), "rows=0"));
  p.rows = 1, p.vocab = 0;
  EXPECT_TRUE(Mentions(ValidateSample(p), "vocab=0"));
  p.vocab = kMaxSampleVocab + 1;
  EXPECT_TRUE(Mentions(ValidateSample(p), "vocab=2097153"));
  p.vocab = 32000, p.workspace = nullptr;
  EXPECT_TRUE(Mentions(ValidateSample(p), "null"));
  EXPECT_EQ(SampleWorkspaceBytes(256, 32000), size_t{8} * 256 * 32000);
}

}  // namespace
}  // namespace inference::cuda
