// `awqserve complete [--server ADDR] [sampling flags] PROMPT`: streams a plain completion of PROMPT from the
// gateway to stdout as it arrives (the prompt itself is not repeated).
#include <cstdio>
#include <string>

#include "services/cli/command.h"
#include "services/cli/text_generation_client.h"
#include "services/common/client_channel.h"

namespace cli {
namespace {

const Command& CompleteCmd();

int RunComplete(const Args& args) {
  absl::StatusOr<awqserve::v1::GenerationOptions> options = GenerationOptionsFromArgs(args);
  if (!options.ok()) return Fail(CompleteCmd(), std::string(options.status().message()));
  awqserve::v1::CompleteRequest request;
  request.set_prompt(args.positional()[0]);
  *request.mutable_options() = *options;
  if (args.Has("no-bos")) request.set_add_bos(false);

  auto stub = awqserve::v1::TextGeneration::NewStub(services::MakeChannel(args.Get("server", kDefaultGateway)));
  grpc::ClientContext ctx;
  if (absl::Status s = ApplyTimeout(args, &ctx); !s.ok()) return Fail(CompleteCmd(), std::string(s.message()));
  auto reader = stub->Complete(&ctx, request);
  absl::StatusOr<awqserve::v1::TextGenerationResponse> last = ReadStream(*reader, stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!last.ok()) return Fail(CompleteCmd(), std::string(last.status().message()));
  if (args.Has("usage")) std::fprintf(stderr, "%s\n", DescribeEnd(*last).c_str());
  return 0;
}

const Command& CompleteCmd() {
  static const Command cmd = [] {
    Command c{"complete",
              "Continue PROMPT (plain text, no chat template), streaming the text as it is generated.",
              "awqserve complete [--server HOST:PORT] [--temperature T] [--max-tokens N] [--stop S] ... PROMPT",
              GenerationFlags(),
              1,
              1,
              &RunComplete};
    c.flags.push_back({"no-bos", false, "do not prepend the BOS token"});
    return c;
  }();
  return cmd;
}

}  // namespace

const Command& CompleteCommand() { return CompleteCmd(); }

}  // namespace cli
