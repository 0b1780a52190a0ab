// What the `chat`, `complete` and `bench` commands share: the sampling / generation flags and their conversion to
// GenerationOptions, and reading one streamed TextGeneration call to its end.
//
// Thread-safety: pure functions; ReadStream uses only its arguments.
//
//   std::vector<FlagSpec> flags = GenerationFlags();          // --temperature, --max-tokens, --stop, ...
//   ASSIGN_OR_RETURN(awqserve::v1::GenerationOptions o, GenerationOptionsFromArgs(args));
//   auto reader = stub->Complete(&ctx, request);
//   ASSIGN_OR_RETURN(awqserve::v1::TextGenerationResponse last, ReadStream(*reader, stdout));
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "awqserve/v1/gateway.grpc.pb.h"
#include "services/cli/command.h"

namespace cli {

inline constexpr char kDefaultGateway[] = "127.0.0.1:50051";

// --temperature --top-p --top-k --min-p --repetition-penalty --presence-penalty --frequency-penalty --seed
// --max-tokens --stop --ignore-eos; plus --server, --timeout and --usage.
std::vector<FlagSpec> GenerationFlags();

// Unset flags stay unset (the server applies its defaults). INVALID_ARGUMENT naming a malformed flag; ranges are
// the server's to check.
[[nodiscard]] absl::StatusOr<awqserve::v1::GenerationOptions> GenerationOptionsFromArgs(const Args& args);

// Sets the deadline from --timeout SECONDS, when given.
[[nodiscard]] absl::Status ApplyTimeout(const Args& args, grpc::ClientContext* ctx);

// Writes each text delta to `out` as it arrives (flushed) and returns the last message. A non-OK call status
// becomes the error ("CODE: message").
[[nodiscard]] absl::StatusOr<awqserve::v1::TextGenerationResponse> ReadStream(
    grpc::ClientReaderInterface<awqserve::v1::TextGenerationResponse>& reader, std::FILE* out);

// "[stop: stop string "\n\n"; 12 prompt + 30 completion tokens]" for --usage.
std::string DescribeEnd(const awqserve::v1::TextGenerationResponse& last);

}  // namespace cli
