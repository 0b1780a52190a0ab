// Embedding, add+RMSNorm, RoPE+KV write, SiLU*up and paged decode attention against CPU twins in double precision,
// on fresh random data, outputs poisoned before each launch (flash prefill: flash_prefill_test.cc; sampling:
// sampling_test.cc).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "inference/cuda/kernels/attention.h"
#include "inference/cuda/kernels/elementwise.h"
#include "inference/engine/kv_layout.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/gpu/late_copy.h"

namespace inference::cuda {
namespace {

using testing::DeviceArray;

TEST(Ops, EmbeddingGathersRows) {
  std::mt19937 rng(10);
  const int vocab = 100, hidden = 96;
  const std::vector<float> table = testing::RandomHalfValues(vocab * hidden, -1, 1, &rng);
  const std::vector<int32_t> ids = {5, 0, 99, 5, 42};
  DeviceArray<__half> dt(testing::ToHalf(table));
  DeviceArray<int32_t> di(ids);
  DeviceArray<float> out(ids.size() * hidden);
  out.Poison();
  const EmbeddingParams p{di.get(), dt.get(), out.get(), static_cast<int>(ids.size()), hidden, vocab};
  ASSERT_TRUE(ValidateEmbedding(p).ok());
  LaunchEmbedding(p, nullptr);
  const std::vector<float> got = out.Download();
  for (size_t t = 0; t < ids.size(); ++t)
    for (int i = 0; i < hidden; ++i) ASSERT_EQ(got[t * hidden + i], table[ids[t] * hidden + i]);
}

TEST(Ops, AddRmsNormMatchesTwin) {
  std::mt19937 rng(11);
  for (int hidden : {64, 100, 4096, 8192}) {  // 16-byte rows of 1, 2 and 4 units per thread; any width
    const int tokens = 7;
    std::vector<float> residual = testing::RandomHalfValues(tokens * hidden, -3, 3, &rng);
    const std::vector<float> residual_in = residual;
    const std::vector<float> delta = testing::RandomHalfValues(tokens * hidden, -1, 1, &rng);
    const std::vector<float> weight = testing::RandomHalfValues(hidden, 0.5, 1.5, &rng);
    DeviceArray<float> dr(residual);
    DeviceArray<__half> dd(testing::ToHalf(delta)), dw(testing::ToHalf(weight)), out(tokens * hidden);
    out.Poison();
    const AddRmsNormParams p{dr.get(), dd.get(), nullptr, dw.get(), out.get(), tokens, hidden, 1e-5f};
    ASSERT_TRUE(ValidateAddRmsNorm(p).ok());
    LaunchAddRmsNorm(p, nullptr);
    std::vector<double> want(tokens * hidden);
    for (int t = 0; t < tokens; ++t) {
      double sq = 0;
      for (int i = 0; i < hidden; ++i) {
        residual[t * hidden + i] += delta[t * hidden + i];
        sq += double(residual[t * hidden + i]) * residual[t * hidden + i];
      }
      const double inv = 1 / std::sqrt(sq / hidden + 1e-5);
      for (int i = 0; i < hidden; ++i) want[t * hidden + i] = residual[t * hidden + i] * inv * weight[i];
    }
    const std::vector<__half> normed = out.Download();
    EXPECT_LT(testing::RelErr(testing::ToFloat(normed), want), 1e-3) << hidden;
    const std::vector<float> res = dr.Download();
    for (int i = 0; i < tokens * hidden; ++i) ASSERT_NEAR(res[i], residual[i], 1e-6 * (1 + std::abs(residual[i])));
    // Out of place (residual_out): the same bits, the input residual untouched.
    DeviceArray<float> dr_in(residual_in), dr_out(tokens * hidden);
    AddRmsNormParams q = p;
    q.residual = dr_in.get(), q.residual_out = dr_out.get();
    out.Poison();
    ASSERT_TRUE(ValidateAddRmsNorm(q).ok());
    LaunchAddRmsNorm(q, nullptr);
    const std::vector<__half> normed_q = out.Download();
    EXPECT_EQ(std::memcmp(normed_q.data(), normed.data(), normed.size() * sizeof(__half)), 0) << hidden;
    EXPECT_EQ(dr_out.Download(), res) << hidden;
    EXPECT_EQ(dr_in.Download(), residual_in) << hidden;
  }
}

TEST(Ops, RopeRotatesAndWritesPagedCache) {
  std::mt19937 rng(12);
  const int heads = 4, kv_heads = 2, hd = 32, tokens = 5, blocks = 8, block_size = 4;
  const int width = (heads + 2 * kv_heads) * hd;
  const std::vector<float> qkv = testing::RandomHalfValues(tokens * width, -1, 1, &rng);
  const std::vector<int32_t> pos = {0, 1, 31, 4095, 17};
  const std::vector<int32_t> slots = {5, 30, -1, 0, 13};
  std::vector<float> inv(hd / 2);
  for (int i = 0; i < hd / 2; ++i) inv[i] = 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / hd);
  DeviceArray<__half> dq(testing::ToHalf(qkv)), kc(blocks * block_size * kv_heads * hd), vc(blocks * block_size * kv_heads * hd);
  DeviceArray<int32_t> dp(pos), ds(slots);
  DeviceArray<float> di(inv);
  kc.Poison();
  vc.Poison();
  const RopeKvParams p{dq.get(), dp.get(), ds.get(), di.get(), kc.get(), vc.get(), tokens, heads, kv_heads, hd};
  ASSERT_TRUE(ValidateRopeKv(p).ok());
  LaunchRopeKv(p, nullptr);
  const std::vector<float> got = testing::ToFloat(dq.Download());
  const std::vector<float> k = testing::ToFloat(kc.Download()), v = testing::ToFloat(vc.Download());
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < heads + kv_heads; ++h)
      for (int i = 0; i < hd / 2; ++i) {
        const float angle = static_cast<float>(pos[t]) * inv[i];  // fp32, as transformers
        const double c = std::cos(double(angle)), s = std::sin(double(angle));
        const size_t base = static_cast<size_t>(t) * width + h * hd;
        const double x1 = qkv[base + i], x2 = qkv[base + i + hd / 2];
        EXPECT_NEAR(got[base + i], x1 * c - x2 * s, 2e-3);
        EXPECT_NEAR(got[base + i + hd / 2], x2 * c + x1 * s, 2e-3);
        if (h >= heads && slots[t] >= 0) {
          const size_t kb = (static_cast<size_t>(slots[t]) * kv_heads + (h - heads)) * hd;
          EXPECT_EQ(k[kb + i], got[base + i]);
          EXPECT_EQ(k[kb + i + hd / 2], got[base + i + hd / 2]);
        }
      }
  for (int t = 0; t < tokens; ++t) {
    if (slots[t] < 0) continue;
    for (int j = 0; j < kv_heads * hd; ++j)
      EXPECT_EQ(v[static_cast<size_t>(slots[t]) * kv_heads * hd + j], qkv[t * width + (heads + kv_heads) * hd + j]);
  }
}

TEST(Ops, SiluMulMatchesTwin) {
  std::mt19937 rng(13);
  const int tokens = 3;
  // 16-byte accesses, the any-width kernel, and gate/up interleaved in runs of 32 (the fused AWQ gate/up) and of 4.
  for (const auto& [inter, run] : std::vector<std::pair<int, int>>{{384, 0}, {100, 0}, {384, 32}, {100, 4}}) {
    const std::vector<float> gu = testing::RandomHalfValues(tokens * 2 * inter, -6, 6, &rng);
    DeviceArray<__half> dg(testing::ToHalf(gu)), out(tokens * inter);
    out.Poison();
    SiluMulParams p{dg.get(), out.get(), tokens, inter};
    p.interleave = run;
    ASSERT_TRUE(ValidateSiluMul(p).ok());
    LaunchSiluMul(p, nullptr);
    std::vector<double> want(tokens * inter);
    for (int t = 0; t < tokens; ++t)
      for (int i = 0; i < inter; ++i) {
        const int gate = run > 0 ? i / run * 2 * run + i % run : i, up = gate + (run > 0 ? run : inter);
        const double g = gu[t * 2 * inter + gate];
        want[t * inter + i] = g / (1 + std::exp(-g)) * gu[t * 2 * inter + up];
      }
    EXPECT_LT(testing::RelErr(testing::ToFloat(out.Download()), want), 1e-3) << inter << " run " << run;
  }
  SiluMulParams bad{nullptr, nullptr, tokens, 100};
  int dummy[4] = {};
  bad.gate_up = reinterpret_cast<const __half*>(dummy), bad.out = reinterpret_cast<__half*>(dummy), bad.interleave = 32;
  EXPECT_NE(ValidateSiluMul(bad).message().find("interleave=32"), std::string::npos);
}

// Sequences of several lengths in a shuffled paged pool; blocks wholly outside the window are marked invalid and
// must never be read.
void CheckAttention(int heads, int kv_heads, int hd, int window, std::mt19937* rng) {
  const int block_size = 4;
  const std::vector<int> lens = {1, 150, window > 0 ? window - 1 : 31, window > 0 ? window : 32,
                                 window > 0 ? window + 1 : 33, 90};
  const int max_blocks = 64, seqs = static_cast<int>(lens.size()), pool_blocks = seqs * max_blocks;
  std::vector<int32_t> perm(pool_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), *rng);
  std::vector<int32_t> tables(seqs * max_blocks, kInvalidBlock);
  const size_t token_stride = static_cast<size_t>(kv_heads) * hd;
  const std::vector<float> k = testing::RandomHalfValues(pool_blocks * block_size * token_stride, -1, 1, rng);
  const std::vector<float> v = testing::RandomHalfValues(k.size(), -1, 1, rng);
  // Queries: every position of the first 3 sequences, the last few of the others (decode and prefill alike).
  std::vector<int32_t> qseq, qpos;
  for (int s = 0; s < seqs; ++s) {
    const int earliest = s < 3 ? 0 : std::max(0, lens[s] - 3);
    for (int b = 0; b * block_size < lens[s]; ++b) {
      const bool needed = window == 0 || (b + 1) * block_size - 1 >= earliest - window + 1;
      if (needed) tables[s * max_blocks + b] = perm[s * max_blocks + b];
    }
    for (int p = earliest; p < lens[s]; ++p) qseq.push_back(s), qpos.push_back(p);
  }
  const int tokens = static_cast<int>(qseq.size());
  const int width = heads * hd;
  const std::vector<float> q = testing::RandomHalfValues(tokens * width, -2, 2, rng);
  DeviceArray<__half> dq(testing::ToHalf(q)), dk(testing::ToHalf(k)), dv(testing::ToHalf(v)), out(tokens * width);
  DeviceArray<int32_t> dt(tables), ds(qseq), dp(qpos);
  std::vector<double> want(tokens * width, 0.0);
  for (int t = 0; t < tokens; ++t)
    for (int h = 0; h < heads; ++h) {
      const int kvh = h / (heads / kv_heads);
      std::vector<double> scores;
      std::vector<int> keys;
      for (int j = 0; j <= qpos[t]; ++j) {
        if (!Attends(qpos[t], j, window)) continue;
        const int32_t blk = tables[qseq[t] * max_blocks + j / block_size];
        const size_t off = (static_cast<size_t>(blk) * block_size + j % block_size) * token_stride + kvh * hd;
        double s = 0;
        for (int d = 0; d < hd; ++d) s += double(q[t * width + h * hd + d]) * k[off + d];
        scores.push_back(s / std::sqrt(double(hd)));
        keys.push_back(static_cast<int>(off));
      }
      const double mx = *std::max_element(scores.begin(), scores.end());
      double sum = 0;
      for (double& s : scores) sum += (s = std::exp(s - mx));
      for (size_t i = 0; i < scores.size(); ++i)
        for (int d = 0; d < hd; ++d) want[t * width + h * hd + d] += scores[i] / sum * v[keys[i] + d];
    }
  if (FlashPrefillSupports(hd)) {
    // The flash kernel over each sequence's contiguous query rows, in tiles as the backend makes them.
    std::vector<FlashTile> tiles;
    for (int t = 0; t < tokens;) {
      int n = 1;
      while (t + n < tokens && qseq[t + n] == qseq[t] && n < FlashTileRows(heads / kv_heads)) ++n;
      tiles.push_back(FlashTile{t, n, qseq[t], qpos[t]});
      t += n;
    }
    std::vector<int32_t> flat(tiles.size() * 4);
    std::memcpy(flat.data(), tiles.data(), flat.size() * 4);
    DeviceArray<int32_t> dtiles(flat);
    out.Poison();
    FlashPrefillParams f;
    f.q = dq.get(), f.ldq = width, f.k_cache = dk.get(), f.v_cache = dv.get(), f.block_tables = dt.get();
    f.max_blocks = max_blocks, f.block_size = block_size, f.tiles = reinterpret_cast<const FlashTile*>(dtiles.get());
    f.num_tiles = static_cast<int>(tiles.size()), f.heads = heads, f.kv_heads = kv_heads, f.head_dim = hd;
    f.window = window, f.scale = 1.0f / std::sqrt(static_cast<float>(hd)), f.out = out.get();
    ASSERT_TRUE(ValidateFlashPrefill(f).ok());
    LaunchFlashPrefill(f, nullptr);
    ASSERT_CUDA_OK(cudaGetLastError());
    EXPECT_LT(testing::RelErr(testing::ToFloat(out.Download()), want), 2e-3)
        << "flash: heads=" << heads << " kv=" << kv_heads << " hd=" << hd << " window=" << window;
  }
  std::vector<__half> first;  // every worker count gives the same bits
  for (int splits : {1, 3, PagedAttentionSplits(tokens, kv_heads, 132)}) {
    const size_t ws_bytes = PagedAttentionWorkspaceBytes(tokens, heads, hd, splits);
    DeviceArray<float> ws(ws_bytes / sizeof(float));
    cudaMemset(ws.get(), 0, ws_bytes);  // the arrival counters start at zero
    out.Poison();
    PagedAttentionParams p;
    p.q = dq.get(), p.ldq = width, p.k_cache = dk.get(), p.v_cache = dv.get(), p.block_tables = dt.get();
    p.max_blocks = max_blocks, p.block_size = block_size, p.query_seq = ds.get(), p.query_pos = dp.get();
    p.tokens = tokens, p.heads = heads, p.kv_heads = kv_heads, p.head_dim = hd, p.window = window;
    p.scale = 1.0f / std::sqrt(static_cast<float>(hd)), p.splits = splits, p.workspace = ws.get(), p.out = out.get();
    ASSERT_TRUE(ValidatePagedAttention(p).ok());
    LaunchPagedAttention(p, nullptr);
    ASSERT_CUDA_OK(cudaGetLastError());
    const std::vector<__half> got = out.Download();
    EXPECT_LT(testing::RelErr(testing::ToFloat(got), want), 2e-3)
        << "heads=" << heads << " kv=" << kv_heads << " hd=" << hd << " window=" << window << " splits=" << splits;
    if (first.empty()) first = got;
    EXPECT_EQ(std::memcmp(got.data(), first.data(), got.size() * sizeof(__half)), 0) << "splits=" << splits;
  }
}

TEST(Ops, PagedAttentionMatchesTwinWithWindowEdges) {
  std::mt19937 rng(14);
  CheckAttention(4, 2, 32, 32, &rng);
  CheckAttention(8, 4, 8, 0, &rng);
  CheckAttention(32, 8, 128, 16, &rng);
  CheckAttention(4, 4, 64, 0, &rng);
  CheckAttention(8, 1, 32, 32, &rng);
  CheckAttention(6, 2, 64, 0, &rng);
}

// Paged decode attention: one query per sequence at its last position (the decode step), blocks shuffled in the
// pool, blocks wholly before the window invalid, plus graph-bucket padding rows (a dummy table row holding block 0,
// position 0). Outputs are compared with the double-precision twin and, across worker counts, bit for bit.
struct DecodeProblem {
  int heads = 0, kv_heads = 0, hd = 0, window = 0, block_size = 16, max_blocks = 0, rows = 0;
  std::vector<int> lens;                // keys cached per sequence; its query sits at position len - 1
  std::vector<int32_t> tables;          // [seqs + 1][max_blocks]; row `seqs` is the padding row
  std::vector<int32_t> qseq, qpos;      // per output row
  std::vector<float> k, v, q;           // pools; q [rows][heads * hd]
};

// q in [-q_range, q_range] (k and v in [-1, 1]): a larger range peaks the softmax on fewer keys.
DecodeProblem MakeDecodeProblem(int heads, int kv_heads, int hd, int window, std::vector<int> lens, int padding_rows,
                                std::mt19937* rng, float q_range = 2, int block_size = 16) {
  DecodeProblem d;
  d.heads = heads, d.kv_heads = kv_heads, d.hd = hd, d.window = window, d.lens = std::move(lens);
  d.block_size = block_size;
  const int seqs = static_cast<int>(d.lens.size()), bs = d.block_size;
  int pool = 1;  // block 0 exists for the padding row
  for (int len : d.lens) d.max_blocks = std::max(d.max_blocks, (len + bs - 1) / bs), pool += (len + bs - 1) / bs;
  std::vector<int32_t> perm(pool);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), *rng);
  d.tables.assign(static_cast<size_t>(seqs + 1) * d.max_blocks, kInvalidBlock);
  for (int s = 0, next = 0; s < seqs; ++s) {
    const int pos = d.lens[s] - 1, first_key = window > 0 ? std::max(0, pos - window + 1) : 0;
    for (int b = 0; b * bs < d.lens[s]; ++b, ++next)
      if ((b + 1) * bs - 1 >= first_key) d.tables[static_cast<size_t>(s) * d.max_blocks + b] = perm[next];
    d.qseq.push_back(s), d.qpos.push_back(pos);
  }
  d.tables[static_cast<size_t>(seqs) * d.max_blocks] = 0;  // the padding row: block 0, as the backend writes it
  for (int i = 0; i < padding_rows; ++i) d.qseq.push_back(seqs), d.qpos.push_back(0);
  d.rows = static_cast<int>(d.qseq.size());
  d.k = testing::RandomHalfValues(static_cast<size_t>(pool) * bs * kv_heads * hd, -1, 1, rng);
  d.v = testing::RandomHalfValues(d.k.size(), -1, 1, rng);
  d.q = testing::RandomHalfValues(static_cast<size_t>(d.rows) * heads * hd, -q_range, q_range, rng);
  return d;
}

// Offset in the pool of (sequence-table row, position j, KV head).
size_t DecodeKeyOffset(const DecodeProblem& d, int table_row, int j, int kvh) {
  const int32_t blk = d.tables[static_cast<size_t>(table_row) * d.max_blocks + j / d.block_size];
  return ((static_cast<size_t>(blk) * d.block_size + j % d.block_size) * d.kv_heads + kvh) * d.hd;
}

std::vector<double> DecodeTwin(const DecodeProblem& d, int row) {
  const int width = d.heads * d.hd, pos = d.qpos[row];
  std::vector<double> want(width, 0.0);
  for (int h = 0; h < d.heads; ++h) {
    const int kvh = h / (d.heads / d.kv_heads);
    std::vector<double> scores;
    std::vector<size_t> keys;
    for (int j = 0; j <= pos; ++j) {
      if (!Attends(pos, j, d.window)) continue;
      const size_t off = DecodeKeyOffset(d, d.qseq[row], j, kvh);
      double dot = 0;
      for (int i = 0; i < d.hd; ++i) dot += double(d.q[static_cast<size_t>(row) * width + h * d.hd + i]) * d.k[off + i];
      scores.push_back(dot / std::sqrt(double(d.hd)));
      keys.push_back(off);
    }
    const double mx = *std::max_element(scores.begin(), scores.end());
    double sum = 0;
    for (double& x : scores) sum += (x = std::exp(x - mx));
    for (size_t e = 0; e < scores.size(); ++e)
      for (int i = 0; i < d.hd; ++i) want[h * d.hd + i] += scores[e] / sum * d.v[keys[e] + i];
  }
  return want;
}

struct DecodeDevice {
  explicit DecodeDevice(const DecodeProblem& d)
      : q(testing::ToHalf(d.q)), k(testing::ToHalf(d.k)), v(testing::ToHalf(d.v)), tables(d.tables), qseq(d.qseq),
        qpos(d.qpos), out(static_cast<size_t>(d.rows) * d.heads * d.hd) {}
  DeviceArray<__half> q, k, v;
  DeviceArray<int32_t> tables, qseq, qpos;
  DeviceArray<__half> out;
};

// One launch over `rows` (empty: every row, no indirection) with `splits` workers; the output's raw fp16 bits
// (rows not launched stay poisoned).
std::vector<uint16_t> RunDecode(const DecodeProblem& d, DecodeDevice* dev, const std::vector<int32_t>& rows, int splits) {
  const int tokens = rows.empty() ? d.rows : static_cast<int>(rows.size());
  const size_t ws_bytes = PagedAttentionWorkspaceBytes(tokens, d.heads, d.hd, splits);
  DeviceArray<float> ws(ws_bytes / sizeof(float));
  cudaMemset(ws.get(), 0, ws_bytes);  // the arrival counters start at zero
  std::vector<int32_t> rows_or_dummy = rows.empty() ? std::vector<int32_t>{0} : rows;
  DeviceArray<int32_t> drows(rows_or_dummy);
  dev->out.Poison();
  PagedAttentionParams p;
  p.q = dev->q.get(), p.ldq = d.heads * d.hd, p.k_cache = dev->k.get(), p.v_cache = dev->v.get();
  p.block_tables = dev->tables.get(), p.max_blocks = d.max_blocks, p.block_size = d.block_size;
  p.rows = rows.empty() ? nullptr : drows.get(), p.query_seq = dev->qseq.get(), p.query_pos = dev->qpos.get();
  p.tokens = tokens, p.heads = d.heads, p.kv_heads = d.kv_heads, p.head_dim = d.hd, p.window = d.window;
  p.scale = 1.0f / std::sqrt(static_cast<float>(d.hd)), p.splits = splits, p.workspace = ws.get(), p.out = dev->out.get();
  EXPECT_TRUE(ValidatePagedAttention(p).ok()) << ValidatePagedAttention(p);
  LaunchPagedAttention(p, nullptr);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<__half> h = dev->out.Download();
  std::vector<uint16_t> bits(h.size());
  for (size_t i = 0; i < h.size(); ++i) bits[i] = static_cast<__half_raw>(h[i]).x;
  return bits;
}

std::vector<float> RowOf(const std::vector<uint16_t>& bits, int row, int width) {
  std::vector<float> out(width);
  for (int i = 0; i < width; ++i) out[i] = HalfToFloat(bits[static_cast<size_t>(row) * width + i]);
  return out;
}

void CheckDecode(int heads, int kv_heads, int hd, int window, std::mt19937* rng,
                 const std::vector<int>& lens = {1, 15, 16, 17, 511, 4097, 4200, 700}, float q_range = 2,
                 int block_size = 16) {
  const DecodeProblem d =
      MakeDecodeProblem(heads, kv_heads, hd, window, lens, /*padding_rows=*/2, rng, q_range, block_size);
  DecodeDevice dev(d);
  const int width = heads * hd;
  const std::string shape = "heads=" + std::to_string(heads) + " kv=" + std::to_string(kv_heads) +
                            " hd=" + std::to_string(hd) + " window=" + std::to_string(window) +
                            " q_range=" + std::to_string(q_range) + " block=" + std::to_string(block_size);
  std::vector<uint16_t> first;
  for (int splits : {1, 2, PagedAttentionSplits(d.rows, kv_heads, 132), kAttentionMaxSplits}) {
    const std::vector<uint16_t> got = RunDecode(d, &dev, {}, splits);
    if (first.empty()) {
      for (int r = 0; r < d.rows; ++r)
        EXPECT_LT(testing::RelErr(RowOf(got, r, width), DecodeTwin(d, r)), 2e-3)
            << shape << " row " << r << " pos " << d.qpos[r];
      first = got;
    } else {
      EXPECT_TRUE(got == first) << shape << ": splits=" << splits << " changed the bits";
    }
  }
  // The rows indirection: a shuffled subset (with a padding row), the others untouched.
  const std::vector<int32_t> subset = {9, 5, 0, 7, 3};
  for (int splits : {1, PagedAttentionSplits(static_cast<int>(subset.size()), kv_heads, 132)}) {
    const std::vector<uint16_t> got = RunDecode(d, &dev, subset, splits);
    for (int r = 0; r < d.rows; ++r) {
      const bool chosen = std::find(subset.begin(), subset.end(), r) != subset.end();
      for (int i = 0; i < width; ++i) {
        const size_t at = static_cast<size_t>(r) * width + i;
        if (chosen) ASSERT_EQ(got[at], first[at]) << shape << " rows: row " << r << " splits " << splits;
        else ASSERT_EQ(got[at], 0xFFFF) << shape << " rows: row " << r << " written";
      }
    }
  }
}

TEST(Ops, PagedDecodeMatchesTwinForGroupsHeadDimsAndContexts) {
  std::mt19937 rng(16);
  for (int group : {1, 4, 8})
    for (int hd : {64, 128}) CheckDecode(2 * group, 2, hd, 4096, &rng);
  CheckDecode(32, 8, 128, 0, &rng);  // Mistral's shape without a window: 4200 keys in 22 splits of 192
  CheckDecode(12, 4, 32, 4096, &rng);  // group 3 rides on the group-4 kernel
}

// The edges of the kernels' key partition: 16-key steps (the tensor-core kernel's mma k), 64-key rounds and splits
// (2, 63, 64, 65 keys), the switch to 128-key splits past 2048 keys, a window start that is no multiple of either
// (4096 + 23 keys), with q scaled up so the softmax peaks on a few keys (a masked key leaking in, or a weight
// rounded or scaled wrongly, would show), and block sizes of 16 and 4 (a step spans 1 to 5 blocks).
TEST(Ops, PagedDecodeMatchesTwinAtStepRoundAndSplitEdges) {
  std::mt19937 rng(18);
  const std::vector<int> lens = {2, 63, 64, 65, 2047, 2048, 2049, 4096 + 23};
  for (int hd : {64, 128}) {
    CheckDecode(32, 8, hd, 4096, &rng, lens, /*q_range=*/16);
    CheckDecode(8, 2, hd, 4096, &rng, lens, /*q_range=*/2, /*block_size=*/4);
  }
  CheckDecode(16, 2, 128, 0, &rng, lens, /*q_range=*/16, /*block_size=*/4);  // group 8, no window
}

// The same query over the same keys gives the same bits alone (one sequence, 32 workers) and as row 13 of 32
// sequences of mixed lengths (3 workers), with its blocks elsewhere in the pool.
TEST(Ops, PagedDecodeIsBatchInvariant) {
  std::mt19937 rng(17);
  const int heads = 32, kv_heads = 8, hd = 128, window = 4096, width = heads * hd;
  for (int len : {700, 4500}) {
    std::vector<int> lens(32);
    std::uniform_int_distribution<int> any_len(1, 3000);
    for (int& l : lens) l = any_len(rng);
    const int target = 13;
    lens[target] = len;
    const DecodeProblem batch = MakeDecodeProblem(heads, kv_heads, hd, window, lens, 0, &rng);
    DecodeProblem alone = MakeDecodeProblem(heads, kv_heads, hd, window, {len}, 0, &rng);
    for (int j = std::max(0, len - window); j < len; ++j)
      for (int kvh = 0; kvh < kv_heads; ++kvh) {
        const size_t from = DecodeKeyOffset(batch, target, j, kvh), to = DecodeKeyOffset(alone, 0, j, kvh);
        std::copy_n(batch.k.begin() + from, hd, alone.k.begin() + to);
        std::copy_n(batch.v.begin() + from, hd, alone.v.begin() + to);
      }
    std::copy_n(batch.q.begin() + static_cast<size_t>(target) * width, width, alone.q.begin());
    DecodeDevice batch_dev(batch), alone_dev(alone);
    const int batch_splits = PagedAttentionSplits(32, kv_heads, 132), alone_splits = PagedAttentionSplits(1, kv_heads, 132);
    ASSERT_NE(batch_splits, alone_splits);
    const std::vector<uint16_t> in_batch = RunDecode(batch, &batch_dev, {}, batch_splits);
    const std::vector<uint16_t> by_itself = RunDecode(alone, &alone_dev, {}, alone_splits);
    const std::vector<uint16_t> one_worker = RunDecode(batch, &batch_dev, {}, 1);
    EXPECT_LT(testing::RelErr(RowOf(by_itself, 0, width), DecodeTwin(alone, 0)), 2e-3) << "len " << len;
    const std::vector<uint16_t> target_row(in_batch.begin() + static_cast<size_t>(target) * width,
                                           in_batch.begin() + static_cast<size_t>(target + 1) * width);
    EXPECT_TRUE(target_row == by_itself) << "len " << len << ": alone and in a batch of 32 differ";
    EXPECT_TRUE(in_batch == one_worker) << "len " << len << ": 1 and " << batch_splits << " workers differ";
  }
}

// keys_cached: the tensor-core kernel loads a query's keys before PdlWait, while the kernel before it runs, and the
// query's own key and value (which that kernel writes: RopeKv in the engine) again after it. Here the kernel before
// writes every query's own key and value only after a delay, having let attention launch at once (late_copy.h): an
// own key or value used from before the wait would be the old one. The result must be the bits of an ordinary launch
// after everything finished.
TEST(Ops, PagedDecodeWithCachedKeysReadsItsOwnKeyAfterTheKernelBefore) {
  std::mt19937 rng(19);
  const int heads = 32, kv_heads = 8, hd = 128;
  const DecodeProblem d = MakeDecodeProblem(heads, kv_heads, hd, 4096, {1, 17, 64, 65, 700, 4097}, 0, &rng);
  DecodeDevice dev(d);
  // The caches as the kernel before leaves them: each query's own key and value replaced.
  std::vector<float> k_new = d.k, v_new = d.v;
  const size_t token = static_cast<size_t>(kv_heads) * hd;
  for (int r = 0; r < d.rows; ++r) {
    const int32_t block = d.tables[static_cast<size_t>(d.qseq[r]) * d.max_blocks + d.qpos[r] / d.block_size];
    const size_t slot = static_cast<size_t>(block) * d.block_size + d.qpos[r] % d.block_size;
    const std::vector<float> k_own = testing::RandomHalfValues(token, -1, 1, &rng);
    const std::vector<float> v_own = testing::RandomHalfValues(token, -1, 1, &rng);
    std::copy(k_own.begin(), k_own.end(), k_new.begin() + slot * token);
    std::copy(v_own.begin(), v_own.end(), v_new.begin() + slot * token);
  }
  DeviceArray<__half> dk_new(testing::ToHalf(k_new)), dv_new(testing::ToHalf(v_new));
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  const size_t ws_bytes = PagedAttentionWorkspaceBytes(d.rows, heads, hd, PagedAttentionSplits(d.rows, kv_heads, sms));
  DeviceArray<float> ws(ws_bytes / sizeof(float));
  cudaMemset(ws.get(), 0, ws_bytes);
  PagedAttentionParams p;
  p.q = dev.q.get(), p.ldq = heads * hd, p.k_cache = dev.k.get(), p.v_cache = dev.v.get();
  p.block_tables = dev.tables.get(), p.max_blocks = d.max_blocks, p.block_size = d.block_size;
  p.query_seq = dev.qseq.get(), p.query_pos = dev.qpos.get(), p.tokens = d.rows, p.heads = heads;
  p.kv_heads = kv_heads, p.head_dim = hd, p.window = d.window, p.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  p.splits = PagedAttentionSplits(d.rows, kv_heads, sms), p.workspace = ws.get(), p.out = dev.out.get();
  p.keys_cached = true;
  ASSERT_TRUE(ValidatePagedAttention(p).ok());
  cudaStream_t stream;
  ASSERT_CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  // Every kernel launched once (a first launch loads its module, which holds back programmatic launch), then the
  // window checked: a kernel launched after the late copy starts before it copies.
  const unsigned long long never = ~0ull;
  DeviceArray<unsigned long long> times(std::vector<unsigned long long>{never, never});
  testing::LaunchLateCopies({}, {}, 0, nullptr, stream);
  testing::LaunchStartProbe(times.get() + 1, stream);
  LaunchPagedAttention(p, stream);
  ASSERT_CUDA_OK(cudaStreamSynchronize(stream));
  const unsigned long long reset[2] = {never, never};
  ASSERT_CUDA_OK(cudaMemcpy(times.get(), reset, sizeof(reset), cudaMemcpyHostToDevice));
  testing::LaunchLateCopies({}, {}, 200, times.get(), stream);
  testing::LaunchStartProbe(times.get() + 1, stream);
  ASSERT_CUDA_OK(cudaStreamSynchronize(stream));
  const std::vector<unsigned long long> t = times.Download();
  ASSERT_LT(t[1], t[0]) << "the kernel after the late copy did not start before it copied: the test cannot tell";
  dev.out.Poison();
  ASSERT_CUDA_OK(cudaDeviceSynchronize());
  const size_t bytes = d.k.size() * sizeof(__half);
  testing::LaunchLateCopies({dev.k.get(), dk_new.get(), bytes}, {dev.v.get(), dv_new.get(), bytes}, 200, nullptr,
                            stream);
  LaunchPagedAttention(p, stream);
  ASSERT_CUDA_OK(cudaStreamSynchronize(stream));
  ASSERT_CUDA_OK(cudaStreamDestroy(stream));
  const std::vector<__half> early = dev.out.Download();
  p.keys_cached = false;
  dev.out.Poison();
  LaunchPagedAttention(p, nullptr);
  ASSERT_CUDA_OK(cudaDeviceSynchronize());
  const std::vector<__half> ordinary = dev.out.Download();
  EXPECT_EQ(std::memcmp(early.data(), ordinary.data(), early.size() * sizeof(__half)), 0);
  // The ordinary launch read the new caches: its result is not the old caches' one.
  DecodeDevice old_dev(d);
  const std::vector<uint16_t> old_caches = RunDecode(d, &old_dev, {}, p.splits);
  ASSERT_CUDA_OK(cudaDeviceSynchronize());
  EXPECT_NE(std::memcmp(old_caches.data(), ordinary.data(), early.size() * sizeof(__half)), 0);
}

}  // namespace
}  // namespace inference::cuda
