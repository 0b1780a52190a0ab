#include "services/gateway/wire_diagnosis.h"

#include <string>

#include "awqserve/v1/gateway.pb.h"
#include "gtest/gtest.h"

namespace gateway {
namespace {

// A length-delimited field: tag, length, bytes (all lengths here are below 128).
std::string Field(int number, const std::string& bytes) {
  return std::string(1, static_cast<char>(number << 3 | 2)) + static_cast<char>(bytes.size()) + bytes;
}

TEST(WireDiagnosis, NamesTheNestedRepeatedStringWithInvalidUtf8) {
  // ChatRequest { messages (1) [ {role (1) "user", content (2) "hi"}, {role "assistant", content "ok \xC3"} ] }
  const std::string wire = Field(1, Field(1, "user") + Field(2, "hi")) +
                           Field(1, Field(1, "assistant") + Field(2, std::string("ok \xC3", 4)));
  awqserve::v1::ChatRequest parsed;
  ASSERT_FALSE(parsed.ParseFromString(wire));  // protobuf refuses it: that is why the gateway diagnoses
  absl::Status s = DiagnoseUnparsable(*awqserve::v1::ChatRequest::descriptor(), wire);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "messages[1].content: not valid UTF-8 (bad byte at offset 3)");
}

TEST(WireDiagnosis, NamesAStopStringInsideOptions) {
  // CompleteRequest { prompt (1) "x", options (2) { stop (3) ["fine", "\xFF"] } }
  const std::string wire = Field(1, "x") + Field(2, Field(3, "fine") + Field(3, "\xFF"));
  absl::Status s = DiagnoseUnparsable(*awqserve::v1::CompleteRequest::descriptor(), wire);
  EXPECT_EQ(s.message(), "options.stop[1]: not valid UTF-8 (bad byte at offset 0)");
}

TEST(WireDiagnosis, GarbageIsNamedAsSuch) {
  absl::Status s = DiagnoseUnparsable(*awqserve::v1::CompleteRequest::descriptor(), std::string("\x0a\x7f", 2));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "request: not a valid awqserve.v1.CompleteRequest");
}

}  // namespace
}  // namespace gateway
