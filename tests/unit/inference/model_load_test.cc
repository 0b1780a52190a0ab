// Loading the real checkpoints in ../shared/assets: configs, tensor views, sharded folders.
#include <cmath>
#include <cstring>

#include "gtest/gtest.h"
#include "inference/model/awq_format.h"
#include "inference/model/dtype.h"
#include "inference/model/model_config.h"
#include "inference/model/safetensors.h"
#include "inference/model/safetensors_writer.h"
#include "inference/model/weights.h"
#include "tests/unit/inference/test_dir.h"

namespace inference {
namespace {

using testing::CopyAsset;
using testing::SharedAsset;
using testing::TempDir;

TEST(ModelConfigTest, AwqTinyMistral) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig(SharedAsset("awq-tiny-mistral"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "MistralForCausalLM");
  EXPECT_EQ(c->vocab_size, 32000);
  EXPECT_EQ(c->hidden_size, 128);
  EXPECT_EQ(c->intermediate_size, 384);
  EXPECT_EQ(c->num_hidden_layers, 2);
  EXPECT_EQ(c->num_attention_heads, 4);
  EXPECT_EQ(c->num_key_value_heads, 2);
  EXPECT_EQ(c->head_dim, 32);
  EXPECT_EQ(c->sliding_window, 32);
  EXPECT_EQ(c->rope_theta, 10000.0);
  EXPECT_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_EQ(c->eos_token_ids, std::vector<int>({2}));
  EXPECT_EQ(c->quant.method, QuantMethod::kAwqGemm);
  EXPECT_EQ(c->quant.bits, 4);
  EXPECT_EQ(c->quant.group_size, 128);
}

TEST(ModelConfigTest, TinyStoriesNullWindowEosListTied) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig(SharedAsset("tiny-stories-awq"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sliding_window, 0);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->eos_token_ids, std::vector<int>({2, 1}));
  EXPECT_EQ(c->quant.group_size, 64);
  EXPECT_EQ(c->head_dim, 8);
  absl::StatusOr<ModelConfig> f = LoadModelConfig(SharedAsset("tiny-stories"));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->quant.method, QuantMethod::kNone);
  EXPECT_EQ(f->intermediate_size, 172);
}

TEST(ModelConfigTest, Mistral7bAwqConfigUnchanged) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig(SharedAsset("mistral-7b-instruct-v0.1"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->intermediate_size, 14336);
  EXPECT_EQ(c->num_hidden_layers, 32);
  EXPECT_EQ(c->num_key_value_heads, 8);
  EXPECT_EQ(c->head_dim, 128);  // absent: hidden / heads
  EXPECT_EQ(c->sliding_window, 4096);
  EXPECT_EQ(c->max_position_embeddings, 32768);
  EXPECT_EQ(c->quant.group_size, 128);
  EXPECT_EQ(c->torch_dtype, "bfloat16");
}

TEST(ModelConfigTest, QuantConfigJsonAndAbsentWindow) {
  TempDir dir;
  base::Json cfg = *base::ReadJsonFile(SharedAsset("awq-tiny-mistral/config.json"));
  base::Json::Object kept;
  for (auto& m : cfg.members()) {
    if (m.first != "quantization_config" && m.first != "sliding_window") kept.push_back(m);
  }
  testing::WriteBytes(dir.File("config.json"), base::Json::MakeObject(kept).Dump());
  CopyAsset("awq-tiny-mistral", dir.path(), {"quant_config.json"});  // q_group_size / w_bit / "GEMM"
  absl::StatusOr<ModelConfig> c = LoadModelConfig(dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sliding_window, 0);
  EXPECT_EQ(c->quant.method, QuantMethod::kAwqGemm);
  EXPECT_EQ(c->quant.group_size, 128);
  EXPECT_EQ(c->quant.bits, 4);
  EXPECT_EQ(c->eos_token_ids, std::vector<int>({2}));  // no generation_config.json: config's int
}

void ExpectAwqLinear(const LinearWeight& l, int in, int out, int group) {
  EXPECT_EQ(l.format, LinearWeight::Format::kAwq) << l.name;
  EXPECT_EQ(l.in_features, in) << l.name;
  EXPECT_EQ(l.out_features, out) << l.name;
  ASSERT_NE(l.qweight, nullptr);
  EXPECT_EQ(l.qweight->shape, std::vector<int64_t>({in, out / 8})) << l.name;
  EXPECT_EQ(l.qzeros->shape, std::vector<int64_t>({in / group, out / 8})) << l.name;
  EXPECT_EQ(l.scales->shape, std::vector<int64_t>({in / group, out})) << l.name;
  EXPECT_EQ(l.scales->dtype, DType::kF16);
}

TEST(ModelWeightsTest, LoadsAwqTinyMistral) {
  absl::StatusOr<ModelWeights> w = LoadModelWeights(SharedAsset("awq-tiny-mistral"));
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->layers.size(), 2u);
  EXPECT_NE(w->lm_head, w->embed_tokens);
  EXPECT_EQ(w->lm_head->shape, std::vector<int64_t>({32000, 128}));
  const LayerWeights& L = w->layers[1];
  EXPECT_EQ(L.q_proj.name, "model.layers.1.self_attn.q_proj");
  ExpectAwqLinear(L.q_proj, 128, 128, 128);
  ExpectAwqLinear(L.k_proj, 128, 64, 128);
  ExpectAwqLinear(L.v_proj, 128, 64, 128);
  ExpectAwqLinear(L.o_proj, 128, 128, 128);
  ExpectAwqLinear(L.gate_proj, 128, 384, 128);
  ExpectAwqLinear(L.up_proj, 128, 384, 128);
  ExpectAwqLinear(L.down_proj, 384, 128, 128);
  EXPECT_EQ(L.input_layernorm->name, "model.layers.1.input_layernorm.weight");
  // Views point into the mapped file at the header's offsets.
  const TensorInfo* norm = w->norm;
  const std::string bytes = testing::ReadBytes(norm->file);
  EXPECT_EQ(std::memcmp(norm->data, bytes.data() + norm->file_offset, norm->nbytes), 0);
  EXPECT_EQ(w->checkpoint->total_bytes(), bytes.size() - w->checkpoint->files()[0]->header_size() - 8);
}

TEST(ModelWeightsTest, LoadsTinyStoriesAwq) {
  absl::StatusOr<ModelWeights> w = LoadModelWeights(SharedAsset("tiny-stories-awq"));
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->layers.size(), 5u);
  ExpectAwqLinear(w->layers[4].down_proj, 192, 64, 64);
  EXPECT_EQ(w->lm_head->name, "lm_head.weight");  // tied, but the copy is present and used
}

TEST(ModelWeightsTest, LoadsTinyStoriesFloat32) {
  absl::StatusOr<ModelWeights> w = LoadModelWeights(SharedAsset("tiny-stories"));
  ASSERT_TRUE(w.ok()) << w.status();
  const LinearWeight& down = w->layers[0].down_proj;
  EXPECT_EQ(down.format, LinearWeight::Format::kDense);
  EXPECT_EQ(down.weight->dtype, DType::kF32);
  EXPECT_EQ(down.weight->shape, std::vector<int64_t>({64, 172}));
  EXPECT_EQ(w->layers[0].k_proj.weight->shape, std::vector<int64_t>({32, 64}));
}

TEST(ModelWeightsTest, TiedWithoutLmHeadUsesEmbedding) {
  TempDir dir;
  CopyAsset("tiny-stories", dir.path(), {"config.json", "generation_config.json"});
  testing::RawSafetensors raw = testing::ReadRaw(SharedAsset("tiny-stories/model.safetensors"));
  base::Json::Object kept;
  for (auto& m : raw.header.members()) {
    if (m.first != "lm_head.weight") kept.push_back(m);
  }
  raw.header = base::Json::MakeObject(kept);
  testing::WriteRaw(dir.File("model.safetensors"), raw);  // lm_head's bytes stay as unreferenced padding
  absl::StatusOr<ModelWeights> w = LoadModelWeights(dir.path());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->lm_head, w->embed_tokens);
}

// Splits tiny-stories into two shards with an index, as transformers' save_pretrained does for large models.
TEST(ModelWeightsTest, LoadsShardedCheckpoint) {
  TempDir dir;
  CopyAsset("tiny-stories", dir.path(), {"config.json", "generation_config.json"});
  absl::StatusOr<std::shared_ptr<const Checkpoint>> src =
      Checkpoint::OpenFile(SharedAsset("tiny-stories/model.safetensors"));
  ASSERT_TRUE(src.ok()) << src.status();
  std::vector<TensorSpec> shard[2];
  std::vector<const TensorInfo*> infos[2];
  base::Json weight_map = base::Json::MakeObject();
  int i = 0;
  for (const auto& [name, t] : (*src)->tensors()) {
    const int s = (i++ % 2);
    shard[s].push_back({name, t->dtype, t->shape});
    infos[s].push_back(t);
    weight_map.Set(name, s == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
  }
  for (int s = 0; s < 2; ++s) {
    const std::string path = dir.File(s == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
    ASSERT_TRUE(WriteSafetensors(path, shard[s], [&](size_t k, std::string* bytes) {
                  bytes->assign(reinterpret_cast<const char*>(infos[s][k]->data), infos[s][k]->nbytes);
                  return absl::OkStatus();
                }).ok());
  }
  testing::WriteBytes(dir.File("model.safetensors.index.json"),
                      base::Json::MakeObject({{"metadata", base::Json::MakeObject()}, {"weight_map", weight_map}}).Dump());
  absl::StatusOr<ModelWeights> w = LoadModelWeights(dir.path());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->checkpoint->files().size(), 2u);
  const TensorInfo* a = w->layers[3].gate_proj.weight;
  const TensorInfo* b = (*src)->Find(a->name);
  ASSERT_EQ(a->nbytes, b->nbytes);
  EXPECT_EQ(std::memcmp(a->data, b->data, a->nbytes), 0);
}

uint16_t ToBFloat16(float f) {  // round to nearest even (finite inputs)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// tiny-stories rewritten in F16 and in BF16 loads, and every value reads back as the rounding of the original.
TEST(ModelWeightsTest, LoadsHalfAndBFloat16Checkpoints) {
  absl::StatusOr<std::shared_ptr<const Checkpoint>> src =
      Checkpoint::OpenFile(SharedAsset("tiny-stories/model.safetensors"));
  ASSERT_TRUE(src.ok()) << src.status();
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(DTypeName(dtype));
    TempDir dir;
    CopyAsset("tiny-stories", dir.path(), {"config.json", "generation_config.json"});
    std::vector<TensorSpec> specs;
    std::vector<const TensorInfo*> infos;
    for (const auto& [name, t] : (*src)->tensors()) {
      specs.push_back({name, dtype, t->shape});
      infos.push_back(t);
    }
    ASSERT_TRUE(WriteSafetensors(dir.File("model.safetensors"), specs, [&](size_t i, std::string* bytes) {
                  std::vector<float> f(infos[i]->num_elements());
                  ToFloat32(DType::kF32, infos[i]->data, f.size(), f.data());
                  for (float v : f) {
                    const uint16_t h = dtype == DType::kF16 ? FloatToHalf(v) : ToBFloat16(v);
                    bytes->append(reinterpret_cast<const char*>(&h), 2);
                  }
                  return absl::OkStatus();
                }).ok());
    absl::StatusOr<ModelWeights> w = LoadModelWeights(dir.path());
    ASSERT_TRUE(w.ok()) << w.status();
    const TensorInfo* t = w->layers[2].down_proj.weight;
    EXPECT_EQ(t->dtype, dtype);
    std::vector<float> got(t->num_elements()), orig(t->num_elements());
    ToFloat32(dtype, t->data, got.size(), got.data());
    ToFloat32(DType::kF32, (*src)->Find(t->name)->data, orig.size(), orig.data());
    const float rel = dtype == DType::kF16 ? 1.0f / 2048 : 1.0f / 256;  // half an ulp of each format
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], orig[i], std::abs(orig[i]) * rel + 1e-7f) << i;
    }
  }
}

}  // namespace
}  // namespace inference
