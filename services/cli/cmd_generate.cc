// `awqserve generate`: runs the engine in-process on a model folder (no server): prompt ids or text in, generated
// ids and text out, streamed as plain text or printed once as JSON.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "inference/engine/engine_factory.h"
#include "inference/engine/sampler.h"
#include "inference/model/model_config.h"
#include "services/cli/command.h"
#include "tokenizer/tokenizer.h"

namespace cli {
namespace {

// The largest --max-tokens the flag parser accepts; the engine then checks it against the model's context.
constexpr int64_t kMaxTokensFlagLimit = int64_t{1} << 30;

absl::StatusOr<std::vector<int32_t>> ParseIds(const std::string& text) {
  std::vector<int32_t> ids;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int32_t id;
    if (!absl::SimpleAtoi(part, &id)) {
      return absl::InvalidArgumentError(absl::StrCat("--prompt-ids: '", part, "' is not an integer (expected 1,2,3)"));
    }
    ids.push_back(id);
  }
  if (ids.empty()) return absl::InvalidArgumentError("--prompt-ids: no ids given (expected 1,2,3)");
  return ids;
}

absl::StatusOr<inference::SamplingParams> ParseSampling(const Args& args) {
  inference::SamplingParams p;
  ASSIGN_OR_RETURN(double temperature, args.GetDouble("temperature", p.temperature));
  ASSIGN_OR_RETURN(int64_t top_k, args.GetInt("top-k", p.top_k, 0, INT32_MAX));
  ASSIGN_OR_RETURN(double top_p, args.GetDouble("top-p", p.top_p));
  ASSIGN_OR_RETURN(double min_p, args.GetDouble("min-p", p.min_p));
  ASSIGN_OR_RETURN(double repetition, args.GetDouble("repetition-penalty", p.repetition_penalty));
  ASSIGN_OR_RETURN(double presence, args.GetDouble("presence-penalty", p.presence_penalty));
  ASSIGN_OR_RETURN(double frequency, args.GetDouble("frequency-penalty", p.frequency_penalty));
  ASSIGN_OR_RETURN(int64_t logprobs, args.GetInt("logprobs", -1, 0, inference::kMaxLogprobsTopN));
  p.temperature = static_cast<float>(temperature);
  p.top_k = static_cast<int32_t>(top_k);
  p.top_p = static_cast<float>(top_p);
  p.min_p = static_cast<float>(min_p);
  p.repetition_penalty = static_cast<float>(repetition);
  p.presence_penalty = static_cast<float>(presence);
  p.frequency_penalty = static_cast<float>(frequency);
  p.logprobs_top_n = static_cast<int32_t>(logprobs);
  if (args.Has("seed")) {
    uint64_t seed;
    if (!absl::SimpleAtoi(args.Get("seed"), &seed)) {
      return absl::InvalidArgumentError(absl::StrCat("--seed: expected an unsigned 64-bit integer, got '",
                                                     args.Get("seed"), "'"));
    }
    p.seed = seed;
  } else {
    std::random_device rd;  // the API's default: a random seed per request
    p.seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  return p;
}

struct Generated {
  std::vector<int32_t> ids;
  std::vector<inference::GeneratedToken> tokens;
  inference::FinishedRequest finished;
};

base::Json LogprobsJson(const std::vector<inference::GeneratedToken>& tokens) {
  base::Json::Array out;
  for (const inference::GeneratedToken& t : tokens) {
    base::Json::Array top;
    for (const auto& [id, lp] : t.top) top.push_back(base::Json::MakeObject({{"id", id}, {"logprob", double{lp}}}));
    out.push_back(base::Json::MakeObject(
        {{"id", t.id}, {"logprob", double{t.logprob}}, {"top", base::Json(std::move(top))}}));
  }
  return base::Json(std::move(out));
}

absl::Status Generate(const Args& args) {
  if (!args.Has("model")) return absl::InvalidArgumentError("--model: required (a Hugging Face model folder)");
  if (args.Has("prompt") == args.Has("prompt-ids")) {
    return absl::InvalidArgumentError("give exactly one of --prompt TEXT and --prompt-ids 1,2,3");
  }
  if (!args.Has("max-tokens")) return absl::InvalidArgumentError("--max-tokens: required");
  const std::string model_dir = args.Get("model");
  const bool json = args.Has("json");

  inference::EngineOptions options;
  options.backend = args.Get("backend", "cpu");
  ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 0, 0, 1024));
  options.threads = static_cast<int32_t>(threads);
  ASSIGN_OR_RETURN(inference::ModelConfig model, inference::LoadModelConfig(model_dir));

  inference::EngineRequest request;
  ASSIGN_OR_RETURN(int64_t max_tokens, args.GetInt("max-tokens", 0, 1, kMaxTokensFlagLimit));
  request.max_tokens = static_cast<int32_t>(max_tokens);
  ASSIGN_OR_RETURN(request.sampling, ParseSampling(args));
  if (!args.Has("ignore-eos")) request.stop_ids.assign(model.eos_token_ids.begin(), model.eos_token_ids.end());
  if (args.Has("stop-ids")) {
    absl::StatusOr<std::vector<int32_t>> extra = ParseIds(args.Get("stop-ids"));
    if (!extra.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--stop-ids: '", args.Get("stop-ids"),
                                                     "' is not a list of ids (expected 2,13)"));
    }
    request.stop_ids.insert(request.stop_ids.end(), extra->begin(), extra->end());
  }

  // The tokenizer is needed for --prompt and for the text; with --prompt-ids and no tokenizer.model, ids only.
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tok = tokenizer::Tokenizer::Load(model_dir);
  if (args.Has("prompt")) {
    if (!tok.ok()) return tok.status();
    ASSIGN_OR_RETURN(std::vector<int> ids, (*tok)->Encode(args.Get("prompt"), !args.Has("no-bos"),
                                                          /*parse_special=*/false));
    request.prompt.assign(ids.begin(), ids.end());
  } else {
    ASSIGN_OR_RETURN(request.prompt, ParseIds(args.Get("prompt-ids")));
  }

  ASSIGN_OR_RETURN(std::unique_ptr<inference::Engine> engine, inference::CreateEngine(model_dir, options));
  Generated out;
  absl::Status stream_error;
  std::unique_ptr<tokenizer::IncrementalDecoder> decoder;
  if (tok.ok() && !json) decoder = std::make_unique<tokenizer::IncrementalDecoder>((*tok)->NewDecoder(true));
  inference::RequestSink sink;
  sink.on_token = [&](const inference::GeneratedToken& t) {
    out.ids.push_back(t.id);
    out.tokens.push_back(t);
    if (decoder != nullptr && stream_error.ok()) {
      std::string delta;
      stream_error = decoder->Feed({static_cast<int>(t.id)}, &delta);
      std::fputs(delta.c_str(), stdout);
      std::fflush(stdout);
    }
  };
  sink.on_finish = [&](const inference::FinishedRequest& f) { out.finished = f; };
  RETURN_IF_ERROR(engine->Submit(request, sink).status());
  engine->RunUntilIdle();
  RETURN_IF_ERROR(stream_error);
  if (out.finished.reason == inference::FinishReason::kError) return out.finished.error;

  if (!json) {
    std::string rest;
    if (decoder != nullptr) decoder->Flush(&rest);
    if (decoder == nullptr) {
      for (size_t i = 0; i < out.ids.size(); ++i) rest += absl::StrCat(i == 0 ? "" : ",", out.ids[i]);
    }
    std::printf("%s\n", rest.c_str());
    std::fprintf(stderr, "[finish_reason: %s, prompt %d tokens, generated %d]\n",
                 inference::FinishReasonName(out.finished.reason), out.finished.prompt_tokens,
                 out.finished.completion_tokens);
    return absl::OkStatus();
  }
  base::Json text;  // null without a tokenizer
  if (tok.ok()) {
    ASSIGN_OR_RETURN(std::string decoded,
                     (*tok)->Decode(std::vector<int>(out.ids.begin(), out.ids.end()), /*skip_special=*/true));
    text = base::Json(decoded);
  }
  base::Json result = base::Json::MakeObject({{"ids", base::Json::ArrayOf(out.ids)},
                                              {"text", text},
                                              {"finish_reason", inference::FinishReasonName(out.finished.reason)}});
  if (out.finished.stop_token >= 0) result.Set("stop_token_id", out.finished.stop_token);
  result.Set("usage", base::Json::MakeObject({{"prompt_tokens", out.finished.prompt_tokens},
                                              {"completion_tokens", out.finished.completion_tokens}}));
  if (request.sampling.logprobs_top_n >= 0) result.Set("logprobs", LogprobsJson(out.tokens));
  base::Json::DumpOptions dump;
  dump.ensure_ascii = false;
  std::printf("%s\n", result.Dump(dump).c_str());
  return absl::OkStatus();
}

int RunGenerate(const Args& args);

}  // namespace

const Command& GenerateCommand() {
  static const Command cmd{
      "generate",
      "Generate tokens in-process with the engine (no server): greedy at --temperature 0",
      "awqserve generate --model DIR [--backend cpu] (--prompt-ids 1,2,3 | --prompt TEXT) --max-tokens N "
      "[--temperature T --top-k K --top-p P --min-p P --repetition-penalty R --presence-penalty P "
      "--frequency-penalty F --seed S --logprobs N] [--stop-ids 2,13] [--ignore-eos] [--json]",
      {{"model", true, "model folder (config.json, safetensors, tokenizer.model)"},
       {"backend", true, "compute backend: cpu (default), or cuda in a build with the CUDA backend"},
       {"prompt-ids", true, "prompt as comma-separated token ids (BOS not added)"},
       {"prompt", true, "prompt text, encoded with the model's tokenizer.model (BOS added)"},
       {"no-bos", false, "with --prompt: do not add BOS"},
       {"max-tokens", true, "tokens to generate at most (required)"},
       {"temperature", true, "default 1.0; 0 is greedy; range [0, 100]"},
       {"top-k", true, "default 0 (disabled); range [0, vocab]"},
       {"top-p", true, "default 1.0 (disabled); range (0, 1]"},
       {"min-p", true, "default 0 (disabled); range [0, 1]"},
       {"repetition-penalty", true, "default 1.0 (disabled); range (0, 2]"},
       {"presence-penalty", true, "default 0; range [-2, 2]"},
       {"frequency-penalty", true, "default 0; range [-2, 2]"},
       {"seed", true, "random seed (default: random)"},
       {"stop-ids", true, "extra comma-separated ids that end generation (besides the model's EOS ids)"},
       {"ignore-eos", false, "do not stop at the model's EOS ids (generation_config.json)"},
       {"logprobs", true, "return logprobs of each token and the top N alternatives; N in [0, 20]"},
       {"threads", true, "CPU backend threads (default: all cores)"},
       {"json", false, "print {\"ids\": [...], \"text\": ..., \"finish_reason\": ...} instead of streaming text"}},
      0,
      0,
      &RunGenerate};
  return cmd;
}

namespace {

int RunGenerate(const Args& args) {
  const absl::Status status = Generate(args);
  if (!status.ok()) return Fail(GenerateCommand(), std::string(status.message()));
  return 0;
}

}  // namespace
}  // namespace cli
