// The tokenizer sidecar as a real process on loopback, called by our C++ client: golden encode/decode/stream,
// every bad input with its status and message (and the server keeps serving), health, reflection, metrics,
// startup failures, and draining on SIGTERM.
#include <gtest/gtest.h>

#include <grpcpp/generic/generic_stub.h>

#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <memory>

#include "awqserve/v1/tokenizer.grpc.pb.h"
#include "base/utf8.h"
#include "services/common/client_channel.h"
#include "services/common/health_client.h"
#include "tests/integration/raw_unary_call.h"
#include "tests/integration/reflection_client.h"
#include "tests/integration/server_process.h"
#include "tests/unit/services/http_get.h"
#include "tests/unit/tokenizer/golden_rows.h"

namespace {

namespace v1 = awqserve::v1;
using testing_process::ServerProcess;

constexpr int kDefaultMaxTextBytes = 1 << 20;  // the sidecar's default --max_text_bytes

std::vector<std::string> SidecarArgs(const std::string& model_dir) {
  return {"--model_dir", model_dir, "--listen", "127.0.0.1:0", "--metrics_listen", "127.0.0.1:0"};
}

class TokenizerSidecar : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess;
    ASSERT_TRUE(server_->Start(AWQSERVE_TOKENIZER_BIN, SidecarArgs(testing_golden::MistralDir())))
        << server_->stderr_text();
    channel_ = new std::shared_ptr<grpc::Channel>(services::MakeChannel(server_->address(), 64 << 20));
    stub_ = v1::Tokenizer::NewStub(*channel_).release();
  }
  static void TearDownTestSuite() {
    delete stub_;
    delete channel_;
    EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->stderr_text();
    delete server_;
  }

  static grpc::Status Encode(const v1::EncodeRequest& req, v1::EncodeResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->Encode(&ctx, req, resp);
  }
  static grpc::Status Decode(const std::vector<int>& ids, bool skip, std::string* text) {
    v1::DecodeRequest req;
    req.mutable_ids()->Add(ids.begin(), ids.end());
    req.set_skip_special_tokens(skip);
    v1::DecodeResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub_->Decode(&ctx, req, &resp);
    *text = resp.text();
    return s;
  }
  // The server still answers a good request.
  static void ExpectStillServing() {
    std::string text;
    const grpc::Status s = Decode({1, 22557, 1526, 28808}, true, &text);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(text, "Hello world!");
  }
  static void ExpectInvalid(const grpc::Status& s, const std::string& message) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_EQ(s.error_message(), message);
    ExpectStillServing();
  }

  static ServerProcess* server_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static v1::Tokenizer::Stub* stub_;
};
ServerProcess* TokenizerSidecar::server_ = nullptr;
std::shared_ptr<grpc::Channel>* TokenizerSidecar::channel_ = nullptr;
v1::Tokenizer::Stub* TokenizerSidecar::stub_ = nullptr;

TEST_F(TokenizerSidecar, EncodesEveryGoldenTextInOneBatch) {
  const std::vector<testing_golden::TextRow> rows = testing_golden::ReadTokenizerGolden();
  ASSERT_EQ(rows.size(), testing_golden::kTokenizerGoldenRows);
  v1::EncodeRequest req;
  for (const auto& row : rows) req.add_inputs()->set_text(row.text);
  v1::EncodeResponse resp;
  ASSERT_TRUE(Encode(req, &resp).ok());
  ASSERT_EQ(resp.results_size(), static_cast<int>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(std::vector<int>(resp.results(i).ids().begin(), resp.results(i).ids().end()), rows[i].ids)
        << "row " << i;
  }
}

TEST_F(TokenizerSidecar, EncodesEveryChatPromptWithParseSpecial) {
  const std::vector<testing_golden::ChatRow> rows = testing_golden::ReadChatGolden();
  ASSERT_EQ(rows.size(), testing_golden::kChatGoldenRowsWithIds);
  v1::EncodeRequest req;
  req.set_add_bos(false);
  req.set_parse_special(true);
  for (const auto& row : rows) req.add_inputs()->set_text(row.text);
  v1::EncodeResponse resp;
  ASSERT_TRUE(Encode(req, &resp).ok());
  ASSERT_EQ(resp.results_size(), static_cast<int>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(std::vector<int>(resp.results(i).ids().begin(), resp.results(i).ids().end()), rows[i].ids)
        << "row " << i;
  }
}

TEST_F(TokenizerSidecar, UntrustedSegmentsGiveTheSafeIds) {
  for (const auto& row : testing_golden::ReadChatGolden()) {
    if (row.safe_ids.empty()) continue;
    v1::EncodeRequest req;
    req.set_add_bos(false);
    req.set_parse_special(true);
    v1::EncodeInput* input = req.add_inputs();
    auto add = [&](const std::string& text, bool trusted) {
      v1::PromptSegment* seg = input->add_segments();
      seg->set_text(text);
      seg->set_trusted(trusted);
    };
    add("<s>[INST] ", true);
    add(row.messages.items()[0].Get("content").AsString(), false);
    add(" [/INST]", true);
    v1::EncodeResponse resp;
    ASSERT_TRUE(Encode(req, &resp).ok());
    EXPECT_EQ(std::vector<int>(resp.results(0).ids().begin(), resp.results(0).ids().end()), row.safe_ids);
    return;
  }
  FAIL() << "no golden row with safe_ids";
}

TEST_F(TokenizerSidecar, DecodesEveryGoldenRow) {
  for (const auto& row : testing_golden::ReadTokenizerGolden()) {
    std::string text;
    ASSERT_TRUE(Decode(row.ids, /*skip=*/true, &text).ok());
    EXPECT_EQ(text, row.decoded);
  }
}

TEST_F(TokenizerSidecar, StreamsEveryGoldenRowOneIdPerMessage) {
  const std::vector<testing_golden::TextRow> rows = testing_golden::ReadTokenizerGolden();
  ASSERT_EQ(rows.size(), testing_golden::kTokenizerGoldenRows);
  for (size_t r = 0; r < rows.size(); ++r) {
    grpc::ClientContext ctx;
    auto stream = stub_->DecodeStream(&ctx);
    std::string all;
    for (size_t i = 0; i < rows[r].ids.size(); ++i) {
      v1::DecodeStreamRequest req;
      req.add_ids(rows[r].ids[i]);
      if (i == 0) req.set_skip_special_tokens(true);
      ASSERT_TRUE(stream->Write(req));
      v1::DecodeStreamResponse resp;
      ASSERT_TRUE(stream->Read(&resp));
      EXPECT_TRUE(base::IsValidUtf8(resp.text())) << "row " << r << " id " << i;
      all += resp.text();
    }
    stream->WritesDone();
    v1::DecodeStreamResponse tail;
    while (stream->Read(&tail)) all += tail.text();
    ASSERT_TRUE(stream->Finish().ok());
    EXPECT_EQ(all, rows[r].decoded) << "row " << r;
  }
}

TEST_F(TokenizerSidecar, AStreamEndingInsideACharacterFlushesReplacementCharacters) {
  grpc::ClientContext ctx;
  auto stream = stub_->DecodeStream(&ctx);
  v1::DecodeStreamRequest req;
  req.add_ids(243);  // <0xF0>
  req.add_ids(162);  // <0x9F>
  ASSERT_TRUE(stream->Write(req));
  v1::DecodeStreamResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.text(), "");
  stream->WritesDone();
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.text(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(TokenizerSidecar, InfoDescribesTheVocabulary) {
  grpc::ClientContext ctx;
  v1::TokenizerInfo info;
  ASSERT_TRUE(stub_->Info(&ctx, v1::TokenizerInfoRequest(), &info).ok());
  EXPECT_EQ(info.vocab_size(), 32000);
  EXPECT_EQ(info.bos_id(), 1);
  EXPECT_EQ(info.eos_id(), 2);
  EXPECT_EQ(info.unk_id(), 0);
  EXPECT_EQ(info.pad_id(), -1);
  EXPECT_EQ(info.bos_token(), "<s>");
  EXPECT_EQ(info.eos_token(), "</s>");
  EXPECT_EQ(info.unk_token(), "<unk>");
  EXPECT_EQ(info.model_dir(), testing_golden::MistralDir());
}

TEST_F(TokenizerSidecar, NegativeIdIsInvalidArgument) {
  std::string text;
  ExpectInvalid(Decode({22557, -5}, false, &text), "ids[1]: -5 is out of range [0, 32000)");
}

TEST_F(TokenizerSidecar, IdAtVocabSizeIsInvalidArgument) {
  std::string text;
  ExpectInvalid(Decode({32000}, false, &text), "ids[0]: 32000 is out of range [0, 32000)");
}

TEST_F(TokenizerSidecar, EmptyEncodeRequestIsInvalidArgument) {
  v1::EncodeResponse resp;
  ExpectInvalid(Encode(v1::EncodeRequest(), &resp), "inputs: at least one input is required");
}

TEST_F(TokenizerSidecar, TextOverTheLimitIsInvalidArgument) {
  v1::EncodeRequest req;
  req.add_inputs()->set_text("ok");
  req.add_inputs()->set_text(std::string(kDefaultMaxTextBytes + 1, 'a'));
  v1::EncodeResponse resp;
  ExpectInvalid(Encode(req, &resp), "inputs[1].text: 1048577 bytes, the limit is 1048576 (--max_text_bytes)");
  EXPECT_EQ(resp.results_size(), 0);
  // Exactly at the limit is fine.
  req.mutable_inputs(1)->mutable_text()->pop_back();
  ASSERT_TRUE(Encode(req, &resp).ok());
  EXPECT_EQ(resp.results_size(), 2);
}

TEST_F(TokenizerSidecar, SegmentsOverTheLimitCountTogether) {
  v1::EncodeRequest req;
  v1::EncodeInput* input = req.add_inputs();
  input->add_segments()->set_text(std::string(kDefaultMaxTextBytes / 2, 'a'));
  input->add_segments()->set_text(std::string(kDefaultMaxTextBytes / 2 + 1, 'b'));
  v1::EncodeResponse resp;
  ExpectInvalid(Encode(req, &resp), "inputs[0].segments: 1048577 bytes, the limit is 1048576 (--max_text_bytes)");
}

TEST_F(TokenizerSidecar, TooManyInputsIsInvalidArgument) {
  v1::EncodeRequest req;
  for (int i = 0; i < 1025; ++i) req.add_inputs()->set_text("x");
  v1::EncodeResponse resp;
  ExpectInvalid(Encode(req, &resp), "inputs: 1025 inputs, the limit is 1024");
}

TEST_F(TokenizerSidecar, TextAndSegmentsTogetherIsInvalidArgument) {
  v1::EncodeRequest req;
  v1::EncodeInput* input = req.add_inputs();
  input->set_text("a");
  input->add_segments()->set_text("b");
  v1::EncodeResponse resp;
  ExpectInvalid(Encode(req, &resp), "inputs[0]: set either text or segments, not both");
}

// Invalid UTF-8 cannot be built with a conforming protobuf client, so these requests are written as raw wire bytes.
grpc::Status RawEncode(const std::shared_ptr<grpc::Channel>& channel, const std::string& wire) {
  return testing_support::RawUnaryCall(channel, "/awqserve.v1.Tokenizer/Encode", wire);
}

TEST_F(TokenizerSidecar, InvalidUtf8TextIsInvalidArgument) {
  // EncodeRequest{inputs: [EncodeInput{text: "ab\xff"}]}: field 1 (5 bytes) holding field 1 (3 bytes).
  ExpectInvalid(RawEncode(*channel_, std::string("\x0a\x05\x0a\x03", 4) + "ab\xff"),
                "inputs[0].text: invalid UTF-8 at byte 2");
}

TEST_F(TokenizerSidecar, InvalidUtf8SegmentIsInvalidArgument) {
  // inputs[0].segments = [{text: "ok"}, {text: "\xc3"}]: a 2-byte character cut after its first byte.
  const std::string seg0("\x12\x04\x0a\x02ok", 6), seg1("\x12\x03\x0a\x01\xc3", 5);
  ExpectInvalid(RawEncode(*channel_, std::string("\x0a\x0b", 2) + seg0 + seg1),
                "inputs[0].segments[1].text: invalid UTF-8 at byte 0");
}

TEST_F(TokenizerSidecar, MalformedWireDataIsInvalidArgument) {
  ExpectInvalid(RawEncode(*channel_, std::string("\x0a\x05\x0a", 3)), "request: malformed protobuf wire data");
}

TEST_F(TokenizerSidecar, BadIdInAStreamEndsItWithInvalidArgument) {
  grpc::ClientContext ctx;
  auto stream = stub_->DecodeStream(&ctx);
  v1::DecodeStreamRequest req;
  req.add_ids(22557);
  ASSERT_TRUE(stream->Write(req));
  v1::DecodeStreamResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.text(), "Hello");
  req.Clear();
  req.add_ids(1526);
  req.add_ids(-1);
  stream->Write(req);
  EXPECT_FALSE(stream->Read(&resp));
  ExpectInvalid(stream->Finish(), "message 1: ids[1]: -1 is out of range [0, 32000)");
}

TEST_F(TokenizerSidecar, HealthAndReadinessAreServing) {
  EXPECT_EQ(*services::CheckHealth(**channel_, "", absl::Seconds(5)), "SERVING");
  EXPECT_EQ(*services::CheckHealth(**channel_, "readiness", absl::Seconds(5)), "SERVING");
  EXPECT_EQ(*services::CheckHealth(**channel_, "awqserve.v1.Tokenizer", absl::Seconds(5)), "SERVING");
}

TEST_F(TokenizerSidecar, ReflectionListsTheTokenizerService) {
  absl::StatusOr<std::string> reply = testing_support::ReflectionListServices(*channel_);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_NE(reply->find("awqserve.v1.Tokenizer"), std::string::npos);
}

TEST_F(TokenizerSidecar, MetricsCountTokensAndCallsByCode) {
  v1::EncodeRequest req;
  req.add_inputs()->set_text("Hello world!");
  v1::EncodeResponse resp;
  ASSERT_TRUE(Encode(req, &resp).ok());
  std::string text;
  ASSERT_FALSE(Decode({-1}, false, &text).ok());
  const std::string bad = "awqserve_rpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"/awqserve.v1.Tokenizer/Decode\"}";
  std::string body;
  for (int attempt = 0; attempt < 50 && body.find(bad) == std::string::npos; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(20));
    body = testing_http::Get(server_->metrics_port(), "/metrics");
  }
  EXPECT_NE(body.find(bad), std::string::npos) << body;
  EXPECT_NE(body.find("awqserve_tokenizer_encoded_tokens_total "), std::string::npos);
  EXPECT_NE(body.find("awqserve_tokenizer_decode_streams_active 0"), std::string::npos);
  EXPECT_NE(body.find("awqserve_rpc_duration_seconds_bucket{method=\"/awqserve.v1.Tokenizer/Encode\",le=\"0.001\"}"),
            std::string::npos);
}

// ---- the CLI against the sidecar and in process ------------------------------------------------------------------

// Runs `awqserve ARGS < input` and returns its stdout lines; *exit_code gets the exit status.
std::vector<std::string> RunCli(const std::string& args, const std::string& input, int* exit_code) {
  const std::string dir = ::testing::TempDir();
  const std::string in = dir + "/cli_in_" + std::to_string(getpid()), out = dir + "/cli_out_" + std::to_string(getpid());
  std::ofstream(in, std::ios::binary) << input;
  const int status = std::system((std::string(AWQSERVE_CLI_BIN) + " " + args + " < '" + in + "' > '" + out + "'").c_str());
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream result(out, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(result, line);) lines.push_back(line);
  return lines;
}

TEST_F(TokenizerSidecar, CliTokenizesAndDetokenizesEveryGoldenRow) {
  const std::vector<testing_golden::TextRow> rows = testing_golden::ReadTokenizerGolden();
  std::string texts, ids;
  for (const auto& row : rows) {
    texts += base::Json::MakeObject({{"text", row.text}}).Dump() + "\n";
    ids += base::Json::MakeObject({{"ids", base::Json::ArrayOf(row.ids)}}).Dump() + "\n";
  }
  for (const std::string& backend : {"--server " + server_->address(), "--model '" + testing_golden::MistralDir() + "'"}) {
    int code;
    const std::vector<std::string> encoded = RunCli("tokenize " + backend, texts, &code);
    EXPECT_EQ(code, 0) << backend;
    ASSERT_EQ(encoded.size(), rows.size()) << backend;
    const std::vector<std::string> decoded = RunCli("detokenize --skip-special " + backend, ids, &code);
    EXPECT_EQ(code, 0) << backend;
    ASSERT_EQ(decoded.size(), rows.size()) << backend;
    for (size_t i = 0; i < rows.size(); ++i) {
      absl::StatusOr<base::Json> e = base::Json::Parse(encoded[i]);
      ASSERT_TRUE(e.ok()) << encoded[i];
      EXPECT_EQ(testing_golden::IdsOf(e->Get("ids")), rows[i].ids) << backend << " row " << i;
      absl::StatusOr<base::Json> d = base::Json::Parse(decoded[i]);
      ASSERT_TRUE(d.ok()) << decoded[i];
      EXPECT_EQ(d->Get("text").AsString(), rows[i].decoded) << backend << " row " << i;
    }
  }
}

TEST_F(TokenizerSidecar, CliReportsABadIdWithItsLineAndFails) {
  int code;
  RunCli("detokenize --server " + server_->address(), "{\"ids\": [1]}\n{\"ids\": [1, 40000]}\n", &code);
  EXPECT_EQ(code, 1);
  ExpectStillServing();
}

// ---- startup failures: exit non-zero, naming the file and the reason --------------------------------------------

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(::testing::TempDir() + "/sidecar_" + name + "_" + std::to_string(getpid())) {
    EXPECT_EQ(std::system(("rm -rf '" + path_ + "' && mkdir -p '" + path_ + "'").c_str()), 0);
  }
  ~ScratchDir() { (void)std::system(("rm -rf '" + path_ + "'").c_str()); }
  void LinkModel() const {
    EXPECT_EQ(symlink((testing_golden::MistralDir() + "/tokenizer.model").c_str(), (path_ + "/tokenizer.model").c_str()),
              0);
  }
  void Write(const std::string& name, const std::string& text) const { std::ofstream(path_ + "/" + name) << text; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void ExpectStartupFailure(const std::string& dir, const std::string& message) {
  ServerProcess server;
  EXPECT_FALSE(server.Start(AWQSERVE_TOKENIZER_BIN, SidecarArgs(dir), std::chrono::seconds(30)));
  const int code = server.WaitExit();
  EXPECT_NE(code, 0);
  EXPECT_NE(code, -1) << "still running";
  EXPECT_NE(server.stderr_text().find(message), std::string::npos) << server.stderr_text();
}

TEST(TokenizerSidecarStartup, MissingModelFileExitsNonZero) {
  ScratchDir dir("missing");
  ExpectStartupFailure(dir.path(), "awqserve-tokenizer: " + dir.path() + "/tokenizer.model: no such file");
}

TEST(TokenizerSidecarStartup, CorruptModelFileExitsNonZero) {
  ScratchDir dir("corrupt");
  dir.Write("tokenizer.model", "garbage, not a protobuf");
  ExpectStartupFailure(dir.path(), dir.path() + "/tokenizer.model: not a SentencePiece model");
}

TEST(TokenizerSidecarStartup, MalformedTokenizerConfigExitsNonZero) {
  ScratchDir dir("badconfig");
  dir.LinkModel();
  dir.Write("tokenizer_config.json", "{\"bos_token\": ");
  ExpectStartupFailure(dir.path(), dir.path() + "/tokenizer_config.json: ");
}

// ---- SIGTERM: in-flight calls finish, new ones are refused, exit 0 ------------------------------------------------

TEST(TokenizerSidecarDrain, SigtermLetsAnOpenStreamFinishAndExitsZero) {
  ServerProcess server;
  std::vector<std::string> args = SidecarArgs(testing_golden::MistralDir());
  args.push_back("--drain_timeout=20s");
  ASSERT_TRUE(server.Start(AWQSERVE_TOKENIZER_BIN, args)) << server.stderr_text();
  auto channel = services::MakeChannel(server.address());
  auto stub = v1::Tokenizer::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->DecodeStream(&ctx);
  v1::DecodeStreamRequest req;
  v1::DecodeStreamResponse resp;
  req.add_ids(22557);
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));

  server.Signal(SIGTERM);
  // Health turns NOT_SERVING (or the server is already refusing calls) while the stream is still open.
  for (int attempt = 0; attempt < 100; ++attempt) {
    absl::StatusOr<std::string> h = services::CheckHealth(*channel, "readiness", absl::Seconds(1));
    if (!h.ok() || *h == "NOT_SERVING") break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  // The open stream is still served to its end.
  req.set_ids(0, 1526);
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.text(), " world");
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(server.WaitExit(std::chrono::seconds(30)), 0) << server.stderr_text();
  EXPECT_NE(server.stderr_text().find("SIGTERM: draining"), std::string::npos);
  // A new call finds nobody.
  grpc::ClientContext late;
  late.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::TokenizerInfo info;
  EXPECT_EQ(stub->Info(&late, v1::TokenizerInfoRequest(), &info).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
