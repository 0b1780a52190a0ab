// Flash prefill attention against a CPU twin in double precision, on fresh random data, outputs poisoned before each
// launch: groups, head dims, chunked starts, windows and block sizes, and bit-identical results alone and among
// other sequences.
#include <algorithm>
#include <numeric>
#include <random>

#include "inference/cuda/kernels/attention.h"
#include "inference/engine/kv_layout.h"
#include "tests/gpu/gpu_test_util.h"

namespace inference::cuda {
namespace {

using testing::DeviceArray;

// Flash prefill against a double-precision twin. A sequence has `len` cached keys and queries at positions
// first..len-1 (a chunked prefill when first > 0); the sequences' query rows lie back to back. Blocks wholly
// outside every query's window are kInvalidBlock and must never be read.
struct FlashSeq {
  int len, first;
};

struct FlashProblem {
  int heads = 0, kv_heads = 0, hd = 0, window = 0, block_size = 0;
  std::vector<FlashSeq> seqs;
  int max_blocks = 0, tokens = 0;
  std::vector<int> row0;  // first query row of each sequence
  std::vector<int32_t> tables;
  std::vector<float> q, k, v;
};

FlashProblem MakeFlashProblem(int heads, int kv_heads, int hd, int window, int block_size, std::vector<FlashSeq> seqs,
                              std::mt19937* rng) {
  FlashProblem f;
  f.heads = heads, f.kv_heads = kv_heads, f.hd = hd, f.window = window, f.block_size = block_size;
  f.seqs = std::move(seqs);
  for (const FlashSeq& s : f.seqs) f.max_blocks = std::max(f.max_blocks, (s.len + block_size - 1) / block_size);
  const int n = static_cast<int>(f.seqs.size()), pool = n * f.max_blocks;
  std::vector<int32_t> perm(pool);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), *rng);
  f.tables.assign(pool, kInvalidBlock);
  for (int s = 0; s < n; ++s) {
    const FlashSeq& q = f.seqs[s];
    const int first_key = window > 0 ? std::max(0, q.first - window + 1) : 0;
    for (int b = 0; b * block_size < q.len; ++b)
      if ((b + 1) * block_size - 1 >= first_key) f.tables[s * f.max_blocks + b] = perm[s * f.max_blocks + b];
    f.row0.push_back(f.tokens);
    f.tokens += q.len - q.first;
  }
  f.k = testing::RandomHalfValues(static_cast<size_t>(pool) * block_size * kv_heads * hd, -1, 1, rng);
  f.v = testing::RandomHalfValues(f.k.size(), -1, 1, rng);
  f.q = testing::RandomHalfValues(static_cast<size_t>(f.tokens) * heads * hd, -2, 2, rng);
  return f;
}

std::vector<double> FlashTwin(const FlashProblem& f) {
  const int width = f.heads * f.hd;
  const size_t token_stride = static_cast<size_t>(f.kv_heads) * f.hd;
  std::vector<double> want(static_cast<size_t>(f.tokens) * width, 0.0);
  for (size_t s = 0; s < f.seqs.size(); ++s)
    for (int i = f.seqs[s].first; i < f.seqs[s].len; ++i) {
      const size_t row = f.row0[s] + i - f.seqs[s].first;
      for (int h = 0; h < f.heads; ++h) {
        const int kvh = h / (f.heads / f.kv_heads);
        std::vector<double> scores;
        std::vector<size_t> keys;
        for (int j = 0; j <= i; ++j) {
          if (!Attends(i, j, f.window)) continue;
          const int32_t blk = f.tables[s * f.max_blocks + j / f.block_size];
          const size_t off = (static_cast<size_t>(blk) * f.block_size + j % f.block_size) * token_stride + kvh * f.hd;
          double dot = 0;
          for (int d = 0; d < f.hd; ++d) dot += double(f.q[row * width + h * f.hd + d]) * f.k[off + d];
          scores.push_back(dot / std::sqrt(double(f.hd)));
          keys.push_back(off);
        }
        const double mx = *std::max_element(scores.begin(), scores.end());
        double sum = 0;
        for (double& x : scores) sum += (x = std::exp(x - mx));
        for (size_t e = 0; e < scores.size(); ++e)
          for (int d = 0; d < f.hd; ++d) want[row * width + h * f.hd + d] += scores[e] / sum * f.v[keys[e] + d];
      }
    }
  return want;
}

// Tiles of FlashTileRows query rows as the backend makes them, for the sequences in `which`; when first_tile > 0
// each sequence's first tile has that many rows (a different chunk boundary).
std::vector<FlashTile> FlashTiles(const FlashProblem& f, const std::vector<int>& which, int first_tile) {
  const int rows = FlashTileRows(f.heads / f.kv_heads);
  std::vector<FlashTile> tiles;
  for (int s : which) {
    const int n = f.seqs[s].len - f.seqs[s].first;
    for (int i = 0; i < n;) {
      const int c = std::min(i == 0 && first_tile > 0 ? first_tile : rows, n - i);
      tiles.push_back(FlashTile{f.row0[s] + i, c, s, f.seqs[s].first + i});
      i += c;
    }
  }
  return tiles;
}

std::vector<int> AllSeqs(const FlashProblem& f) {
  std::vector<int> all(f.seqs.size());
  std::iota(all.begin(), all.end(), 0);
  return all;
}

struct FlashDevice {
  explicit FlashDevice(const FlashProblem& f)
      : q(testing::ToHalf(f.q)), k(testing::ToHalf(f.k)), v(testing::ToHalf(f.v)), tables(f.tables),
        out(static_cast<size_t>(f.tokens) * f.heads * f.hd) {}
  DeviceArray<__half> q, k, v;
  DeviceArray<int32_t> tables;
  DeviceArray<__half> out;
};

// The flash kernel over `tiles`; the output's raw fp16 bits (rows no tile covers stay poisoned: NaN).
std::vector<uint16_t> RunFlash(const FlashProblem& f, FlashDevice* d, const std::vector<FlashTile>& tiles) {
  std::vector<int32_t> flat(tiles.size() * 4);
  std::memcpy(flat.data(), tiles.data(), flat.size() * 4);
  DeviceArray<int32_t> dtiles(flat);
  d->out.Poison();
  FlashPrefillParams p;
  p.q = d->q.get(), p.ldq = f.heads * f.hd, p.k_cache = d->k.get(), p.v_cache = d->v.get();
  p.block_tables = d->tables.get(), p.max_blocks = f.max_blocks, p.block_size = f.block_size;
  p.tiles = reinterpret_cast<const FlashTile*>(dtiles.get()), p.num_tiles = static_cast<int>(tiles.size());
  p.heads = f.heads, p.kv_heads = f.kv_heads, p.head_dim = f.hd, p.window = f.window;
  p.scale = 1.0f / std::sqrt(static_cast<float>(f.hd)), p.out = d->out.get();
  EXPECT_TRUE(ValidateFlashPrefill(p).ok());
  LaunchFlashPrefill(p, nullptr);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  const std::vector<__half> h = d->out.Download();
  std::vector<uint16_t> bits(h.size());
  for (size_t i = 0; i < h.size(); ++i) bits[i] = static_cast<__half_raw>(h[i]).x;
  return bits;
}

// Each sequence's rows separately, so one wrong sequence cannot hide among right ones.
void ExpectFlashMatchesTwin(const FlashProblem& f, const std::vector<uint16_t>& got) {
  const std::vector<double> want = FlashTwin(f);
  const size_t width = static_cast<size_t>(f.heads) * f.hd;
  for (size_t s = 0; s < f.seqs.size(); ++s) {
    const size_t begin = f.row0[s] * width, end = begin + (f.seqs[s].len - f.seqs[s].first) * width;
    std::vector<float> g(end - begin);
    for (size_t i = begin; i < end; ++i) g[i - begin] = HalfToFloat(got[i]);
    EXPECT_LT(testing::RelErr(g, std::vector<double>(want.begin() + begin, want.begin() + end)), 2e-3)
        << "heads=" << f.heads << " kv=" << f.kv_heads << " hd=" << f.hd << " window=" << f.window
        << " block_size=" << f.block_size << " seq " << s << " len=" << f.seqs[s].len << " first=" << f.seqs[s].first;
  }
}

TEST(Ops, FlashPrefillMatchesTwin) {
  std::mt19937 rng(16);
  struct Case {
    int heads, kv_heads, hd, window, block_size;
    std::vector<FlashSeq> seqs;
  };
  const std::vector<Case> cases = {
      {8, 2, 128, 0, 16, {{1, 0}, {17, 0}, {300, 0}, {77, 0}, {255, 200}, {131, 129}}},   // group 4, causal
      {4, 4, 64, 64, 16, {{300, 0}, {129, 0}, {64, 0}, {65, 0}, {300, 237}, {97, 33}}},  // group 1, window 64
      {8, 2, 128, 64, 4, {{300, 0}, {150, 91}, {63, 0}, {250, 1}}},                      // window, small blocks
      {4, 2, 32, 32, 16, {{100, 0}, {45, 13}, {33, 0}}},                                 // awq-tiny-mistral's shape
      {8, 1, 64, 0, 16, {{200, 0}, {33, 31}}},                                           // group 8
      {6, 2, 32, 0, 8, {{70, 0}, {129, 5}}},                                             // group 3
      {4, 1, 128, 100, 16, {{299, 0}, {211, 150}}},                                      // group 4, window 100
  };
  for (const Case& c : cases) {
    const FlashProblem f = MakeFlashProblem(c.heads, c.kv_heads, c.hd, c.window, c.block_size, c.seqs, &rng);
    FlashDevice d(f);
    ExpectFlashMatchesTwin(f, RunFlash(f, &d, FlashTiles(f, AllSeqs(f), 0)));
  }
}

// A row's result is bit-identical alone, among other sequences, in a differently split tile (another chunk
// boundary) and in any launch order.
TEST(Ops, FlashPrefillIsBatchInvariant) {
  std::mt19937 rng(17);
  for (const int hd : {64, 128}) {
    for (const int window : {0, 64}) {
      const FlashProblem f =
          MakeFlashProblem(8, 2, hd, window, 16, {{300, 0}, {150, 91}, {37, 0}, {211, 3}, {2, 0}}, &rng);
      FlashDevice d(f);
      const std::vector<uint16_t> all = RunFlash(f, &d, FlashTiles(f, AllSeqs(f), 0));
      ExpectFlashMatchesTwin(f, all);
      const size_t width = static_cast<size_t>(f.heads) * f.hd;
      const auto expect_same_rows = [&](const std::vector<uint16_t>& got, const std::vector<int>& which,
                                        const char* what) {
        for (int s : which) {
          const size_t begin = f.row0[s] * width, end = begin + (f.seqs[s].len - f.seqs[s].first) * width;
          size_t diff = 0;
          for (size_t i = begin; i < end; ++i) diff += got[i] != all[i];
          EXPECT_EQ(diff, 0u) << what << ": seq " << s << " hd=" << hd << " window=" << window;
        }
      };
      for (int s = 0; s < static_cast<int>(f.seqs.size()); ++s)
        expect_same_rows(RunFlash(f, &d, FlashTiles(f, {s}, 0)), {s}, "alone");
      for (int first_tile : {1, 5}) expect_same_rows(RunFlash(f, &d, FlashTiles(f, AllSeqs(f), first_tile)), AllSeqs(f), "split");
      std::vector<FlashTile> reversed = FlashTiles(f, AllSeqs(f), 0);
      std::reverse(reversed.begin(), reversed.end());
      expect_same_rows(RunFlash(f, &d, reversed), AllSeqs(f), "reversed");
    }
  }
}

}  // namespace
}  // namespace inference::cuda
