#include "inference/model/model_config.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"

namespace inference {
namespace {

constexpr int kAwqBits = 4;
constexpr int kAwqPackFactor = 32 / kAwqBits;  // 4-bit values per int32 word

absl::Status FieldError(const std::string& source, const std::string& field, const std::string& expectation) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": field '", field, "' ", expectation));
}

// An integer field: absent (or null) gives `fallback` when given, else an error.
absl::StatusOr<int64_t> IntField(const base::Json& obj, const char* key, const std::string& source,
                                 std::optional<int64_t> fallback = std::nullopt) {
  const base::Json* v = obj.Find(key);
  if (v == nullptr || v->is_null()) {
    if (fallback) return *fallback;
    return FieldError(source, key, "is required");
  }
  if (!v->is_int()) return FieldError(source, key, "must be an integer");
  return v->AsInt();
}

absl::StatusOr<int> PositiveInt(const base::Json& obj, const char* key, const std::string& source,
                                std::optional<int64_t> fallback = std::nullopt) {
  ASSIGN_OR_RETURN(int64_t v, IntField(obj, key, source, fallback));
  if (v <= 0 || v > (int64_t{1} << 30)) return FieldError(source, key, absl::StrCat("must be in [1, 2^30], got ", v));
  return static_cast<int>(v);
}

absl::StatusOr<double> NumberField(const base::Json& obj, const char* key, const std::string& source,
                                   double fallback) {
  const base::Json* v = obj.Find(key);
  if (v == nullptr || v->is_null()) return fallback;
  if (!v->is_number()) return FieldError(source, key, "must be a number");
  return v->AsDouble();
}

// eos_token_id: an integer or a list of integers.
absl::StatusOr<std::vector<int>> IdList(const base::Json& v, const char* key, const std::string& source) {
  std::vector<int> ids;
  if (v.is_int()) {
    ids.push_back(static_cast<int>(v.AsInt()));
  } else if (v.is_array()) {
    for (const base::Json& x : v.items()) {
      if (!x.is_int()) return FieldError(source, key, "must be an integer or a list of integers");
      ids.push_back(static_cast<int>(x.AsInt()));
    }
  } else {
    return FieldError(source, key, "must be an integer or a list of integers");
  }
  return ids;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// AutoAWQ writes group_size/bits/version in config.json and q_group_size/w_bit/version in quant_config.json.
absl::StatusOr<QuantConfig> ParseQuant(const base::Json& q, const std::string& source) {
  if (!q.is_object()) return absl::InvalidArgumentError(absl::StrCat(source, ": quantization config must be an object"));
  QuantConfig out;
  const base::Json& method = q.Get("quant_method");
  if (!method.is_null()) {
    if (!method.is_string()) return FieldError(source, "quant_method", "must be a string");
    if (Lower(method.AsString()) != "awq") {
      return FieldError(source, "quant_method", absl::StrCat("'", method.AsString(), "' is not supported (only 'awq')"));
    }
  }
  out.method = QuantMethod::kAwqGemm;
  const char* bits_key = q.Has("bits") ? "bits" : "w_bit";
  ASSIGN_OR_RETURN(int64_t bits, IntField(q, bits_key, source));
  if (bits != kAwqBits) {
    return FieldError(source, bits_key, absl::StrCat("= ", bits, ": unsupported bit width (only ", kAwqBits, ")"));
  }
  out.bits = kAwqBits;
  const char* group_key = q.Has("group_size") ? "group_size" : "q_group_size";
  ASSIGN_OR_RETURN(int64_t group, IntField(q, group_key, source));
  if (group <= 0 || group > (1 << 20)) {
    return FieldError(source, group_key, absl::StrCat("= ", group, ": must be a positive group size"));
  }
  out.group_size = static_cast<int>(group);
  const base::Json& version = q.Get("version");
  if (!version.is_null()) {
    if (!version.is_string() || Lower(version.AsString()) != "gemm") {
      return FieldError(source, "version", absl::StrCat("= ", version.Dump(), ": only the GEMM layout is supported"));
    }
  }
  const base::Json& zp = q.Get("zero_point");
  if (!zp.is_null()) {
    if (!zp.is_bool()) return FieldError(source, "zero_point", "must be a boolean");
    if (!zp.AsBool()) return FieldError(source, "zero_point", "= false is not supported (AWQ GEMM uses zero points)");
  }
  return out;
}

absl::Status CheckShape(const ModelConfig& c, const std::string& source) {
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return FieldError(source, "num_key_value_heads",
                      absl::StrCat("= ", c.num_key_value_heads, " must divide num_attention_heads = ",
                                   c.num_attention_heads));
  }
  if (c.quant.method != QuantMethod::kAwqGemm) return absl::OkStatus();
  struct Linear { const char* name; int in, out; };
  const Linear linears[] = {
      {"q_proj", c.hidden_size, c.num_attention_heads * c.head_dim},
      {"k_proj", c.hidden_size, c.num_key_value_heads * c.head_dim},
      {"o_proj", c.num_attention_heads * c.head_dim, c.hidden_size},
      {"gate_proj", c.hidden_size, c.intermediate_size},
      {"down_proj", c.intermediate_size, c.hidden_size},
  };
  for (const Linear& l : linears) {
    if (l.in % c.quant.group_size != 0) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": AWQ group size ", c.quant.group_size,
                                                     " does not divide in_features ", l.in, " of ", l.name));
    }
    if (l.out % kAwqPackFactor != 0) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": out_features ", l.out, " of ", l.name,
                                                     " is not a multiple of ", kAwqPackFactor,
                                                     " (AWQ packs 8 columns per int32)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ParseModelConfig(const base::Json& j, const base::Json* quant,
                                             const base::Json* generation, const std::string& source) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(source, ": must be a JSON object"));
  ModelConfig c;
  const base::Json& arch = j.Get("architectures");
  if (arch.is_array() && arch.size() > 0 && arch.items()[0].is_string()) c.architecture = arch.items()[0].AsString();
  if (j.Get("model_type").is_string()) c.model_type = j.Get("model_type").AsString();
  if (!c.model_type.empty() && c.model_type != "mistral" && c.model_type != "llama") {
    return FieldError(source, "model_type", absl::StrCat("'", c.model_type, "' is not supported (mistral, llama)"));
  }
  const base::Json& act = j.Get("hidden_act");
  if (!act.is_null() && (!act.is_string() || act.AsString() != "silu")) {
    return FieldError(source, "hidden_act", "must be 'silu'");
  }
  ASSIGN_OR_RETURN(c.vocab_size, PositiveInt(j, "vocab_size", source));
  ASSIGN_OR_RETURN(c.hidden_size, PositiveInt(j, "hidden_size", source));
  ASSIGN_OR_RETURN(c.intermediate_size, PositiveInt(j, "intermediate_size", source));
  ASSIGN_OR_RETURN(c.num_hidden_layers, PositiveInt(j, "num_hidden_layers", source));
  ASSIGN_OR_RETURN(c.num_attention_heads, PositiveInt(j, "num_attention_heads", source));
  ASSIGN_OR_RETURN(c.num_key_value_heads, PositiveInt(j, "num_key_value_heads", source, c.num_attention_heads));
  if (c.hidden_size % c.num_attention_heads != 0 && !j.Has("head_dim")) {
    return FieldError(source, "head_dim", "is required when num_attention_heads does not divide hidden_size");
  }
  ASSIGN_OR_RETURN(c.head_dim, PositiveInt(j, "head_dim", source, c.hidden_size / c.num_attention_heads));
  ASSIGN_OR_RETURN(c.max_position_embeddings, PositiveInt(j, "max_position_embeddings", source));
  ASSIGN_OR_RETURN(int64_t window, IntField(j, "sliding_window", source, 0));
  if (window < 0) return FieldError(source, "sliding_window", "must be null or a positive integer");
  c.sliding_window = static_cast<int>(std::min<int64_t>(window, int64_t{1} << 30));
  ASSIGN_OR_RETURN(c.rope_theta, NumberField(j, "rope_theta", source, 10000.0));
  if (!(c.rope_theta > 0)) return FieldError(source, "rope_theta", "must be positive");
  ASSIGN_OR_RETURN(c.rms_norm_eps, NumberField(j, "rms_norm_eps", source, 1e-6));
  if (!(c.rms_norm_eps > 0)) return FieldError(source, "rms_norm_eps", "must be positive");
  const base::Json& rope_scaling = j.Get("rope_scaling");
  if (!rope_scaling.is_null()) return FieldError(source, "rope_scaling", "is not supported (must be null)");
  const base::Json& tie = j.Get("tie_word_embeddings");
  if (!tie.is_null()) {
    if (!tie.is_bool()) return FieldError(source, "tie_word_embeddings", "must be a boolean");
    c.tie_word_embeddings = tie.AsBool();
  }
  if (j.Get("torch_dtype").is_string()) c.torch_dtype = j.Get("torch_dtype").AsString();
  ASSIGN_OR_RETURN(int64_t bos, IntField(j, "bos_token_id", source, 1));
  c.bos_token_id = static_cast<int>(bos);
  if (const base::Json* eos = j.Find("eos_token_id"); eos != nullptr && !eos->is_null()) {
    ASSIGN_OR_RETURN(c.eos_token_ids, IdList(*eos, "eos_token_id", source));
  }
  if (generation != nullptr) {
    const std::string gen_source = "generation_config.json";
    if (!generation->is_object()) return absl::InvalidArgumentError(gen_source + ": must be a JSON object");
    if (const base::Json* eos = generation->Find("eos_token_id"); eos != nullptr && !eos->is_null()) {
      ASSIGN_OR_RETURN(c.eos_token_ids, IdList(*eos, "eos_token_id", gen_source));
    }
    ASSIGN_OR_RETURN(int64_t gen_bos, IntField(*generation, "bos_token_id", gen_source, c.bos_token_id));
    c.bos_token_id = static_cast<int>(gen_bos);
  }
  for (int id : c.eos_token_ids) {
    if (id < 0 || id >= c.vocab_size) {
      return FieldError(source, "eos_token_id", absl::StrCat(id, " is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
  if (const base::Json* qc = j.Find("quantization_config"); qc != nullptr && !qc->is_null()) {
    ASSIGN_OR_RETURN(c.quant, ParseQuant(*qc, source + ":quantization_config"));
  } else if (quant != nullptr) {
    ASSIGN_OR_RETURN(c.quant, ParseQuant(*quant, "quant_config.json"));
  }
  RETURN_IF_ERROR(CheckShape(c, source));
  return c;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& dir) {
  ASSIGN_OR_RETURN(base::Json config, base::ReadJsonFile(base::JoinPath(dir, "config.json")));
  std::optional<base::Json> quant, generation;
  const std::string quant_path = base::JoinPath(dir, "quant_config.json");
  if (!config.Has("quantization_config") && base::FileExists(quant_path)) {
    ASSIGN_OR_RETURN(quant, base::ReadJsonFile(quant_path));
  }
  const std::string gen_path = base::JoinPath(dir, "generation_config.json");
  if (base::FileExists(gen_path)) {
    ASSIGN_OR_RETURN(generation, base::ReadJsonFile(gen_path));
  }
  return ParseModelConfig(config, quant ? &*quant : nullptr, generation ? &*generation : nullptr,
                          base::JoinPath(dir, "config.json"));
}

base::Json QuantizationConfigJson(const QuantConfig& quant) {
  return base::Json::MakeObject({{"quant_method", "awq"},
                                 {"bits", quant.bits},
                                 {"group_size", quant.group_size},
                                 {"version", "gemm"},
                                 {"zero_point", quant.zero_point}});
}

}  // namespace inference
