// Per-kernel times on the GPU for the Mistral-7B shapes: where a decode step and a prefill spend their time.
// CUDA events around each launch, median of 20 after warm-up (gpu_timing.h), fresh random inputs (never zeros).
//
//   kernel_bench [--out kernels.json]
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <vector>

#include "base/json.h"
#include "bench/engine/bench_model.h"
#include "bench/engine/gpu_timing.h"
#include "inference/cuda/kernels/attention.h"
#include "inference/cuda/kernels/elementwise.h"
#include "inference/cuda/kernels/pdl.h"
#include "inference/cuda/kernels/w4a16.h"
#include "inference/cuda/linear.h"

namespace {

constexpr int kHidden = 4096, kInter = 14336, kHeads = 32, kKvHeads = 8, kHeadDim = 128, kGroup = 128, kVocab = 32000;

struct Buf {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Buf(size_t n) : bytes(n) {
    cudaMalloc(&p, bytes);
    std::vector<uint16_t> h(bytes / 2);
    std::mt19937 rng(static_cast<unsigned>(bytes));
    // Random fp16 values in [0.5, 1) with random sign: finite for every interpretation the kernels make.
    for (auto& x : h) x = static_cast<uint16_t>(0x3800 | (rng() & 0x83FF));
    cudaMemcpy(p, h.data(), h.size() * 2, cudaMemcpyHostToDevice);
  }
  ~Buf() { cudaFree(p); }
  template <typename T> T* as() const { return static_cast<T*>(p); }
};

using bench::GraphMs;
using bench::TimeMs;

}  // namespace

int main(int argc, char** argv) {
  auto flags = bench::ParseFlags(argc, argv);
  base::Json res = base::Json::MakeObject();
  auto gemm = inference::cuda::CublasGemm::Create();
  if (!gemm.ok()) {
    std::fprintf(stderr, "%s\n", gemm.status().ToString().c_str());
    return 1;
  }
  inference::cuda::CublasGemm* cublas = gemm->get();
  if (flags.count("profile-wide")) {  // a few launches of the kWide GEMM on gate_up at that many rows, for ncu
    const int m = std::stoi(flags["profile-wide"]), n = 2 * kInter, k = kHidden;
    int sms = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    Buf x(size_t{2} * m * k), y(size_t{2} * m * n), qw(size_t{1} * n * k / 2), sz(size_t{4} * n * (k / kGroup));
    inference::cuda::W4A16GemmParams p;
    p.x = x.as<__half>(), p.ldx = k, p.qweight = qw.as<uint32_t>(), p.scale_zero = sz.as<__half2>();
    p.y = y.as<__half>(), p.ldy = n, p.m = m, p.n = n, p.k = k, p.group = kGroup;
    p.kind = inference::cuda::W4A16GemmKind::kWide, p.splits = 1;
    // --profile-config mw,mt,nw,sk,stages[,s]: that config instead of the default (s: swapped).
    inference::cuda::W4A16GemmConfig c = inference::cuda::W4A16GemmDefaultConfig(p.kind, m, n, p.splits, sms);
    if (flags.count("profile-config")) {
      std::string spec = flags["profile-config"];
      const bool swapped = spec.back() == 's';
      if (swapped) spec.resize(spec.rfind(','));
      const std::vector<int> v = bench::ParseInts(spec);
      c = {p.kind, v[0], v[1], v[2], v[3], v[4], swapped};
    }
    for (int i = 0; i < 3; ++i) (void)inference::cuda::LaunchW4A16GemmWith(p, c, nullptr);
    return cudaDeviceSynchronize() == cudaSuccess ? 0 : 1;
  }
  struct Lin { const char* name; int n, k; };
  const Lin lins[] = {{"qkv", (kHeads + 2 * kKvHeads) * kHeadDim, kHidden}, {"o_proj", kHidden, kHeads * kHeadDim},
                      {"gate_up", 2 * kInter, kHidden}, {"down_proj", kHidden, kInter}};
  Buf x(size_t{2} * 8192 * kInter), y(size_t{2} * 8192 * 2 * kInter), scratch(size_t{2} * 2 * kInter * kHidden);
  std::printf("%-10s %-7s %5s %10s %10s %10s\n", "linear", "rows", "m", "ms", "GB/s", "TFLOP/s");
  constexpr int kMaxDecodeRows = 256;
  for (const Lin& l : lins) {
    Buf qw(size_t{1} * l.n * l.k / 2), sz(size_t{4} * l.n * (l.k / kGroup));
    int sms = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    inference::cuda::DeviceLinear w{qw.as<uint32_t>(), sz.as<__half2>(), nullptr, l.n, l.k, kGroup};
    w.splits = inference::cuda::W4A16GemmSplits(inference::cuda::W4A16GemmKind::kNarrow, l.n, l.k, sms);
    w.wide_splits = inference::cuda::W4A16GemmSplits(inference::cuda::W4A16GemmKind::kWide, l.n, l.k, sms);
    Buf ws(inference::cuda::LinearGemmWorkspaceBytes(w, kMaxDecodeRows) + 16);
    Buf counters(sizeof(int32_t) * (inference::cuda::LinearGemmCounters(w, kMaxDecodeRows) + 1));
    cudaMemset(counters.p, 0, sizeof(int32_t) * (inference::cuda::LinearGemmCounters(w, kMaxDecodeRows) + 1));
    const inference::cuda::LinearContext ctx{nullptr, cublas, scratch.as<__half>(), inference::cuda::LinearScratchBytes(w),
                                             ws.as<float>(), inference::cuda::LinearGemmWorkspaceBytes(w, kMaxDecodeRows),
                                             counters.as<int32_t>(), inference::cuda::LinearGemmCounters(w, kMaxDecodeRows)};
    const double bytes = l.n * double(l.k) / 2 + l.n * double(l.k / kGroup) * 4;
    struct Run { const char* kind; int m; };
    for (const Run r : {Run{"decode", 1}, Run{"decode", 8}, Run{"decode", 16}, Run{"decode", 32}, Run{"decode", 33}, Run{"decode", 64},
                        Run{"decode", 128}, Run{"decode", 256}, Run{"prefill", 256}, Run{"prefill", 2048}}) {
      const bool decode = r.kind[0] == 'd';
      const inference::cuda::LinearRows rows{decode ? 0 : r.m, decode ? r.m : 0};
      const double ms = TimeMs([&] { (void)inference::cuda::RunLinear(w, x.as<__half>(), rows, y.as<__half>(), ctx); });
      std::printf("%-10s %-7s %5d %10.4f %10.1f %10.1f\n", l.name, r.kind, r.m, ms, bytes / ms / 1e6,
                  2.0 * r.m * l.n * l.k / ms / 1e9);
      res.Set(std::string(l.name) + "_" + r.kind + "_m" + std::to_string(r.m) + "_ms", base::Json(ms));
    }
    const inference::cuda::W4A16DequantParams dp{qw.as<uint32_t>(), sz.as<__half2>(), l.n, l.k, kGroup, scratch.as<__half>()};
    const double ms = TimeMs([&] { inference::cuda::LaunchW4A16Dequant(dp, nullptr); });
    std::printf("%-10s dequant %8.4f ms (%.0f GB/s incl. fp16 write)\n", l.name, ms, (bytes + 2.0 * l.n * l.k) / ms / 1e6);
    res.Set(std::string(l.name) + "_dequant_ms", base::Json(ms));
  }
  // Every W4A16 GEMM config of each kind at each decode row count (the configs of a kind compute the same bits;
  // the dispatcher's default is marked *), ten launches per timing so the host's launch time is not counted.
  {
    int sms = 0, count = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    const inference::cuda::W4A16GemmConfig* configs = inference::cuda::W4A16GemmConfigs(&count);
    std::printf("gemm config sweep: linear kind m [mw mt nw sk stages] us (s: swapped, weights as wgmma's A; rN: N "
                "activation rows per ring slot)\n");
    Buf cold(size_t{640} << 20);  // weight copies to rotate through: more than ten times the L2
    for (const Lin& l : lins) {
      Buf qw(size_t{1} * l.n * l.k / 2), sz(size_t{4} * l.n * (l.k / kGroup));
      Buf ws(inference::cuda::W4A16GemmWorkspaceBytes(256, l.n, inference::cuda::kW4MaxSplits) + 16);
      Buf counters(sizeof(int32_t) * (inference::cuda::W4A16GemmCounters(256, l.n) + 1));
      cudaMemset(counters.p, 0, sizeof(int32_t) * (inference::cuda::W4A16GemmCounters(256, l.n) + 1));
      for (const auto kind : {inference::cuda::W4A16GemmKind::kNarrow, inference::cuda::W4A16GemmKind::kWide}) {
        const bool narrow = kind == inference::cuda::W4A16GemmKind::kNarrow;
        const int splits = inference::cuda::W4A16GemmSplits(kind, l.n, l.k, sms);
        for (int m : narrow ? std::vector<int>{1, 16, 32, 64} : std::vector<int>{32, 64, 128, 256}) {
          inference::cuda::W4A16GemmParams p;
          p.x = x.as<__half>(), p.ldx = l.k, p.qweight = qw.as<uint32_t>(), p.scale_zero = sz.as<__half2>();
          p.y = y.as<__half>(), p.ldy = l.n, p.m = m, p.n = l.n, p.k = l.k, p.group = kGroup, p.kind = kind;
          p.splits = splits, p.workspace = ws.as<float>(), p.counters = counters.as<int32_t>();
          const inference::cuda::W4A16GemmConfig def = inference::cuda::W4A16GemmDefaultConfig(kind, m, l.n, splits, sms);
          std::printf("%-10s %-6s %4d", l.name, narrow ? "narrow" : "wide", m);
          for (int i = 0; i < count; ++i) {
            const inference::cuda::W4A16GemmConfig& c = configs[i];
            if (c.kind != kind || l.n % (64 * c.nw) != 0) continue;
            const double us = 100.0 * TimeMs([&] {
              for (int r = 0; r < 10; ++r) (void)inference::cuda::LaunchW4A16GemmWith(p, c, nullptr);
            });
            const bool is_def = c == def;
            std::printf("  [%d %d %d %d %d%s%s]%s %.1f", c.mw, c.mt, c.nw, c.sk, c.stages, c.swapped ? "s" : "",
                        c.x_rows ? (" r" + std::to_string(c.x_rows)).c_str() : "", is_def ? "*" : "", us);
          }
          // A config against the K split (`mark`: star the split the kind fixes for this shape).
          auto sweep_splits = [&](const inference::cuda::W4A16GemmConfig& c, const char* label, bool mark) {
            for (int sp : {1, 2, 4, 8}) {
              p.splits = sp;
              const double us = 100.0 * TimeMs([&] {
                for (int r = 0; r < 10; ++r) (void)inference::cuda::LaunchW4A16GemmWith(p, c, nullptr);
              });
              std::printf("  %s %d%s %.1f", label, sp, mark && sp == splits ? "*" : "", us);
            }
            p.splits = splits;
          };
          if (!narrow)  // the swapped kernel of two warpgroups
            sweep_splits({kind, 1, m <= 64 ? 4 : 8, 2, 1, m <= 64 ? 5 : 4, true}, "swapped splits", false);
          if (!narrow || m == 1) sweep_splits(def, "splits", true);  // the kind's split against its neighbours
          // As the engine runs them: ten launches in a CUDA graph, each on other weights (cold in L2, as every
          // layer's are), without and with programmatic dependent launch.
          if (narrow && m <= 16) {
            const inference::cuda::W4A16GemmConfig def_cfg = def;
            const size_t wbytes = size_t{1} * l.n * l.k / 2;
            const int copies = static_cast<int>(std::max<size_t>(1, cold.bytes / wbytes));
            for (bool pdl : {false, true}) {
              inference::cuda::SetProgrammaticLaunch(pdl);
              const double us = 100.0 * GraphMs([&](cudaStream_t s) {
                for (int r = 0; r < 10; ++r) {
                  inference::cuda::W4A16GemmParams pc = p;
                  pc.qweight = reinterpret_cast<const uint32_t*>(static_cast<const char*>(cold.p) + (r % copies) * wbytes);
                  (void)inference::cuda::LaunchW4A16GemmWith(pc, def_cfg, s);
                }
              });
              std::printf("  graph%s %.1f", pdl ? "+pdl" : "", us);
            }
            inference::cuda::SetProgrammaticLaunch(true);
          }
          std::printf("\n");
        }
      }
    }
    // The lm_head's fixed algorithm chosen at different row counts (cublas_gemm.h), timed at 1 and 256 rows.
    Buf head(size_t{2} * kVocab * kHidden), logits(size_t{4} * 256 * kVocab);
    for (int plan : {1, 32, 256}) {
      auto g = inference::cuda::CublasGemm::Create();
      for (int m : {1, 256}) {
        const double us = 100.0 * TimeMs([&] {
          for (int r = 0; r < 10; ++r)
            (void)(*g)->Run(head.as<__half>(), kVocab, kHidden, x.as<__half>(), m, logits.as<float>(), CUDA_R_32F, plan,
                            nullptr);
        });
        std::printf("lm_head plan_rows %3d m %3d: %.1f us\n", plan, m, us);
      }
    }
  }
  // The small per-layer kernels of a decode step, ten launches in a CUDA graph as the engine runs them.
  {
    Buf res(size_t{4} * 256 * kHidden), delta(size_t{2} * 256 * kHidden), out(size_t{2} * 256 * kInter);
    Buf norm_w(size_t{2} * kHidden), qkv(size_t{2} * 256 * (kHeads + 2 * kKvHeads) * kHeadDim), inv(size_t{4} * kHeadDim);
    Buf kc(size_t{2} * 256 * kKvHeads * kHeadDim), vc(size_t{2} * 256 * kKvHeads * kHeadDim), gu(size_t{2} * 256 * 2 * kInter);
    std::vector<int32_t> iota(256);
    for (int i = 0; i < 256; ++i) iota[i] = i;
    Buf pos(sizeof(int32_t) * 256), slots(sizeof(int32_t) * 256);
    cudaMemcpy(pos.p, iota.data(), sizeof(int32_t) * 256, cudaMemcpyHostToDevice);
    cudaMemcpy(slots.p, iota.data(), sizeof(int32_t) * 256, cudaMemcpyHostToDevice);
    for (int tokens : {1, 32, 256}) {
      const inference::cuda::AddRmsNormParams n{res.as<float>(), delta.as<__half>(), nullptr, norm_w.as<__half>(),
                                                out.as<__half>(), tokens, kHidden, 1e-5f};
      const inference::cuda::RopeKvParams r{qkv.as<__half>(), pos.as<int32_t>(), slots.as<int32_t>(), inv.as<float>(),
                                            kc.as<__half>(), vc.as<__half>(), tokens, kHeads, kKvHeads, kHeadDim};
      const inference::cuda::SiluMulParams sm{gu.as<__half>(), out.as<__half>(), tokens, kInter};
      const double norm_us = 100.0 * GraphMs([&](cudaStream_t st) {
        for (int i = 0; i < 10; ++i) inference::cuda::LaunchAddRmsNorm(n, st);
      });
      const double rope_us = 100.0 * GraphMs([&](cudaStream_t st) {
        for (int i = 0; i < 10; ++i) inference::cuda::LaunchRopeKv(r, st);
      });
      const double silu_us = 100.0 * GraphMs([&](cudaStream_t st) {
        for (int i = 0; i < 10; ++i) inference::cuda::LaunchSiluMul(sm, st);
      });
      std::printf("tokens %3d: add_rmsnorm %.1f us, rope_kv %.1f us, silu_mul %.1f us (graph, per launch)\n", tokens,
                  norm_us, rope_us, silu_us);
    }
  }
  // lm_head, fp16 cuBLAS with fp32 logits.
  {
    Buf head(size_t{2} * kVocab * kHidden), logits(size_t{4} * 256 * kVocab);
    const inference::cuda::LinearContext ctx{nullptr, cublas, nullptr, 0};
    for (int m : {1, 256}) {
      const double ms = TimeMs([&] {
        (void)inference::cuda::RunLmHead(head.as<__half>(), kVocab, kHidden, x.as<__half>(), m, logits.as<float>(), ctx);
      });
      std::printf("lm_head    %5d %10.4f\n", m, ms);
      res.Set("lm_head_m" + std::to_string(m) + "_ms", base::Json(ms));
    }
  }
  // Attention: decode (B sequences, one query each at position ctx) and a prefill (T queries of one sequence).
  {
    const int block = 16, ctx = 512, long_ctx = 4096;
    const int max_blocks = long_ctx / block + 1;
    // Every run gives each sequence its own blocks: 256 sequences at ctx 512 is the most (33 blocks each).
    const size_t pool_blocks = size_t{256} * (ctx / block + 1);
    const size_t kv_bytes = size_t{2} * pool_blocks * block * kKvHeads * kHeadDim;
    Buf kc(kv_bytes), vc(kv_bytes);
    Buf q(size_t{2} * 2048 * (kHeads + 2 * kKvHeads) * kHeadDim), out(size_t{2} * 2048 * kHeads * kHeadDim);
    auto run = [&](const char* name, int tokens, int seqs, std::function<int(int)> seq_of, std::function<int(int)> pos_of) {
      std::vector<int32_t> tables(size_t{1} * seqs * max_blocks), qs(tokens), qp(tokens);
      for (int t = 0; t < tokens; ++t) qs[t] = seq_of(t), qp[t] = pos_of(t);
      const int used = *std::max_element(qp.begin(), qp.end()) / block + 1;  // blocks per sequence
      for (int s = 0; s < seqs; ++s)
        for (int b = 0; b < used; ++b) tables[size_t{1} * s * max_blocks + b] = s * used + b;
      double kv_read = 0;  // bytes of K and V the queries attend to
      for (int t = 0; t < tokens; ++t) kv_read += std::min(qp[t] + 1, 4096) * 2.0 * kKvHeads * kHeadDim * 2;
      int32_t *dt, *ds, *dp;
      cudaMalloc(&dt, tables.size() * 4);
      cudaMalloc(&ds, tokens * 4);
      cudaMalloc(&dp, tokens * 4);
      cudaMemcpy(dt, tables.data(), tables.size() * 4, cudaMemcpyHostToDevice);
      cudaMemcpy(ds, qs.data(), tokens * 4, cudaMemcpyHostToDevice);
      cudaMemcpy(dp, qp.data(), tokens * 4, cudaMemcpyHostToDevice);
      inference::cuda::PagedAttentionParams p;
      p.q = q.as<__half>(), p.ldq = (kHeads + 2 * kKvHeads) * kHeadDim, p.k_cache = kc.as<__half>(), p.v_cache = vc.as<__half>();
      p.block_tables = dt, p.max_blocks = max_blocks, p.block_size = block, p.query_seq = ds, p.query_pos = dp;
      p.tokens = tokens, p.heads = kHeads, p.kv_heads = kKvHeads, p.head_dim = kHeadDim, p.window = 4096;
      p.scale = 0.088f, p.splits = inference::cuda::PagedAttentionSplits(tokens, kKvHeads, 132);
      const size_t ws_bytes = inference::cuda::PagedAttentionWorkspaceBytes(tokens, kHeads, kHeadDim, p.splits);
      Buf ws(ws_bytes);
      cudaMemset(ws.p, 0, ws_bytes);  // the arrival counters start at zero
      p.workspace = ws.as<float>(), p.out = out.as<__half>();
      const double ms = TimeMs([&] { inference::cuda::LaunchPagedAttention(p, nullptr); });
      std::printf("attention %-20s %10.4f ms %8.1f GB/s\n", name, ms, kv_read / ms / 1e6);
      res.Set(std::string("attention_") + name + "_ms", base::Json(ms));
      cudaFree(dt), cudaFree(ds), cudaFree(dp);
    };
    for (int B : {1, 8, 32, 64, 128, 256}) {
      const std::string name = "decode_b" + std::to_string(B);
      run(name.c_str(), B, B, [](int t) { return t; }, [&](int) { return ctx; });
    }
    run("decode_b1_ctx4096", 1, 1, [](int t) { return t; }, [&](int) { return long_ctx; });
    run("prefill2048", 2048, 1, [](int) { return 0; }, [](int t) { return t; });
    // The flash kernel on one sequence's prefill of T tokens (from position 0, window 4096), with its useful
    // TFLOP/s: 4 * head_dim * heads FLOP (Q K^T and P V, a multiply-add each) per attended (query, key) pair.
    for (int T : {512, 2048, 4096}) {
      const int flash_window = 4096;
      std::vector<int32_t> tables((T + block - 1) / block), tiles;
      for (size_t i = 0; i < tables.size(); ++i) tables[i] = static_cast<int32_t>(i);
      const int tile_rows = inference::cuda::FlashTileRows(kHeads / kKvHeads);
      for (int t = 0; t < T; t += tile_rows) tiles.insert(tiles.end(), {t, std::min(tile_rows, T - t), 0, t});
      Buf fq(size_t{2} * T * (kHeads + 2 * kKvHeads) * kHeadDim), fout(size_t{2} * T * kHeads * kHeadDim);
      int32_t *dt, *dtiles;
      cudaMalloc(&dt, tables.size() * 4);
      cudaMalloc(&dtiles, tiles.size() * 4);
      cudaMemcpy(dt, tables.data(), tables.size() * 4, cudaMemcpyHostToDevice);
      cudaMemcpy(dtiles, tiles.data(), tiles.size() * 4, cudaMemcpyHostToDevice);
      inference::cuda::FlashPrefillParams f;
      f.q = fq.as<__half>(), f.ldq = (kHeads + 2 * kKvHeads) * kHeadDim, f.k_cache = kc.as<__half>(), f.v_cache = vc.as<__half>();
      f.block_tables = dt, f.max_blocks = static_cast<int>(tables.size()), f.block_size = block;
      f.tiles = reinterpret_cast<const inference::cuda::FlashTile*>(dtiles), f.num_tiles = static_cast<int>(tiles.size() / 4);
      f.heads = kHeads, f.kv_heads = kKvHeads, f.head_dim = kHeadDim, f.window = flash_window, f.scale = 0.088f;
      f.out = fout.as<__half>();
      const double ms = TimeMs([&] { inference::cuda::LaunchFlashPrefill(f, nullptr); });
      double pairs = 0;
      for (int i = 0; i < T; ++i) pairs += std::min(i + 1, flash_window);
      const double tflops = 4.0 * kHeadDim * kHeads * pairs / (ms * 1e-3) / 1e12;
      const std::string name = "flash_prefill" + std::to_string(T);
      std::printf("attention %-16s %10.4f ms %7.1f TFLOP/s\n", name.c_str(), ms, tflops);
      res.Set("attention_" + name + "_ms", base::Json(ms));
      res.Set("attention_" + name + "_tflops", base::Json(tflops));
      cudaFree(dt), cudaFree(dtiles);
    }
  }
  const cudaError_t err = cudaDeviceSynchronize();
  std::printf("status: %s\n", cudaGetErrorString(err));
  if (flags.count("out")) std::ofstream(flags["out"]) << res.Dump() << "\n";
  return err == cudaSuccess ? 0 : 1;
}
