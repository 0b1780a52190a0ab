// services/common: status mapping, the server bootstrap (port 0, health, readiness), the metrics interceptor and
// endpoint, the message-size limit, and draining — against a real gRPC server on loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "awqserve/v1/tokenizer.grpc.pb.h"
#include "services/common/client_channel.h"
#include "services/common/health_client.h"
#include "services/common/metrics_http_server.h"
#include "services/common/service_host.h"
#include "services/common/shutdown_signal.h"
#include "services/common/status.h"
#include "tests/unit/services/http_get.h"

namespace services {
namespace {

namespace v1 = awqserve::v1;

TEST(StatusMapping, EveryCodeRoundTripsWithItsMessage) {
  for (int c = 0; c <= 16; ++c) {
    const auto code = static_cast<absl::StatusCode>(c);
    const absl::Status s(code, code == absl::StatusCode::kOk ? "" : "field: reason");
    const grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), c);
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
  EXPECT_EQ(ToGrpcStatus(absl::InvalidArgumentError("ids[0]: bad")).error_message(), "ids[0]: bad");
}

TEST(WithPort, ReplacesThePortOfIpv4AndIpv6Addresses) {
  EXPECT_EQ(WithPort("127.0.0.1:0", 41234), "127.0.0.1:41234");
  EXPECT_EQ(WithPort("[::1]:0", 7), "[::1]:7");
  EXPECT_EQ(WithPort("0.0.0.0:50053", 50053), "0.0.0.0:50053");
}

// A stand-in Tokenizer service: Info answers, Decode fails with INVALID_ARGUMENT, Encode waits for `release`.
class FakeTokenizer : public v1::Tokenizer::CallbackService {
 public:
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* ctx, const v1::TokenizerInfoRequest*,
                                 v1::TokenizerInfo* info) override {
    info->set_vocab_size(7);
    return FinishUnary(ctx, absl::OkStatus());
  }
  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* ctx, const v1::DecodeRequest*,
                                   v1::DecodeResponse*) override {
    return FinishUnary(ctx, absl::InvalidArgumentError("ids[0]: out of range"));
  }
  grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* ctx, const v1::EncodeRequest*,
                                   v1::EncodeResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    entered.Notify();
    std::thread([this, reactor, resp] {
      release.WaitForNotification();
      resp->add_results()->add_ids(42);
      reactor->Finish(grpc::Status::OK);
    }).detach();
    return reactor;
  }
  absl::Notification entered, release;
};

class ServiceHostTest : public ::testing::Test {
 protected:
  void StartHost(bool ready, ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    options.metrics_listen = "127.0.0.1:0";
    host_ = std::make_unique<ServiceHost>(options);
    host_->AddService(&fake_, v1::Tokenizer::service_full_name());
    ASSERT_TRUE(host_->Start(ready).ok());
    channel_ = MakeChannel(host_->address());
    stub_ = v1::Tokenizer::NewStub(channel_);
  }
  std::string Health(const std::string& service) {
    absl::StatusOr<std::string> s = CheckHealth(*channel_, service, absl::Seconds(5));
    return s.ok() ? *s : std::string(absl::StatusCodeToString(s.status().code()));
  }
  FakeTokenizer fake_;
  std::unique_ptr<ServiceHost> host_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Tokenizer::Stub> stub_;
};

TEST_F(ServiceHostTest, PortZeroPicksAFreePortAndServes) {
  StartHost(/*ready=*/true);
  EXPECT_GT(host_->port(), 0);
  EXPECT_EQ(host_->address(), "127.0.0.1:" + std::to_string(host_->port()));
  grpc::ClientContext ctx;
  v1::TokenizerInfo info;
  ASSERT_TRUE(stub_->Info(&ctx, v1::TokenizerInfoRequest(), &info).ok());
  EXPECT_EQ(info.vocab_size(), 7);
}

TEST_F(ServiceHostTest, ReadinessAndServiceStatusFollowSetReady) {
  StartHost(/*ready=*/false);
  EXPECT_EQ(Health(""), "SERVING");
  EXPECT_EQ(Health(kReadinessService), "NOT_SERVING");
  EXPECT_EQ(Health("awqserve.v1.Tokenizer"), "NOT_SERVING");
  host_->SetReady(true);
  EXPECT_EQ(Health(kReadinessService), "SERVING");
  EXPECT_EQ(Health("awqserve.v1.Tokenizer"), "SERVING");
  EXPECT_EQ(Health("no.such.Service"), "NOT_FOUND");
}

TEST_F(ServiceHostTest, MetricsCountCallsByMethodAndCode) {
  StartHost(true);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    v1::TokenizerInfo info;
    ASSERT_TRUE(stub_->Info(&ctx, v1::TokenizerInfoRequest(), &info).ok());
  }
  grpc::ClientContext ctx;
  v1::DecodeResponse resp;
  EXPECT_EQ(stub_->Decode(&ctx, v1::DecodeRequest(), &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::string ok_line = "awqserve_rpc_requests_total{code=\"OK\",method=\"/awqserve.v1.Tokenizer/Info\"} 2";
  const std::string bad_line =
      "awqserve_rpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"/awqserve.v1.Tokenizer/Decode\"} 1";
  std::string body;
  // The counter is updated when gRPC releases the call, just after the client has its reply.
  for (int attempt = 0; attempt < 50; ++attempt) {
    body = testing_http::Get(host_->metrics().port(), "/metrics");
    if (body.find(ok_line) != std::string::npos && body.find(bad_line) != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_NE(body.find(ok_line), std::string::npos) << body;
  EXPECT_NE(body.find(bad_line), std::string::npos) << body;
  EXPECT_NE(body.find("awqserve_rpc_duration_seconds_bucket{method=\"/awqserve.v1.Tokenizer/Info\",le=\"0.001\"}"),
            std::string::npos);
  // A streamed generation of minutes still lands below +Inf.
  EXPECT_NE(body.find("awqserve_rpc_duration_seconds_bucket{method=\"/awqserve.v1.Tokenizer/Info\",le=\"600\"}"),
            std::string::npos);
  EXPECT_NE(body.find("awqserve_rpc_requests_in_flight{method=\"/awqserve.v1.Tokenizer/Info\"} 0"),
            std::string::npos);
}

TEST_F(ServiceHostTest, MessagesOverTheLimitAreRejected) {
  ServerOptions options;
  options.max_message_bytes = 1024;
  StartHost(true, options);
  v1::EncodeRequest req;
  req.add_inputs()->set_text(std::string(2048, 'a'));
  grpc::ClientContext ctx;
  v1::EncodeResponse resp;
  EXPECT_EQ(stub_->Encode(&ctx, req, &resp).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(ServiceHostTest, DrainFinishesInFlightCallsAndRefusesNewOnes) {
  ServerOptions options;
  options.shutdown_delay = absl::Milliseconds(300);
  StartHost(true, options);
  grpc::Status in_flight_status;
  v1::EncodeResponse in_flight_resp;
  std::thread call([&] {
    grpc::ClientContext ctx;
    in_flight_status = stub_->Encode(&ctx, v1::EncodeRequest(), &in_flight_resp);
  });
  fake_.entered.WaitForNotification();
  std::thread drain([&] { host_->Drain(); });
  // During shutdown_delay: health says NOT_SERVING while calls are still accepted.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(Health(""), "NOT_SERVING");
  EXPECT_EQ(Health(kReadinessService), "NOT_SERVING");
  fake_.release.Notify();
  call.join();
  drain.join();
  EXPECT_TRUE(in_flight_status.ok()) << in_flight_status.error_message();
  ASSERT_EQ(in_flight_resp.results_size(), 1);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::TokenizerInfo info;
  EXPECT_EQ(stub_->Info(&ctx, v1::TokenizerInfoRequest(), &info).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ServiceHostTest, RequestShutdownEndsServeUntilShutdownWithExitCodeZero) {
  StartHost(true);
  std::thread trigger([] {
    absl::SleepFor(absl::Milliseconds(50));
    RequestShutdown("test");
  });
  EXPECT_EQ(host_->ServeUntilShutdown(), 0);
  trigger.join();
}

TEST(ServiceHostErrors, AnAddressInUseNamesTheFlag) {
  ServiceHost first(ServerOptions{});
  ASSERT_TRUE(first.Start(true).ok());
  ServerOptions options;
  options.listen = first.address();
  ServiceHost second(options);
  absl::Status s = second.Start(true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("listen: cannot bind '" + first.address() + "'"), std::string::npos) << s;
}

TEST(MetricsHttpServer, ServesOnlyGetMetricsAndRejectsAPortInUse) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("awqserve_test_total").Help("test").Register(*registry).Add({}).Increment(3);
  MetricsHttpServer server(registry);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  EXPECT_NE(testing_http::Get(server.port(), "/metrics").find("awqserve_test_total 3"), std::string::npos);
  EXPECT_EQ(testing_http::Get(server.port(), "/other"), "only /metrics is served\n");
  MetricsHttpServer second(registry);
  absl::Status s = second.Start("127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("metrics_listen: cannot listen on '127.0.0.1:"), std::string::npos) << s;
  server.Stop();
  EXPECT_EQ(testing_http::Get(server.port(), "/metrics"), "");
}

}  // namespace
}  // namespace services
