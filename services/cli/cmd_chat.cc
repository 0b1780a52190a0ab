// `awqserve chat [--server ADDR] [sampling flags] MESSAGE`: one user turn through the model's chat template,
// the answer streamed to stdout as it arrives. `--interactive` keeps a multi-turn conversation: each line read
// from stdin is the next user message (MESSAGE, when given, is the first); an empty line or end of input ends it.
#include <cstdio>
#include <iostream>
#include <string>

#include "services/cli/command.h"
#include "services/cli/text_generation_client.h"
#include "services/common/client_channel.h"
#include "services/common/status.h"

namespace cli {
namespace {

const Command& ChatCmd();

void AddMessage(awqserve::v1::ChatRequest* request, const std::string& role, const std::string& content) {
  awqserve::v1::ChatMessage* m = request->add_messages();
  m->set_role(role);
  m->set_content(content);
}

int RunChat(const Args& args) {
  absl::StatusOr<awqserve::v1::GenerationOptions> options = GenerationOptionsFromArgs(args);
  if (!options.ok()) return Fail(ChatCmd(), std::string(options.status().message()));
  const bool interactive = args.Has("interactive");
  if (!interactive && args.positional().empty()) return Fail(ChatCmd(), "MESSAGE: required (or --interactive)");

  auto stub = awqserve::v1::TextGeneration::NewStub(services::MakeChannel(args.Get("server", kDefaultGateway)));
  awqserve::v1::ChatRequest request;
  *request.mutable_options() = *options;
  if (args.Has("system")) AddMessage(&request, "system", args.Get("system"));

  std::string message = args.positional().empty() ? std::string() : args.positional()[0];
  while (true) {
    if (message.empty()) {
      if (!interactive) return 0;
      std::fprintf(stderr, "> ");
      std::fflush(stderr);
      if (!std::getline(std::cin, message) || message.empty()) return 0;
    }
    AddMessage(&request, "user", message);
    message.clear();

    grpc::ClientContext ctx;
    if (absl::Status s = ApplyTimeout(args, &ctx); !s.ok()) return Fail(ChatCmd(), std::string(s.message()));
    auto reader = stub->Chat(&ctx, request);
    // The answer is collected as it is printed, to become the assistant's turn in the history.
    std::string answer;
    awqserve::v1::TextGenerationResponse m, last;
    while (reader->Read(&m)) {
      std::fwrite(m.text().data(), 1, m.text().size(), stdout);
      std::fflush(stdout);
      answer += m.text();
      last = m;
    }
    std::fputc('\n', stdout);
    std::fflush(stdout);
    grpc::Status status = reader->Finish();
    if (!status.ok()) {
      Fail(ChatCmd(), std::string(services::FromGrpcStatus(status).ToString()));
      if (!interactive) return 1;
      request.mutable_messages()->RemoveLast();  // the turn failed: let the user try again
      continue;
    }
    if (args.Has("usage")) std::fprintf(stderr, "%s\n", DescribeEnd(last).c_str());
    if (!interactive) return 0;
    AddMessage(&request, "assistant", answer);
  }
}

const Command& ChatCmd() {
  static const Command cmd = [] {
    Command c{"chat",
              "Send MESSAGE as a user turn (the model's chat template applies) and stream the answer.",
              "awqserve chat [--server HOST:PORT] [--temperature T] [--max-tokens N] [--interactive] [MESSAGE]",
              GenerationFlags(),
              0,
              1,
              &RunChat};
    c.flags.push_back({"interactive", false, "multi-turn: read further user messages from stdin"});
    c.flags.push_back({"system", true, "a system message first (if the template accepts one)"});
    return c;
  }();
  return cmd;
}

}  // namespace

const Command& ChatCommand() { return ChatCmd(); }

}  // namespace cli
