// The CUDA engine on a full-width synthetic checkpoint (real 7B layer shapes), for the comparison against
// ../shared/tools/awq_reference.py (tests/gpu/full_width_check.py drives both on the GPU machine):
//   --ids-file F --positions p1,p2,... --out ours.npy   logits at those positions (float32 [P][vocab]), computed by
//                                                        chunked prefill: each chunk ends at the next position
//   --greedy-batch 32 --ids-file F                       greedy tokens of 32 prompts alone vs in one batch
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "bench/engine/bench_model.h"
#include "inference/cuda/cuda_backend.h"
#include "inference/engine/sampler.h"
#include "inference/model/weights.h"

namespace {

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "full_width_logits: %s\n", st.ToString().c_str());
  return 1;
}

void WriteNpy(const std::string& path, const std::vector<std::vector<float>>& rows) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows.size()) + ", " +
                       std::to_string(rows.empty() ? 0 : rows[0].size()) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  for (const auto& r : rows) f.write(reinterpret_cast<const char*>(r.data()), r.size() * sizeof(float));
}

struct Runner {
  inference::cuda::CudaBackend* backend;
  int block_size;
  inference::SamplingParams greedy;
  std::vector<inference::SamplerState> states = std::vector<inference::SamplerState>(64);

  inference::SeqStep Step(int seq, std::vector<int32_t> tokens, int start, bool sample) {
    inference::SeqStep s;
    const int blocks_per_seq = 6000 / block_size + 1;
    s.tokens = std::move(tokens);
    s.start_pos = start;
    for (int i = 0; i < (start + static_cast<int>(s.tokens.size()) + block_size - 1) / block_size; ++i)
      s.block_table.push_back(seq * blocks_per_seq + i);
    s.sample = sample;
    s.sampling = &greedy;
    s.sampler_state = &states[seq];
    return s;
  }
};

}  // namespace

int main(int argc, char** argv) {
  auto flags = bench::ParseFlags(argc, argv);
  const std::string dir = flags["dir"];
  const float qk_scale = flags.count("qk-scale") ? std::stof(flags["qk-scale"]) : 1.0f;
  if (absl::Status st = bench::EnsureSynthCheckpoint(flags["base-config"], 2, qk_scale, dir); !st.ok()) return Fail(st);
  auto weights = inference::LoadModelWeights(dir);
  if (!weights.ok()) return Fail(weights.status());
  inference::cuda::CudaBackendOptions opt;
  opt.max_seqs = 64;
  opt.max_kv_blocks = 64 * (6000 / opt.block_size + 1);
  auto backend = inference::cuda::CudaBackend::Create(*weights, opt);
  if (!backend.ok()) return Fail(backend.status());
  Runner run{backend->get(), opt.block_size, {}};
  run.greedy.temperature = 0;

  std::ifstream in(flags["ids-file"]);
  std::vector<int32_t> ids;
  for (std::string tok; in >> tok;) {
    std::replace(tok.begin(), tok.end(), ',', ' ');
    std::stringstream ss(tok);
    for (int v; ss >> v;) ids.push_back(v);
  }
  if (ids.empty()) return Fail(absl::InvalidArgumentError("--ids-file: no ids"));

  if (flags.count("greedy-batch")) {
    const int n = std::stoi(flags["greedy-batch"]), new_tokens = 8;
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < n; ++i)
      prompts.emplace_back(ids.begin(), ids.begin() + std::min<size_t>(ids.size(), 1 + (i * 53) % 300));
    auto generate = [&](const std::vector<int>& which, int first_seq) {
      std::vector<std::vector<int32_t>> out(which.size());
      inference::StepBatch batch;
      for (size_t i = 0; i < which.size(); ++i) batch.seqs.push_back(run.Step(first_seq + i, prompts[which[i]], 0, true));
      for (int s = 0; s < new_tokens; ++s) {
        inference::StepResult r;
        if (absl::Status st = run.backend->Execute(batch, &r); !st.ok()) Fail(st);
        inference::StepBatch next;
        for (size_t i = 0; i < which.size(); ++i) {
          out[i].push_back(r.tokens[i].id);
          next.seqs.push_back(run.Step(first_seq + i, {r.tokens[i].id},
                                       batch.seqs[i].start_pos + static_cast<int>(batch.seqs[i].tokens.size()), true));
        }
        batch = next;
      }
      return out;
    };
    std::vector<int> all(n);
    for (int i = 0; i < n; ++i) all[i] = i;
    const auto together = generate(all, 0);
    // Every row kind computes the same bits alone and in a batch (inference/cuda/linear.h), so every request must
    // give exactly the same tokens; a divergence is reported with the top-2 margin where it happens.
    int identical = 0;
    for (int i = 0; i < n; ++i) {
      const auto alone = generate({i}, n)[0];
      size_t d = 0;
      while (d < alone.size() && alone[d] == together[i][d]) ++d;
      if (d == alone.size()) {
        ++identical;
        continue;
      }
      std::vector<int32_t> context = prompts[i];
      context.insert(context.end(), alone.begin(), alone.begin() + d);
      inference::StepBatch b;
      b.seqs.push_back(run.Step(n, context, 0, true));
      std::vector<std::vector<float>> logits;
      if (absl::Status st = run.backend->ExecuteLogits(b, &logits); !st.ok()) return Fail(st);
      std::vector<float> l = logits[0];
      std::partial_sort(l.begin(), l.begin() + 2, l.end(), std::greater<float>());
      std::printf("request %d (prompt %zu tokens) diverges at step %zu: top-2 margin there %.4f\n", i,
                  prompts[i].size(), d, l[0] - l[1]);
    }
    std::printf("greedy batch of %d vs alone: %d of %d identical\n", n, identical, n);
    return identical == n ? 0 : 2;
  }

  std::vector<int> positions = bench::ParseInts(flags["positions"]);
  std::sort(positions.begin(), positions.end());
  std::vector<std::vector<float>> rows;
  int start = 0;
  for (int p : positions) {
    // Chunks of at most max_batch_tokens, the last one ending at p and sampling.
    while (start <= p) {
      const int end = std::min(p + 1, start + opt.max_batch_tokens);
      inference::StepBatch b;
      b.seqs.push_back(run.Step(0, std::vector<int32_t>(ids.begin() + start, ids.begin() + end), start, true));
      std::vector<std::vector<float>> logits;
      if (absl::Status st = run.backend->ExecuteLogits(b, &logits); !st.ok()) return Fail(st);
      if (end == p + 1) rows.push_back(logits[0]);
      start = end;
    }
  }
  WriteNpy(flags["out"], rows);
  std::printf("wrote %zu logits rows to %s\n", rows.size(), flags["out"].c_str());
  return 0;
}
