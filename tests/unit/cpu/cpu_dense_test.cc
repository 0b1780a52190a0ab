// The dense (unquantized) loading path of the CPU backend: a float32 checkpoint holding exactly the dequantized
// weights of tiny-stories-awq (nn.Linear layout [out, in]) gives bit-identical logits to the AWQ checkpoint, and so
// the reference's greedy stories.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/file.h"
#include "gtest/gtest.h"
#include "inference/model/awq_format.h"
#include "inference/model/safetensors_writer.h"
#include "tests/unit/cpu/cpu_test_util.h"

namespace inference {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "awq_cpu_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes DIR/model.safetensors with every AWQ linear of `w` dequantized to F32 [N, K], other tensors as F32, and a
// config.json without quantization_config.
void WriteDequantized(const ModelWeights& w, const std::string& dir) {
  std::vector<TensorSpec> specs;
  std::vector<std::vector<float>> data;
  auto add_float = [&](const TensorInfo* t) {
    specs.push_back({t->name, DType::kF32, t->shape});
    data.emplace_back(t->num_elements());
    ToFloat32(t->dtype, t->data, data.back().size(), data.back().data());
  };
  add_float(w.embed_tokens);
  add_float(w.norm);
  if (w.lm_head != w.embed_tokens) add_float(w.lm_head);
  for (const LayerWeights& L : w.layers) {
    add_float(L.input_layernorm);
    add_float(L.post_attention_layernorm);
    for (const LinearWeight* l : {&L.q_proj, &L.k_proj, &L.v_proj, &L.o_proj, &L.gate_proj, &L.up_proj, &L.down_proj}) {
      const int64_t K = l->in_features, N = l->out_features;
      std::vector<float> kn(K * N), nk(K * N);
      DequantizeAwq(l->qweight->data, l->qzeros->data, l->scales->data, K, N, l->group_size, kn.data());
      for (int64_t k = 0; k < K; ++k) {
        for (int64_t n = 0; n < N; ++n) nk[n * K + k] = kn[k * N + n];
      }
      specs.push_back({l->name + ".weight", DType::kF32, {N, K}});
      data.push_back(std::move(nk));
    }
  }
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", specs, [&](size_t i, std::string* bytes) {
                bytes->assign(reinterpret_cast<const char*>(data[i].data()), data[i].size() * sizeof(float));
                return absl::OkStatus();
              }).ok());
  base::Json cfg = *base::ReadJsonFile(testing::SharedAsset("tiny-stories-awq/config.json"));
  base::Json::Object kept;
  for (auto& m : cfg.members()) {
    if (m.first != "quantization_config") kept.push_back(m);
  }
  std::ofstream(dir + "/config.json") << base::Json::MakeObject(kept).Dump();
  std::filesystem::copy_file(testing::SharedAsset("tiny-stories-awq/generation_config.json"),
                             dir + "/generation_config.json");
}

TEST(CpuDenseTest, DequantizedFloat32CheckpointMatchesAwqBitForBit) {
  absl::StatusOr<ModelWeights> awq = LoadModelWeights(testing::SharedAsset("tiny-stories-awq"));
  ASSERT_TRUE(awq.ok()) << awq.status();
  TempDir dir;
  WriteDequantized(*awq, dir.path());
  absl::StatusOr<ModelWeights> dense = LoadModelWeights(dir.path());
  ASSERT_TRUE(dense.ok()) << dense.status();
  ASSERT_EQ(dense->layers[0].q_proj.format, LinearWeight::Format::kDense);

  auto a = CreateCpuBackend(*awq, {.num_blocks = 8, .threads = 2});
  auto d = CreateCpuBackend(*dense, {.num_blocks = 8, .threads = 2});
  ASSERT_TRUE(a.ok() && d.ok());
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378, 432, 383, 286};
  std::vector<std::vector<float>> la, ld;
  ASSERT_TRUE((*a)->ExecuteAllLogits(testing::One(testing::Step(prompt, 0, {0})), &la).ok());
  ASSERT_TRUE((*d)->ExecuteAllLogits(testing::One(testing::Step(prompt, 0, {0})), &ld).ok());
  EXPECT_EQ(la, ld);

  absl::StatusOr<base::Json> ref = base::ReadJsonFile(testing::SharedAsset("tiny-stories-awq/reference.json"));
  ASSERT_TRUE(ref.ok());
  const base::Json& c = ref->Get("cases").items()[1];
  std::vector<int32_t> ids, expected;
  for (const base::Json& x : c.Get("prompt_ids").items()) ids.push_back(static_cast<int32_t>(x.AsInt()));
  for (const base::Json& x : c.Get("greedy_ids").items()) expected.push_back(static_cast<int32_t>(x.AsInt()));
  EXPECT_EQ(testing::Greedy(**d, ids, static_cast<int>(expected.size()), {1, 2}), expected);
}

}  // namespace
}  // namespace inference
