#include "inference/model/weights.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace inference {
namespace {

// Binds tensors by name, remembering which ones were used so the leftovers can be reported.
class Binder {
 public:
  explicit Binder(const Checkpoint& ckpt) : ckpt_(ckpt) {}

  absl::StatusOr<const TensorInfo*> Get(const std::string& name, std::vector<int64_t> shape, bool float_dtype,
                                        std::optional<DType> exact = std::nullopt) {
    const TensorInfo* t = ckpt_.Find(name);
    if (t == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(Files(), ": missing tensor '", name, "' (expected ",
                                                     Shape(shape), ")"));
    }
    used_.insert(name);
    if (exact ? t->dtype != *exact : IsFloat(t->dtype) != float_dtype) {
      return absl::InvalidArgumentError(absl::StrCat(
          t->file, ": tensor '", name, "' has dtype ", DTypeName(t->dtype), ", expected ",
          exact ? std::string(DTypeName(*exact)) : std::string(float_dtype ? "F16, BF16 or F32" : "I32")));
    }
    if (t->shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat(t->file, ": tensor '", name, "' has shape ", t->ShapeString(),
                                                     ", expected ", Shape(shape)));
    }
    return t;
  }

  absl::Status CheckNoExtra() const {
    for (const auto& [name, t] : ckpt_.tensors()) {
      if (used_.count(name) || absl::EndsWith(name, "rotary_emb.inv_freq")) continue;
      return absl::InvalidArgumentError(absl::StrCat(t->file, ": unexpected tensor '", name, "' ", t->ShapeString(),
                                                     " (not used by this model config)"));
    }
    return absl::OkStatus();
  }

  bool Has(const std::string& name) const { return ckpt_.Find(name) != nullptr; }

 private:
  static std::string Shape(const std::vector<int64_t>& s) {
    TensorInfo t;
    t.shape = s;
    return t.ShapeString();
  }
  std::string Files() const {
    return ckpt_.files().size() == 1 ? ckpt_.files()[0]->path() : absl::StrCat(ckpt_.files().size(), " shards");
  }
  const Checkpoint& ckpt_;
  std::set<std::string> used_;
};

absl::StatusOr<LinearWeight> BindLinear(Binder& b, const ModelConfig& c, const LinearShape& s) {
  LinearWeight l;
  l.name = s.name;
  l.in_features = s.in_features;
  l.out_features = s.out_features;
  const int64_t K = s.in_features, N = s.out_features;
  if (c.quant.method == QuantMethod::kAwqGemm) {
    const int G = c.quant.group_size;
    l.format = LinearWeight::Format::kAwq;
    l.group_size = G;
    ASSIGN_OR_RETURN(l.qweight, b.Get(s.name + ".qweight", {K, N / 8}, false, DType::kI32));
    ASSIGN_OR_RETURN(l.qzeros, b.Get(s.name + ".qzeros", {K / G, N / 8}, false, DType::kI32));
    ASSIGN_OR_RETURN(l.scales, b.Get(s.name + ".scales", {K / G, N}, true, DType::kF16));
  } else {
    ASSIGN_OR_RETURN(l.weight, b.Get(s.name + ".weight", {N, K}, true));
  }
  return l;
}

}  // namespace

std::vector<LinearShape> LayerLinearShapes(const ModelConfig& c, int layer) {
  const std::string p = absl::StrCat("model.layers.", layer, ".");
  const int q_dim = c.num_attention_heads * c.head_dim;
  const int kv_dim = c.num_key_value_heads * c.head_dim;
  return {
      {p + "self_attn.q_proj", c.hidden_size, q_dim},
      {p + "self_attn.k_proj", c.hidden_size, kv_dim},
      {p + "self_attn.v_proj", c.hidden_size, kv_dim},
      {p + "self_attn.o_proj", q_dim, c.hidden_size},
      {p + "mlp.gate_proj", c.hidden_size, c.intermediate_size},
      {p + "mlp.up_proj", c.hidden_size, c.intermediate_size},
      {p + "mlp.down_proj", c.intermediate_size, c.hidden_size},
  };
}

absl::StatusOr<ModelWeights> BindModelWeights(const ModelConfig& c, std::shared_ptr<const Checkpoint> ckpt) {
  ModelWeights w;
  w.config = c;
  Binder b(*ckpt);
  const int64_t H = c.hidden_size, V = c.vocab_size;
  ASSIGN_OR_RETURN(w.embed_tokens, b.Get("model.embed_tokens.weight", {V, H}, true));
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    LayerWeights L;
    const std::string p = absl::StrCat("model.layers.", i, ".");
    ASSIGN_OR_RETURN(L.input_layernorm, b.Get(p + "input_layernorm.weight", {H}, true));
    ASSIGN_OR_RETURN(L.post_attention_layernorm, b.Get(p + "post_attention_layernorm.weight", {H}, true));
    const std::vector<LinearShape> shapes = LayerLinearShapes(c, i);
    LinearWeight* slots[] = {&L.q_proj, &L.k_proj, &L.v_proj, &L.o_proj, &L.gate_proj, &L.up_proj, &L.down_proj};
    for (size_t k = 0; k < shapes.size(); ++k) {
      ASSIGN_OR_RETURN(*slots[k], BindLinear(b, c, shapes[k]));
    }
    w.layers.push_back(std::move(L));
  }
  ASSIGN_OR_RETURN(w.norm, b.Get("model.norm.weight", {H}, true));
  // Tied checkpoints often still carry lm_head.weight (a copy); use it when present.
  if (!c.tie_word_embeddings || b.Has("lm_head.weight")) {
    ASSIGN_OR_RETURN(w.lm_head, b.Get("lm_head.weight", {V, H}, true));
  } else {
    w.lm_head = w.embed_tokens;
  }
  RETURN_IF_ERROR(b.CheckNoExtra());
  w.checkpoint = std::move(ckpt);
  return w;
}

absl::StatusOr<ModelWeights> LoadModelWeights(const std::string& dir) {
  ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(dir));
  ASSIGN_OR_RETURN(std::shared_ptr<const Checkpoint> ckpt, Checkpoint::Open(dir));
  return BindModelWeights(config, std::move(ckpt));
}

}  // namespace inference
