// Every way a checkpoint can be damaged gives a clear error naming the file, the tensor and the expectation —
// never a crash. Each test damages a copy of tiny-stories-awq in a temporary folder.
#include <random>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "inference/model/weights.h"
#include "tests/unit/inference/test_dir.h"

namespace inference {
namespace {

using testing::Entry;
using testing::RawSafetensors;

class CorruptCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::CopyAsset("tiny-stories-awq", dir_.path(), {"config.json", "generation_config.json", "quant_config.json"});
    raw_ = testing::ReadRaw(testing::SharedAsset("tiny-stories-awq/model.safetensors"));
  }
  std::string Model() const { return dir_.File("model.safetensors"); }
  void WriteModel() { testing::WriteRaw(Model(), raw_); }
  void EditConfig(const std::string& key, base::Json value) {
    base::Json cfg = *base::ReadJsonFile(dir_.File("config.json"));
    cfg.Set(key, std::move(value));
    testing::WriteBytes(dir_.File("config.json"), cfg.Dump());
  }
  void EditQuant(const std::string& key, base::Json value) {
    base::Json cfg = *base::ReadJsonFile(dir_.File("config.json"));
    base::Json q = cfg.Get("quantization_config");
    q.Set(key, std::move(value));
    cfg.Set("quantization_config", q);
    testing::WriteBytes(dir_.File("config.json"), cfg.Dump());
  }
  // Loads and expects INVALID_ARGUMENT whose message contains every fragment.
  void ExpectError(std::initializer_list<std::string> fragments) {
    absl::StatusOr<ModelWeights> w = LoadModelWeights(dir_.path());
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument) << w.status();
    for (const std::string& f : fragments) {
      EXPECT_TRUE(absl::StrContains(w.status().message(), f)) << "'" << f << "' not in: " << w.status().message();
    }
  }

  testing::TempDir dir_;
  RawSafetensors raw_;
};

TEST_F(CorruptCheckpointTest, IntactCopyLoads) {
  WriteModel();
  absl::StatusOr<ModelWeights> w = LoadModelWeights(dir_.path());
  EXPECT_TRUE(w.ok()) << w.status();
}

TEST_F(CorruptCheckpointTest, MissingTensor) {
  base::Json::Object kept;
  for (auto& m : raw_.header.members()) {
    if (m.first != "model.layers.2.mlp.up_proj.scales") kept.push_back(m);
  }
  raw_.header = base::Json::MakeObject(kept);
  WriteModel();
  ExpectError({"model.safetensors", "missing tensor 'model.layers.2.mlp.up_proj.scales'", "[1, 192]"});
}

TEST_F(CorruptCheckpointTest, ExtraTensor) {
  base::Json e = Entry(raw_, "model.norm.weight");
  raw_.header.Set("model.layers.9.input_layernorm.weight", e);
  // Its own bytes after the rest, so only the name is wrong.
  const int64_t end = static_cast<int64_t>(raw_.data.size());
  Entry(raw_, "model.layers.9.input_layernorm.weight").Set("data_offsets", base::Json::MakeArray({end, end + 128}));
  raw_.data.append(128, '\0');
  WriteModel();
  ExpectError({"model.safetensors", "unexpected tensor 'model.layers.9.input_layernorm.weight'"});
}

TEST_F(CorruptCheckpointTest, WrongShape) {
  Entry(raw_, "model.layers.1.self_attn.q_proj.qweight").Set("shape", base::Json::MakeArray({8, 64}));
  WriteModel();
  ExpectError({"model.safetensors", "'model.layers.1.self_attn.q_proj.qweight'", "shape [8, 64]", "expected [64, 8]"});
}

TEST_F(CorruptCheckpointTest, WrongDtype) {
  Entry(raw_, "model.layers.0.self_attn.k_proj.qzeros").Set("dtype", "F32");  // same byte count as I32
  WriteModel();
  ExpectError({"model.safetensors", "'model.layers.0.self_attn.k_proj.qzeros'", "dtype F32", "expected I32"});
}

TEST_F(CorruptCheckpointTest, UnsupportedDtype) {
  Entry(raw_, "model.norm.weight").Set("dtype", "I16");
  WriteModel();
  ExpectError({"model.safetensors", "'model.norm.weight'", "dtype I16 is not supported"});
}

TEST_F(CorruptCheckpointTest, ByteCountDoesNotMatchShape) {
  Entry(raw_, "model.norm.weight").Set("shape", base::Json::MakeArray({65}));
  WriteModel();
  ExpectError({"model.safetensors", "'model.norm.weight'", "hold 128 bytes", "needs 130"});
}

TEST_F(CorruptCheckpointTest, HeaderLongerThanFile) {
  const std::string header = raw_.header.DumpCompact();
  testing::WriteRawText(Model(), header, raw_.data, static_cast<int64_t>(header.size() + raw_.data.size() + 1));
  ExpectError({"model.safetensors", "header of", "longer than the file"});
}

TEST_F(CorruptCheckpointTest, HugeHeaderLength) {
  testing::WriteRawText(Model(), raw_.header.DumpCompact(), raw_.data, INT64_MAX);
  ExpectError({"model.safetensors", "longer than the file"});
}

TEST_F(CorruptCheckpointTest, OffsetsOutOfRange) {
  const int64_t size = static_cast<int64_t>(raw_.data.size());
  Entry(raw_, "model.norm.weight").Set("data_offsets", base::Json::MakeArray({size, size + 128}));
  WriteModel();
  ExpectError({"model.safetensors", "'model.norm.weight'", "data section has only"});
}

TEST_F(CorruptCheckpointTest, OffsetsReversed) {
  Entry(raw_, "model.norm.weight").Set("data_offsets", base::Json::MakeArray({200, 72}));
  WriteModel();
  ExpectError({"model.safetensors", "'model.norm.weight'", "not an ordered range"});
}

TEST_F(CorruptCheckpointTest, OffsetsOverlap) {
  // model.norm.weight (128 bytes) moved onto the middle of lm_head's data.
  Entry(raw_, "model.norm.weight").Set("data_offsets", base::Json::MakeArray({64, 192}));
  WriteModel();
  ExpectError({"model.safetensors", "overlaps", "lm_head.weight", "model.norm.weight"});
}

TEST_F(CorruptCheckpointTest, TruncatedFile) {
  WriteModel();
  std::string bytes = testing::ReadBytes(Model());
  testing::WriteBytes(Model(), bytes.substr(0, bytes.size() / 2));
  ExpectError({"model.safetensors", "truncated file"});
}

TEST_F(CorruptCheckpointTest, TruncatedInsideLengthPrefix) {
  testing::WriteBytes(Model(), std::string("\x10\x00\x00", 3));
  ExpectError({"model.safetensors", "truncated", "3 bytes"});
}

TEST_F(CorruptCheckpointTest, BadJsonHeader) {
  std::string header = raw_.header.DumpCompact();
  header.back() = ',';  // the closing brace becomes a dangling comma
  testing::WriteRawText(Model(), header, raw_.data);
  ExpectError({"model.safetensors", "bad JSON header"});
}

TEST_F(CorruptCheckpointTest, BadJsonConfig) {
  WriteModel();
  testing::WriteBytes(dir_.File("config.json"), "{\"hidden_size\": 64,");
  ExpectError({"config.json"});
}

TEST_F(CorruptCheckpointTest, UnsupportedQuantMethod) {
  WriteModel();
  EditQuant("quant_method", "gptq");
  ExpectError({"config.json:quantization_config", "quant_method", "'gptq' is not supported"});
}

TEST_F(CorruptCheckpointTest, UnsupportedBitWidth) {
  WriteModel();
  EditQuant("bits", 8);
  ExpectError({"config.json:quantization_config", "'bits'", "unsupported bit width"});
}

TEST_F(CorruptCheckpointTest, UnsupportedGemvVersion) {
  WriteModel();
  EditQuant("version", "gemv");
  ExpectError({"'version'", "only the GEMM layout"});
}

TEST_F(CorruptCheckpointTest, GroupSizeDoesNotDivideInFeatures) {
  WriteModel();
  EditQuant("group_size", 48);
  ExpectError({"config.json", "group size 48 does not divide in_features 64 of q_proj"});
}

TEST_F(CorruptCheckpointTest, ConfigFieldWrongType) {
  WriteModel();
  EditConfig("num_hidden_layers", "five");
  ExpectError({"config.json", "'num_hidden_layers'", "integer"});
}

TEST_F(CorruptCheckpointTest, ConfigDisagreesWithTensors) {
  WriteModel();
  EditConfig("num_hidden_layers", 6);
  ExpectError({"missing tensor 'model.layers.5.input_layernorm.weight'"});
}

TEST_F(CorruptCheckpointTest, ShardIndexNamesMissingFile) {
  WriteModel();
  testing::WriteBytes(dir_.File("model.safetensors.index.json"),
                      R"({"weight_map": {"model.norm.weight": "model-00002-of-00002.safetensors"}})");
  absl::StatusOr<ModelWeights> w = LoadModelWeights(dir_.path());
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(absl::StrContains(w.status().message(), "model-00002-of-00002.safetensors")) << w.status();
}

TEST_F(CorruptCheckpointTest, ShardIndexDisagreesWithFile) {
  WriteModel();
  testing::WriteBytes(dir_.File("model.safetensors.index.json"),
                      R"({"weight_map": {"model.norm.weight": "model.safetensors"}})");
  ExpectError({"model.safetensors", "is missing from the index's weight_map"});
}

// Random byte damage anywhere in the header: every outcome is a clean error or a successful load, never a crash
// (run under the sanitizers in CI).
TEST_F(CorruptCheckpointTest, RandomHeaderDamageNeverCrashes) {
  const std::string header = raw_.header.DumpCompact();
  std::mt19937 rng(1234);
  constexpr int kTrials = 200;
  int errors = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string damaged = header;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) damaged[rng() % damaged.size()] = static_cast<char>(rng() % 128);
    testing::WriteRawText(Model(), damaged, raw_.data);
    absl::StatusOr<ModelWeights> w = LoadModelWeights(dir_.path());
    if (!w.ok()) {
      ++errors;
      EXPECT_FALSE(w.status().message().empty());
    }
  }
  EXPECT_GT(errors, kTrials / 2);
}

}  // namespace
}  // namespace inference
