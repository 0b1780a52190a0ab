#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

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

std::vector<float> ToFloat(const TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.num_elements()));
  ToFloat32(t.dtype, t.data, out.size(), out.data());
  return out;
}

std::string HalfBytes(const TensorInfo& t) {
  const std::vector<float> f = ToFloat(t);
  std::string bytes(f.size() * 2, '\0');
  for (size_t i = 0; i < f.size(); ++i) {
    const uint16_t h = FloatToHalf(f[i]);
    std::memcpy(&bytes[2 * i], &h, 2);
  }
  return bytes;
}

// One output tensor: either an fp16 copy of a source tensor, or one of the three parts of a quantized linear.
struct OutTensor {
  TensorSpec spec;
  const TensorInfo* source = nullptr;      // fp16 copy
  const LinearWeight* linear = nullptr;    // quantized
  enum class Part { kCopy, kQWeight, kQZeros, kScales } part = Part::kCopy;
  int64_t padded_in = 0, padded_out = 0;  // the linear's (K, N) after padding
};

template <typename T>
void AppendRaw(std::string* bytes, const std::vector<T>& v) {
  bytes->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// W [N, K] (nn.Linear) -> W^T [K', N'] zero-padded to (K', N').
std::vector<float> PaddedTranspose(const LinearWeight& l, int64_t K2, int64_t N2) {
  const std::vector<float> w = ToFloat(*l.weight);
  const int64_t K = l.in_features, N = l.out_features;
  std::vector<float> out(static_cast<size_t>(K2 * N2), 0.0f);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) out[k * N2 + n] = w[n * K + k];
  }
  return out;
}

}  // namespace

absl::Status QuantizeCheckpoint(const QuantizeOptions& o, const ProgressFn& progress) {
  if (o.group_size <= 0) return absl::InvalidArgumentError(absl::StrCat("group = ", o.group_size, " must be positive"));
  ASSIGN_OR_RETURN(ModelWeights w, LoadModelWeights(o.in_dir));
  const ModelConfig& c = w.config;
  if (c.quant.method != QuantMethod::kNone) {
    return absl::InvalidArgumentError(absl::StrCat(o.in_dir, ": already quantized (quantization_config present)"));
  }
  const int64_t G = o.group_size;
  const int64_t unit = std::lcm<int64_t>(G, kAwqPackFactor);
  int64_t inter = c.intermediate_size;
  if (inter % unit != 0) {
    if (!o.pad_intermediate) {
      return absl::InvalidArgumentError(absl::StrCat("intermediate_size ", inter, " is not a multiple of ", unit,
                                                     " (lcm of group ", G, " and 8); allow padding"));
    }
    inter = (inter + unit - 1) / unit * unit;
  }
  // The output config, checked like any loaded config before anything is written.
  ASSIGN_OR_RETURN(base::Json config_json, base::ReadJsonFile(base::JoinPath(o.in_dir, "config.json")));
  QuantConfig quant;
  quant.method = QuantMethod::kAwqGemm;
  quant.bits = kAwqBits;
  quant.group_size = o.group_size;
  config_json.Set("intermediate_size", inter);
  config_json.Set("torch_dtype", "float16");
  config_json.Set("quantization_config", QuantizationConfigJson(quant));
  RETURN_IF_ERROR(ParseModelConfig(config_json, nullptr, nullptr, "quantized config.json").status());

  std::vector<OutTensor> out;
  auto copy = [&](const TensorInfo* t) { out.push_back({{t->name, DType::kF16, t->shape}, t}); };
  copy(w.embed_tokens);
  copy(w.norm);
  if (w.lm_head != w.embed_tokens) copy(w.lm_head);
  std::vector<const LinearWeight*> linears;
  for (const LayerWeights& L : w.layers) {
    copy(L.input_layernorm);
    copy(L.post_attention_layernorm);
    for (const LinearWeight* l : {&L.q_proj, &L.k_proj, &L.v_proj, &L.o_proj, &L.gate_proj, &L.up_proj, &L.down_proj}) {
      const bool mlp_in = absl::EndsWith(l->name, "down_proj"), mlp_out = !mlp_in && absl::StrContains(l->name, ".mlp.");
      const int64_t K = mlp_in ? inter : l->in_features, N = mlp_out ? inter : l->out_features;
      out.push_back({{l->name + ".qweight", DType::kI32, {K, N / kAwqPackFactor}}, nullptr, l, OutTensor::Part::kQWeight, K, N});
      out.push_back({{l->name + ".qzeros", DType::kI32, {K / G, N / kAwqPackFactor}}, nullptr, l, OutTensor::Part::kQZeros, K, N});
      out.push_back({{l->name + ".scales", DType::kF16, {K / G, N}}, nullptr, l, OutTensor::Part::kScales, K, N});
    }
  }
  std::sort(out.begin(), out.end(), [](const OutTensor& a, const OutTensor& b) { return a.spec.name < b.spec.name; });

  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(o.out_dir, ": cannot create: ", ec.message()));
  if (std::filesystem::equivalent(o.in_dir, o.out_dir, ec)) {
    return absl::InvalidArgumentError("--out must differ from --in");
  }
  for (const auto& entry : std::filesystem::directory_iterator(o.in_dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || absl::EndsWith(name, ".safetensors") || name == "model.safetensors.index.json" ||
        name == "config.json" || name == "quant_config.json") {
      continue;
    }
    std::filesystem::copy_file(entry.path(), std::filesystem::path(o.out_dir) / name,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError(absl::StrCat(name, ": copy failed: ", ec.message()));
  }
  RETURN_IF_ERROR(WriteConfigJson(base::JoinPath(o.out_dir, "config.json"), config_json));

  std::vector<TensorSpec> specs;
  Progress p;
  for (const OutTensor& t : out) {
    specs.push_back(t.spec);
    p.bytes_total += t.spec.nbytes();
  }
  p.tensors_total = specs.size();
  // The three parts of a linear are adjacent after sorting (qweight, qzeros, scales): quantize once per linear.
  const LinearWeight* cached_for = nullptr;
  AwqTensors cached;
  return WriteSafetensors(base::JoinPath(o.out_dir, "model.safetensors"), specs, [&](size_t i, std::string* bytes) {
    const OutTensor& t = out[i];
    if (t.part == OutTensor::Part::kCopy) {
      *bytes = HalfBytes(*t.source);
    } else {
      if (cached_for != t.linear) {
        const std::vector<float> w_kn = PaddedTranspose(*t.linear, t.padded_in, t.padded_out);
        for (size_t k = 0; k < w_kn.size(); ++k) {
          if (!std::isfinite(w_kn[k])) {
            return absl::InvalidArgumentError(absl::StrCat(t.linear->weight->file, ": tensor '", t.linear->weight->name,
                                                           "' holds a non-finite value; cannot quantize"));
          }
        }
        cached = QuantizeRtn(w_kn.data(), t.padded_in, t.padded_out, o.group_size);
        cached_for = t.linear;
      }
      if (t.part == OutTensor::Part::kQWeight) AppendRaw(bytes, cached.qweight);
      if (t.part == OutTensor::Part::kQZeros) AppendRaw(bytes, cached.qzeros);
      if (t.part == OutTensor::Part::kScales) AppendRaw(bytes, cached.scales);
    }
    p.tensors_done = i + 1;
    p.bytes_done += bytes->size();
    p.tensor = t.spec.name;
    if (progress) progress(p);
    return absl::OkStatus();
  });
}

}  // namespace inference
