// Engine throughput on the GPU: decode tokens/s at several batch sizes with `ctx` tokens already cached, prefill
// time of one prompt (the whole forward + lm_head + sampling), KV capacity and device memory. Each timed step is
// a real CudaBackend::Execute (host prepare, upload, graph replay, sampled ids back).
//
//   engine_bench --base-config mistral-7b/config.json --layers 32 --dir /tmp/synth32 --out result.json
//                [--batches 1,8,32,64,128,256] [--ctx 512] [--prefill 128,2048] [--steps 30] [--pdl 0]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "base/json.h"
#include "bench/engine/bench_model.h"
#include "inference/cuda/cuda_backend.h"
#include "inference/cuda/kernels/pdl.h"
#include "inference/model/weights.h"

namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "engine_bench: %s\n", st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = bench::ParseFlags(argc, argv);
  const std::string dir = flags.count("dir") ? flags["dir"] : "/tmp/awqserve-synth";
  const int layers = flags.count("layers") ? std::stoi(flags["layers"]) : 32;
  const int ctx = flags.count("ctx") ? std::stoi(flags["ctx"]) : 512;
  const int steps = flags.count("steps") ? std::stoi(flags["steps"]) : 30;
  const std::vector<int> batches = bench::ParseInts(flags.count("batches") ? flags["batches"] : "1,8,32,64,128,256");
  const std::vector<int> prefills = bench::ParseInts(flags.count("prefill") ? flags["prefill"] : "128,2048");
  base::Json res = base::Json::MakeObject();

  auto t0 = Clock::now();
  if (absl::Status st = bench::EnsureSynthCheckpoint(flags["base-config"], layers, 1.0f, dir); !st.ok()) return Fail(st);
  auto t1 = Clock::now();
  auto weights = inference::LoadModelWeights(dir);
  if (!weights.ok()) return Fail(weights.status());
  // --pdl 0: launch without programmatic dependent launch (kernels/pdl.h), to measure what it brings.
  inference::cuda::SetProgrammaticLaunch(!flags.count("pdl") || flags["pdl"] != "0");
  inference::cuda::CudaBackendOptions opt;
  opt.kv_memory_fraction = flags.count("kv-fraction") ? std::stod(flags["kv-fraction"]) : 0.9;
  auto backend = inference::cuda::CudaBackend::Create(*weights, opt);
  if (!backend.ok()) return Fail(backend.status());
  auto t2 = Clock::now();
  inference::cuda::CudaBackend& b = **backend;
  const inference::KvLayout kv = b.info().kv;
  const int vocab = weights->config.vocab_size;
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  res.Set("gpu", base::Json(std::string(prop.name)));
  res.Set("layers", base::Json(layers));
  res.Set("synth_s", base::Json(Ms(t0, t1) / 1000));
  res.Set("load_s", base::Json(Ms(t1, t2) / 1000));
  res.Set("weight_GiB", base::Json(b.weight_bytes() / 1073741824.0));
  res.Set("kv_GiB", base::Json(b.kv_bytes() / 1073741824.0));
  res.Set("kv_capacity_tokens", base::Json(static_cast<int64_t>(kv.num_blocks) * kv.block_size));
  res.Set("device_used_GiB", base::Json((total_b - free_b) / 1073741824.0));
  std::printf("weights %.2f GiB, KV %.2f GiB = %lld tokens, device memory in use %.2f GiB of %.2f\n",
              b.weight_bytes() / 1073741824.0, b.kv_bytes() / 1073741824.0,
              static_cast<long long>(kv.num_blocks) * kv.block_size, (total_b - free_b) / 1073741824.0,
              total_b / 1073741824.0);

  inference::SamplingParams greedy;
  greedy.temperature = 0;
  std::vector<inference::SamplerState> states(256);
  for (int B : batches) {
    const int warm = 3;
    const int per_seq = (ctx + warm + steps + 1 + kv.block_size - 1) / kv.block_size;
    if (static_cast<int64_t>(per_seq) * B > kv.num_blocks) {
      std::printf("decode batch %d: skipped (needs %d blocks)\n", B, per_seq * B);
      continue;
    }
    auto step = [&](int s) {
      inference::StepBatch batch;
      for (int k = 0; k < B; ++k) {
        inference::SeqStep q;
        q.tokens = {(k * 7919 + s * 31 + 3) % vocab};
        q.start_pos = ctx + s;
        for (int i = 0; i < (ctx + s + 1 + kv.block_size - 1) / kv.block_size; ++i) q.block_table.push_back(k * per_seq + i);
        q.sample = true;
        q.sampling = &greedy;
        q.sampler_state = &states[k];
        batch.seqs.push_back(std::move(q));
      }
      inference::StepResult r;
      return b.Execute(batch, &r);
    };
    for (int s = 0; s < warm; ++s)
      if (absl::Status st = step(s); !st.ok()) return Fail(st);
    auto a = Clock::now();
    for (int s = warm; s < warm + steps; ++s)
      if (absl::Status st = step(s); !st.ok()) return Fail(st);
    const double ms = Ms(a, Clock::now()) / steps;
    res.Set("decode_b" + std::to_string(B) + "_ms_per_step", base::Json(ms));
    res.Set("decode_b" + std::to_string(B) + "_tok_s", base::Json(B * 1000.0 / ms));
    std::printf("decode batch %3d (context %d): %.3f ms/step, %9.1f tok/s\n", B, ctx, ms, B * 1000.0 / ms);
  }
  for (int T : prefills) {
    auto run = [&]() {
      inference::StepBatch batch;
      inference::SeqStep q;
      for (int i = 0; i < T; ++i) q.tokens.push_back((i * 104729 + 11) % vocab);
      for (int i = 0; i < (T + kv.block_size - 1) / kv.block_size; ++i) q.block_table.push_back(i);
      q.sample = true;
      q.sampling = &greedy;
      q.sampler_state = &states[0];
      batch.seqs.push_back(std::move(q));
      inference::StepResult r;
      return b.Execute(batch, &r);
    };
    if (absl::Status st = run(); !st.ok()) return Fail(st);
    std::vector<double> times;
    for (int i = 0; i < 5; ++i) {
      auto a = Clock::now();
      if (absl::Status st = run(); !st.ok()) return Fail(st);
      times.push_back(Ms(a, Clock::now()));
    }
    std::sort(times.begin(), times.end());
    res.Set("prefill" + std::to_string(T) + "_ms", base::Json(times[2]));
    std::printf("prefill %5d tokens: %.2f ms (%.0f tok/s)\n", T, times[2], T * 1000.0 / times[2]);
  }
  cudaMemGetInfo(&free_b, &total_b);
  res.Set("device_used_end_GiB", base::Json((total_b - free_b) / 1073741824.0));
  if (flags.count("out")) std::ofstream(flags["out"]) << res.Dump() << "\n";
  std::printf("%s\n", res.Dump().c_str());
  return 0;
}
