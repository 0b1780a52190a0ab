#include "services/cli/text_generation_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/common/status.h"

namespace cli {

std::vector<FlagSpec> GenerationFlags() {
  return {
      {"server", true, "the gateway, HOST:PORT (default 127.0.0.1:50051)"},
      {"temperature", true, "softmax temperature; 0 = greedy (server default 1.0)"},
      {"top-p", true, "nucleus sampling mass in (0, 1]"},
      {"top-k", true, "keep the k most likely tokens (0 = off)"},
      {"min-p", true, "drop tokens below min-p x the best one's probability"},
      {"repetition-penalty", true, "CTRL-style penalty in (0, 2]"},
      {"presence-penalty", true, "OpenAI-style penalty in [-2, 2]"},
      {"frequency-penalty", true, "OpenAI-style penalty in [-2, 2]"},
      {"seed", true, "random seed (same seed, same text)"},
      {"max-tokens", true, "tokens to generate at most (server default 256)"},
      {"stop", true, "a string that ends the answer (not printed)"},
      {"ignore-eos", false, "keep going past the end-of-sequence token"},
      {"timeout", true, "give up after this many seconds (the deadline reaches every service)"},
      {"usage", false, "print the finish reason and token counts to stderr at the end"},
  };
}

absl::StatusOr<awqserve::v1::GenerationOptions> GenerationOptionsFromArgs(const Args& args) {
  awqserve::v1::GenerationOptions o;
  awqserve::v1::SamplingParams* s = o.mutable_sampling();
  struct FloatFlag {
    const char* name;
    void (awqserve::v1::SamplingParams::*set)(float);
  };
  const FloatFlag floats[] = {
      {"temperature", &awqserve::v1::SamplingParams::set_temperature},
      {"top-p", &awqserve::v1::SamplingParams::set_top_p},
      {"min-p", &awqserve::v1::SamplingParams::set_min_p},
      {"repetition-penalty", &awqserve::v1::SamplingParams::set_repetition_penalty},
      {"presence-penalty", &awqserve::v1::SamplingParams::set_presence_penalty},
      {"frequency-penalty", &awqserve::v1::SamplingParams::set_frequency_penalty},
  };
  for (const FloatFlag& f : floats) {
    if (!args.Has(f.name)) continue;
    ASSIGN_OR_RETURN(double v, args.GetDouble(f.name, 0));
    (s->*f.set)(static_cast<float>(v));
  }
  if (args.Has("top-k")) {
    ASSIGN_OR_RETURN(int64_t k, args.GetInt("top-k", 0, INT32_MIN, INT32_MAX));
    s->set_top_k(static_cast<int32_t>(k));
  }
  if (args.Has("seed")) {
    ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0, 0, INT64_MAX));
    s->set_seed(static_cast<uint64_t>(seed));
  }
  if (args.Has("max-tokens")) {
    ASSIGN_OR_RETURN(int64_t n, args.GetInt("max-tokens", 0, 0, UINT32_MAX));
    o.set_max_tokens(static_cast<uint32_t>(n));
  }
  if (args.Has("stop")) o.add_stop(args.Get("stop"));
  o.set_ignore_eos(args.Has("ignore-eos"));
  return o;
}

absl::Status ApplyTimeout(const Args& args, grpc::ClientContext* ctx) {
  if (!args.Has("timeout")) return absl::OkStatus();
  ASSIGN_OR_RETURN(double seconds, args.GetDouble("timeout", 0));
  if (!(seconds > 0)) return absl::InvalidArgumentError("--timeout: must be > 0 seconds");
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(
                        std::chrono::duration<double>(seconds)));
  return absl::OkStatus();
}

absl::StatusOr<awqserve::v1::TextGenerationResponse> ReadStream(
    grpc::ClientReaderInterface<awqserve::v1::TextGenerationResponse>& reader, std::FILE* out) {
  awqserve::v1::TextGenerationResponse m, last;
  while (reader.Read(&m)) {
    if (!m.text().empty()) {
      std::fwrite(m.text().data(), 1, m.text().size(), out);
      std::fflush(out);
    }
    last = m;
  }
  grpc::Status status = reader.Finish();
  if (!status.ok()) {
    absl::Status s = services::FromGrpcStatus(status);
    return absl::Status(s.code(), absl::StrCat(absl::StatusCodeToString(s.code()), ": ", s.message()));
  }
  return last;
}

std::string DescribeEnd(const awqserve::v1::TextGenerationResponse& last) {
  std::string why = awqserve::v1::FinishReason_Name(last.finish_reason());
  if (last.stop_reason().has_stop_string()) {
    absl::StrAppend(&why, ": stop string \"", last.stop_reason().stop_string(), "\"");
  } else if (last.stop_reason().has_token_id()) {
    absl::StrAppend(&why, ": token ", last.stop_reason().token_id());
  }
  return absl::StrCat("[", why, "; ", last.usage().prompt_tokens(), " prompt + ", last.usage().completion_tokens(),
                      " completion tokens]");
}

}  // namespace cli
