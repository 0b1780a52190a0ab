#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "inference/model/awq_format.h"
#include "inference/model/checkpoint_tools.h"
#include "inference/model/dtype.h"
#include "inference/model/weights.h"

namespace inference {
namespace {

constexpr int kDefaultGroupSize = 128;  // AutoAWQ's default q_group_size
// Standard deviation of (q - z) for q uniform on 0..15 and z = 8: sqrt(((16^2 - 1) / 12) + 0.5^2) ≈ 4.61.
constexpr double kCodeStd = 4.61;
constexpr int kZeroLow = 7, kZeroSpan = 3;  // zero points drawn from 7..9

// Deterministic (std::mt19937_64 is specified bit for bit; the distributions below are ours).
class Random {
 public:
  explicit Random(uint64_t seed) : rng_(seed) {}
  uint32_t Bits() { return static_cast<uint32_t>(rng_() >> 32); }
  double Uniform() { return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0); }
  double Normal() {  // Box-Muller
    const double u = 1.0 - Uniform(), v = Uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
  }

 private:
  std::mt19937_64 rng_;
};

template <typename T>
void AppendRaw(std::string* bytes, const std::vector<T>& v) {
  bytes->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::vector<uint16_t> HalfVector(size_t n, const std::function<float()>& draw) {
  std::vector<uint16_t> h(n);
  for (uint16_t& x : h) x = FloatToHalf(draw());
  return h;
}

struct SynthTensor {
  TensorSpec spec;
  enum class Kind { kEmbedding, kNorm, kLmHead, kQWeight, kQZeros, kScales } kind;
  int in_features = 0;
  float scale_boost = 1.0f;
};

std::vector<SynthTensor> SynthTensors(const ModelConfig& c, float qk_scale) {
  std::vector<SynthTensor> out;
  const int64_t H = c.hidden_size, V = c.vocab_size, G = c.quant.group_size;
  out.push_back({{"model.embed_tokens.weight", DType::kF16, {V, H}}, SynthTensor::Kind::kEmbedding});
  out.push_back({{"model.norm.weight", DType::kF16, {H}}, SynthTensor::Kind::kNorm});
  if (!c.tie_word_embeddings) out.push_back({{"lm_head.weight", DType::kF16, {V, H}}, SynthTensor::Kind::kLmHead});
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = absl::StrCat("model.layers.", l, ".");
    out.push_back({{p + "input_layernorm.weight", DType::kF16, {H}}, SynthTensor::Kind::kNorm});
    out.push_back({{p + "post_attention_layernorm.weight", DType::kF16, {H}}, SynthTensor::Kind::kNorm});
    for (const LinearShape& s : LayerLinearShapes(c, l)) {
      const int64_t K = s.in_features, N = s.out_features;
      const bool qk = absl::EndsWith(s.name, "q_proj") || absl::EndsWith(s.name, "k_proj");
      const float boost = qk ? qk_scale : 1.0f;
      out.push_back({{s.name + ".qweight", DType::kI32, {K, N / kAwqPackFactor}}, SynthTensor::Kind::kQWeight, s.in_features});
      out.push_back({{s.name + ".qzeros", DType::kI32, {K / G, N / kAwqPackFactor}}, SynthTensor::Kind::kQZeros, s.in_features});
      out.push_back({{s.name + ".scales", DType::kF16, {K / G, N}}, SynthTensor::Kind::kScales, s.in_features, boost});
    }
  }
  std::sort(out.begin(), out.end(), [](const SynthTensor& a, const SynthTensor& b) { return a.spec.name < b.spec.name; });
  return out;
}

// Each tensor draws from its own stream (seed, index), so the bytes of one tensor do not depend on the others.
absl::Status Produce(const SynthTensor& t, uint64_t seed, size_t index, const ModelConfig& c, std::string* bytes) {
  Random rng(seed * 1000003u + index);
  const size_t n = t.spec.nbytes() / DTypeSize(t.spec.dtype);
  switch (t.kind) {
    case SynthTensor::Kind::kEmbedding:
      AppendRaw(bytes, HalfVector(n, [&] { return static_cast<float>(rng.Normal()); }));
      break;
    case SynthTensor::Kind::kNorm:
      AppendRaw(bytes, HalfVector(n, [] { return 1.0f; }));
      break;
    case SynthTensor::Kind::kLmHead: {
      const double std = 1.0 / std::sqrt(static_cast<double>(c.hidden_size));
      AppendRaw(bytes, HalfVector(n, [&] { return static_cast<float>(rng.Normal() * std); }));
      break;
    }
    case SynthTensor::Kind::kQWeight: {
      std::vector<uint32_t> words(n);
      for (uint32_t& w : words) w = rng.Bits();
      AppendRaw(bytes, words);
      break;
    }
    case SynthTensor::Kind::kQZeros: {
      const int64_t rows = t.spec.shape[0], cols = t.spec.shape[1] * kAwqPackFactor;
      std::vector<uint8_t> z(static_cast<size_t>(rows * cols));
      for (uint8_t& v : z) v = static_cast<uint8_t>(kZeroLow + rng.Bits() % kZeroSpan);
      std::vector<int32_t> packed(n);
      PackAwq(z.data(), rows, cols, packed.data());
      AppendRaw(bytes, packed);
      break;
    }
    case SynthTensor::Kind::kScales: {
      // W = (q - z) * s with std(q - z) ≈ kCodeStd; s ≈ 1 / (kCodeStd * sqrt(K)) keeps x @ W near unit variance.
      const double base = t.scale_boost / (kCodeStd * std::sqrt(static_cast<double>(t.in_features)));
      AppendRaw(bytes, HalfVector(n, [&] { return static_cast<float>(base * (0.5 + rng.Uniform())); }));
      break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteConfigJson(const std::string& path, const base::Json& j) {
  base::Json::DumpOptions o;
  o.indent = 2;
  o.ensure_ascii = false;
  std::ofstream out(path, std::ios::trunc);
  out << j.Dump(o) << "\n";
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

std::vector<TensorSpec> AwqTensorSpecs(const ModelConfig& config) {
  std::vector<TensorSpec> specs;
  for (const SynthTensor& t : SynthTensors(config, 1.0f)) specs.push_back(t.spec);
  return specs;
}

absl::Status SynthCheckpoint(const SynthOptions& o, const ProgressFn& progress) {
  if (!(o.qk_scale > 0 && o.qk_scale <= 64)) {
    return absl::InvalidArgumentError(absl::StrCat("qk_scale = ", o.qk_scale, " must be in (0, 64]"));
  }
  ASSIGN_OR_RETURN(base::Json config_json, base::ReadJsonFile(o.config_path));
  if (!config_json.is_object()) return absl::InvalidArgumentError(o.config_path + ": must be a JSON object");
  int group = o.group_size;
  if (group == 0) {
    const base::Json& qc = config_json.Get("quantization_config");
    group = qc.Get("group_size").is_int() ? static_cast<int>(qc.Get("group_size").AsInt()) : kDefaultGroupSize;
  }
  QuantConfig quant;
  quant.method = QuantMethod::kAwqGemm;
  quant.bits = kAwqBits;
  quant.group_size = group;
  config_json.Set("quantization_config", QuantizationConfigJson(quant));
  config_json.Set("torch_dtype", "float16");
  ASSIGN_OR_RETURN(ModelConfig config, ParseModelConfig(config_json, nullptr, nullptr, o.config_path));

  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(o.out_dir, ": cannot create: ", ec.message()));
  RETURN_IF_ERROR(WriteConfigJson(base::JoinPath(o.out_dir, "config.json"), config_json));
  base::Json gen = base::Json::MakeObject({{"bos_token_id", config.bos_token_id}});
  if (!config.eos_token_ids.empty()) {
    gen.Set("eos_token_id", config.eos_token_ids.size() == 1 ? base::Json(config.eos_token_ids[0])
                                                            : base::Json::ArrayOf(config.eos_token_ids));
  }
  RETURN_IF_ERROR(WriteConfigJson(base::JoinPath(o.out_dir, "generation_config.json"), gen));

  const std::vector<SynthTensor> tensors = SynthTensors(config, o.qk_scale);
  std::vector<TensorSpec> specs;
  Progress p;
  for (const SynthTensor& t : tensors) {
    specs.push_back(t.spec);
    p.bytes_total += t.spec.nbytes();
  }
  p.tensors_total = specs.size();
  return WriteSafetensors(base::JoinPath(o.out_dir, "model.safetensors"), specs, [&](size_t i, std::string* bytes) {
    RETURN_IF_ERROR(Produce(tensors[i], o.seed, i, config, bytes));
    p.tensors_done = i + 1;
    p.bytes_done += bytes->size();
    p.tensor = specs[i].name;
    if (progress) progress(p);
    return absl::OkStatus();
  });
}

}  // namespace inference
