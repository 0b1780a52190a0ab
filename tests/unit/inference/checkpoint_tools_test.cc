// `model quantize` and `model synth` write checkpoints the loader accepts: quantizing tiny-stories (float32) with
// group 64 reproduces tiny-stories-awq byte for byte (its MLP was zero-padded 172 -> 192 the same way), synth is
// deterministic in the exact AWQ layout, and the full Mistral-7B AWQ layout binds against the real config.
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "inference/model/checkpoint_tools.h"
#include "inference/model/dtype.h"
#include "inference/model/inspect.h"
#include "inference/model/safetensors.h"
#include "inference/model/weights.h"
#include "tests/unit/inference/test_dir.h"

namespace inference {
namespace {

using testing::SharedAsset;
using testing::TempDir;

TEST(QuantizeTest, TinyStoriesGroup64ReproducesTinyStoriesAwqBitForBit) {
  TempDir out;
  std::vector<Progress> seen;
  absl::Status st = QuantizeCheckpoint({SharedAsset("tiny-stories"), out.path(), 64, true},
                                       [&](const Progress& p) { seen.push_back(p); });
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().tensors_done, seen.back().tensors_total);
  EXPECT_EQ(seen.back().bytes_done, seen.back().bytes_total);

  absl::StatusOr<ModelWeights> ours = LoadModelWeights(out.path());
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_EQ(ours->config.intermediate_size, 192);
  EXPECT_EQ(ours->config.quant.group_size, 64);
  EXPECT_EQ(ours->config.eos_token_ids, std::vector<int>({2, 1}));  // generation_config.json copied
  absl::StatusOr<std::shared_ptr<const Checkpoint>> ref = Checkpoint::Open(SharedAsset("tiny-stories-awq"));
  ASSERT_TRUE(ref.ok()) << ref.status();
  const auto& a = ours->checkpoint->tensors();
  const auto& b = (*ref)->tensors();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : b) {
    auto it = a.find(name);
    ASSERT_NE(it, a.end()) << name;
    const TensorInfo* u = it->second;
    EXPECT_EQ(u->dtype, t->dtype) << name;
    EXPECT_EQ(u->shape, t->shape) << name;
    ASSERT_EQ(u->nbytes, t->nbytes) << name;
    EXPECT_EQ(std::memcmp(u->data, t->data, t->nbytes), 0) << name << " differs";
  }
  EXPECT_TRUE(base::FileExists(out.File("tokenizer.model")));
}

TEST(QuantizeTest, UnpaddableWidthIsRejectedWithoutPadding) {
  TempDir out;
  absl::Status st = QuantizeCheckpoint({SharedAsset("tiny-stories"), out.path(), 64, false});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(st.message(), "intermediate_size 172 is not a multiple of 64")) << st;
}

TEST(QuantizeTest, GroupNotDividingHiddenIsRejected) {
  TempDir out;
  absl::Status st = QuantizeCheckpoint({SharedAsset("tiny-stories"), out.path(), 48, true});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(st.message(), "group size 48 does not divide in_features 64 of q_proj")) << st;
}

TEST(QuantizeTest, AlreadyQuantizedIsRejected) {
  TempDir out;
  absl::Status st = QuantizeCheckpoint({SharedAsset("tiny-stories-awq"), out.path(), 64, true});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(st.message(), "already quantized")) << st;
}

TEST(QuantizeTest, NonFiniteWeightIsRejected) {
  TempDir in, out;
  testing::CopyAsset("tiny-stories", in.path(), {"config.json"});
  testing::RawSafetensors raw = testing::ReadRaw(SharedAsset("tiny-stories/model.safetensors"));
  const int64_t begin = testing::Entry(raw, "model.layers.3.mlp.up_proj.weight").Get("data_offsets").items()[0].AsInt();
  const float nan = std::nanf("");
  std::memcpy(&raw.data[begin + 4 * 17], &nan, 4);
  testing::WriteRaw(in.File("model.safetensors"), raw);
  absl::Status st = QuantizeCheckpoint({in.path(), out.path(), 64, true});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(st.message(), "'model.layers.3.mlp.up_proj.weight' holds a non-finite value")) << st;
}

// A small config written to a temp folder for synth.
std::string TinyConfig(const TempDir& dir, bool tied) {
  base::Json cfg = *base::ReadJsonFile(SharedAsset("awq-tiny-mistral/config.json"));
  cfg.Set("vocab_size", 1000);
  cfg.Set("tie_word_embeddings", tied);
  base::Json::Object kept;
  for (auto& m : cfg.members()) {
    if (m.first != "quantization_config") kept.push_back(m);
  }
  const std::string path = dir.File("tiny_config.json");
  testing::WriteBytes(path, base::Json::MakeObject(kept).Dump());
  return path;
}

double MeanAbsHalf(const TensorInfo& t) {
  std::vector<float> f(t.num_elements());
  ToFloat32(t.dtype, t.data, f.size(), f.data());
  double s = 0;
  for (float v : f) s += std::abs(v);
  return s / f.size();
}

TEST(SynthTest, TinyConfigLoadsBackAndIsDeterministic) {
  TempDir dir;
  const std::string config = TinyConfig(dir, false);
  SynthOptions o;
  o.config_path = config;
  o.out_dir = dir.File("a");
  o.seed = 7;
  o.group_size = 64;
  ASSERT_TRUE(SynthCheckpoint(o).ok());
  o.out_dir = dir.File("b");
  ASSERT_TRUE(SynthCheckpoint(o).ok());
  o.out_dir = dir.File("c");
  o.seed = 8;
  ASSERT_TRUE(SynthCheckpoint(o).ok());

  absl::StatusOr<ModelWeights> w = LoadModelWeights(dir.File("a"));
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->config.vocab_size, 1000);
  EXPECT_EQ(w->config.quant.group_size, 64);
  EXPECT_EQ(w->config.sliding_window, 32);
  EXPECT_EQ(w->layers[1].down_proj.qzeros->shape, std::vector<int64_t>({384 / 64, 128 / 8}));
  const std::string a = testing::ReadBytes(dir.File("a/model.safetensors"));
  EXPECT_EQ(a, testing::ReadBytes(dir.File("b/model.safetensors")));
  EXPECT_NE(a, testing::ReadBytes(dir.File("c/model.safetensors")));
}

TEST(SynthTest, QkScaleMakesQueryAndKeyWeightsLarger) {
  TempDir dir;
  SynthOptions o;
  o.config_path = TinyConfig(dir, true);
  o.out_dir = dir.File("peaked");
  o.qk_scale = 4.0f;
  ASSERT_TRUE(SynthCheckpoint(o).ok());
  absl::StatusOr<ModelWeights> w = LoadModelWeights(o.out_dir);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->lm_head, w->embed_tokens);  // tied: no lm_head written
  const LayerWeights& L = w->layers[0];
  const double v = MeanAbsHalf(*L.v_proj.scales);  // same in_features as q and k
  EXPECT_NEAR(MeanAbsHalf(*L.q_proj.scales) / v, 4.0, 0.4);
  EXPECT_NEAR(MeanAbsHalf(*L.k_proj.scales) / v, 4.0, 0.4);
  o.qk_scale = 0;
  EXPECT_EQ(SynthCheckpoint(o).code(), absl::StatusCode::kInvalidArgument);
}

// The full TheBloke Mistral-7B-Instruct-v0.1-AWQ layout (739 tensors, ~3.9 GB) as a sparse file: the real config
// binds against it unchanged.
TEST(SynthTest, Mistral7bAwqLayoutBindsAgainstTheRealConfig) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig(SharedAsset("mistral-7b-instruct-v0.1"));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::vector<TensorSpec> specs = AwqTensorSpecs(*c);
  EXPECT_EQ(specs.size(), 3u + 32u * (2u + 7u * 3u));
  TempDir dir;
  std::string header = SafetensorsHeaderJson(specs);
  header.append((8 - header.size() % 8) % 8, ' ');
  size_t data = 0;
  for (const TensorSpec& s : specs) data += s.nbytes();
  testing::WriteRawText(dir.File("model.safetensors"), header, "");
  ASSERT_EQ(truncate(dir.File("model.safetensors").c_str(), static_cast<off_t>(8 + header.size() + data)), 0);
  for (const char* f : {"config.json", "generation_config.json", "quant_config.json"}) {
    testing::CopyAsset("mistral-7b-instruct-v0.1", dir.path(), {f});
  }
  absl::StatusOr<ModelWeights> w = LoadModelWeights(dir.path());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->layers[31].gate_proj.qweight->shape, std::vector<int64_t>({4096, 14336 / 8}));
  EXPECT_EQ(w->layers[31].down_proj.scales->shape, std::vector<int64_t>({14336 / 128, 4096}));
  EXPECT_EQ(w->layers[0].k_proj.qzeros->shape, std::vector<int64_t>({4096 / 128, 1024 / 8}));
  EXPECT_EQ(w->checkpoint->total_bytes(), data);
}

TEST(InspectTest, ReportsConfigTensorsAndVerdict) {
  InspectResult r = InspectCheckpoint(SharedAsset("awq-tiny-mistral"));
  EXPECT_TRUE(r.valid) << r.report;
  for (const char* line : {"config: MistralForCausalLM (mistral)", "sliding_window 32",
                           "quantization: AWQ GEMM, 4 bit, group 128, zero point", "tensors: 49, 16589568 bytes",
                           "  I32  [384, 16]               24576  model.layers.0.mlp.down_proj.qweight\n",
                           "verdict: valid\n"}) {
    EXPECT_TRUE(absl::StrContains(r.report, line)) << "'" << line << "' not in:\n" << r.report.substr(0, 2000);
  }
}

TEST(InspectTest, ReportsInvalidCheckpoint) {
  TempDir dir;
  testing::CopyAsset("tiny-stories", dir.path(), {"config.json"});
  const std::string bytes = testing::ReadBytes(SharedAsset("tiny-stories/model.safetensors"));
  testing::WriteBytes(dir.File("model.safetensors"), bytes.substr(0, bytes.size() - 4));
  InspectResult r = InspectCheckpoint(dir.path());
  EXPECT_FALSE(r.valid);
  EXPECT_TRUE(absl::StrContains(r.report, "config: MistralForCausalLM")) << r.report;
  EXPECT_TRUE(absl::StrContains(r.report, "verdict: INVALID: ")) << r.report;
  EXPECT_TRUE(absl::StrContains(r.report, "lm_head.weight")) << r.report;
}

}  // namespace
}  // namespace inference
