// `awqserve tokenize` and `awqserve detokenize`: text <-> token ids, in process (--model DIR) or through the
// tokenizer sidecar (--server ADDR). Input: one positional argument, or JSON lines on stdin; output: one JSON line
// per input, flushed as it is written.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "awqserve/v1/tokenizer.grpc.pb.h"
#include "base/json.h"
#include "services/cli/command.h"
#include "services/common/client_channel.h"
#include "services/common/status.h"
#include "tokenizer/tokenizer.h"

namespace cli {
namespace {

namespace v1 = awqserve::v1;

// Where tokenization happens: the library in this process, or a sidecar.
class TokenizerBackend {
 public:
  virtual ~TokenizerBackend() = default;
  virtual absl::StatusOr<std::vector<int>> Encode(const std::string& text, bool add_bos, bool special) = 0;
  virtual absl::StatusOr<std::string> Decode(const std::vector<int>& ids, bool skip_special) = 0;
};

class LocalBackend : public TokenizerBackend {
 public:
  explicit LocalBackend(std::unique_ptr<tokenizer::Tokenizer> tok) : tok_(std::move(tok)) {}
  absl::StatusOr<std::vector<int>> Encode(const std::string& text, bool add_bos, bool special) override {
    return tok_->Encode(text, add_bos, special);
  }
  absl::StatusOr<std::string> Decode(const std::vector<int>& ids, bool skip_special) override {
    return tok_->Decode(ids, skip_special);
  }

 private:
  std::unique_ptr<tokenizer::Tokenizer> tok_;
};

class RemoteBackend : public TokenizerBackend {
 public:
  RemoteBackend(const std::string& address, absl::Duration timeout)
      : stub_(v1::Tokenizer::NewStub(services::MakeChannel(address))), timeout_(timeout) {}
  absl::StatusOr<std::vector<int>> Encode(const std::string& text, bool add_bos, bool special) override {
    v1::EncodeRequest request;
    request.add_inputs()->set_text(text);
    request.set_add_bos(add_bos);
    request.set_parse_special(special);
    v1::EncodeResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    if (absl::Status s = services::FromGrpcStatus(stub_->Encode(&context, request, &response)); !s.ok()) return s;
    if (response.results_size() != 1) return absl::InternalError("Encode: expected one result");
    return std::vector<int>(response.results(0).ids().begin(), response.results(0).ids().end());
  }
  absl::StatusOr<std::string> Decode(const std::vector<int>& ids, bool skip_special) override {
    v1::DecodeRequest request;
    request.mutable_ids()->Add(ids.begin(), ids.end());
    request.set_skip_special_tokens(skip_special);
    v1::DecodeResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    if (absl::Status s = services::FromGrpcStatus(stub_->Decode(&context, request, &response)); !s.ok()) return s;
    return response.text();
  }

 private:
  std::unique_ptr<v1::Tokenizer::Stub> stub_;
  absl::Duration timeout_;
};

const std::vector<FlagSpec> kBackendFlags = {
    {"model", true, "tokenize in this process with DIR/tokenizer.model"},
    {"server", true, "use the tokenizer sidecar at HOST:PORT"},
    {"timeout_s", true, "deadline of each call to --server, in seconds (default 30)"},
};

absl::StatusOr<std::unique_ptr<TokenizerBackend>> MakeBackend(const Args& args) {
  if (args.Has("model") == args.Has("server")) {
    return absl::InvalidArgumentError("give exactly one of --model DIR or --server HOST:PORT");
  }
  if (args.Has("model")) {
    absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tok = tokenizer::Tokenizer::Load(args.Get("model"));
    if (!tok.ok()) return tok.status();
    return std::unique_ptr<TokenizerBackend>(new LocalBackend(*std::move(tok)));
  }
  absl::StatusOr<double> timeout = args.GetDouble("timeout_s", 30);
  if (!timeout.ok()) return timeout.status();
  return std::unique_ptr<TokenizerBackend>(new RemoteBackend(args.Get("server"), absl::Seconds(*timeout)));
}

void WriteLine(const base::Json& json) {
  base::Json::DumpOptions options;
  options.ensure_ascii = false;
  const std::string line = json.Dump(options) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

// Calls `each(json, line_number)` for every non-blank JSON line of stdin; stops at the first error.
template <typename Fn>
absl::Status ForEachInputLine(Fn each) {
  std::string line;
  for (int64_t n = 1; std::getline(std::cin, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    absl::StatusOr<base::Json> json = base::Json::Parse(line);
    if (!json.ok()) return absl::InvalidArgumentError(absl::StrCat("stdin line ", n, ": ", json.status().message()));
    if (absl::Status s = each(*json, n); !s.ok()) return s;
  }
  return absl::OkStatus();
}

const Command& TokenizeCmd();
const Command& DetokenizeCmd();

int RunTokenize(const Args& args) {
  absl::StatusOr<std::unique_ptr<TokenizerBackend>> backend = MakeBackend(args);
  if (!backend.ok()) return Fail(TokenizeCmd(), std::string(backend.status().message()));
  const bool add_bos = !args.Has("no-bos"), special = args.Has("special");
  auto tokenize = [&](const std::string& text) -> absl::Status {
    absl::StatusOr<std::vector<int>> ids = (*backend)->Encode(text, add_bos, special);
    if (!ids.ok()) return ids.status();
    WriteLine(base::Json::MakeObject({{"ids", base::Json::ArrayOf(*ids)}}));
    return absl::OkStatus();
  };
  absl::Status status;
  if (!args.positional().empty()) {
    status = tokenize(args.positional()[0]);
  } else {
    status = ForEachInputLine([&](const base::Json& json, int64_t n) -> absl::Status {
      const base::Json* text = json.Find("text");
      if (text == nullptr || !text->is_string()) {
        return absl::InvalidArgumentError(absl::StrCat("stdin line ", n, ": expected {\"text\": \"...\"}"));
      }
      absl::Status s = tokenize(text->AsString());
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat("stdin line ", n, ": ", s.message()));
      return s;
    });
  }
  return status.ok() ? 0 : Fail(TokenizeCmd(), std::string(status.message()));
}

absl::StatusOr<std::vector<int>> IdsFromJson(const base::Json& json) {
  const base::Json* ids = json.Find("ids");
  if (ids == nullptr || !ids->is_array()) return absl::InvalidArgumentError("expected {\"ids\": [...]}");
  std::vector<int> out;
  for (size_t i = 0; i < ids->items().size(); ++i) {
    const base::Json& v = ids->items()[i];
    if (!v.is_int() || v.AsInt() < INT32_MIN || v.AsInt() > INT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("ids[", i, "]: expected a 32-bit integer"));
    }
    out.push_back(static_cast<int>(v.AsInt()));
  }
  return out;
}

int RunDetokenize(const Args& args) {
  absl::StatusOr<std::unique_ptr<TokenizerBackend>> backend = MakeBackend(args);
  if (!backend.ok()) return Fail(DetokenizeCmd(), std::string(backend.status().message()));
  const bool skip = args.Has("skip-special");
  auto detokenize = [&](const std::vector<int>& ids) -> absl::Status {
    absl::StatusOr<std::string> text = (*backend)->Decode(ids, skip);
    if (!text.ok()) return text.status();
    WriteLine(base::Json::MakeObject({{"text", *text}}));
    return absl::OkStatus();
  };
  absl::Status status;
  if (!args.positional().empty()) {
    std::vector<int> ids;
    for (const std::string& arg : args.positional()) {
      for (absl::string_view part : absl::StrSplit(arg, ',', absl::SkipEmpty())) {
        int id;
        if (!absl::SimpleAtoi(part, &id)) {
          return Fail(DetokenizeCmd(), absl::StrCat("ids: '", std::string(part), "' is not an integer"));
        }
        ids.push_back(id);
      }
    }
    status = detokenize(ids);
  } else {
    status = ForEachInputLine([&](const base::Json& json, int64_t n) -> absl::Status {
      absl::StatusOr<std::vector<int>> ids = IdsFromJson(json);
      absl::Status s = ids.ok() ? detokenize(*ids) : ids.status();
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat("stdin line ", n, ": ", s.message()));
      return s;
    });
  }
  return status.ok() ? 0 : Fail(DetokenizeCmd(), std::string(status.message()));
}

std::vector<FlagSpec> With(std::vector<FlagSpec> flags) {
  flags.insert(flags.begin(), kBackendFlags.begin(), kBackendFlags.end());
  return flags;
}

const Command& TokenizeCmd() {
  static const Command cmd{
      "tokenize",
      "Text to token ids: one positional TEXT, or JSON lines {\"text\": ...} on stdin; writes {\"ids\": [...]} "
      "per input.",
      "awqserve tokenize (--model DIR | --server HOST:PORT) [--no-bos] [--special] [TEXT]",
      With({{"no-bos", false, "do not prepend BOS (id 1)"},
            {"special", false, "turn <s>, </s>, <unk> in the text into control ids"}}),
      0,
      1,
      &RunTokenize};
  return cmd;
}

const Command& DetokenizeCmd() {
  static const Command cmd{
      "detokenize",
      "Token ids to text: positional ids (\"1 22557\" or \"1,22557\"), or JSON lines {\"ids\": [...]} on stdin; "
      "writes {\"text\": ...} per input.",
      "awqserve detokenize (--model DIR | --server HOST:PORT) [--skip-special] [IDS...]",
      With({{"skip-special", false, "leave <s>, </s>, <unk> out of the text"}}),
      0,
      1 << 20,
      &RunDetokenize};
  return cmd;
}

}  // namespace

const Command& TokenizeCommand() { return TokenizeCmd(); }
const Command& DetokenizeCommand() { return DetokenizeCmd(); }

}  // namespace cli
