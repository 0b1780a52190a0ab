#include "services/common/client_channel.h"

#include "absl/strings/str_cat.h"

namespace services {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, int max_message_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

absl::Status WaitForChannel(grpc::Channel& channel, const std::string& target, absl::Duration timeout) {
  if (channel.WaitForConnected(absl::ToChronoTime(absl::Now() + timeout))) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat(target, ": not reachable within ", absl::FormatDuration(timeout)));
}

}  // namespace services
