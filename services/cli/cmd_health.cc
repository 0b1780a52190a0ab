// `awqserve health ADDR [--service NAME] [--wait SECONDS]`: asks a server's grpc.health.v1 service and prints the
// status. Exit 0 when SERVING, 1 otherwise; with --wait it retries until SERVING or the time is up.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/cli/command.h"
#include "services/common/client_channel.h"
#include "services/common/health_client.h"

namespace cli {
namespace {

const Command& HealthCmd();

// Between two probes while waiting: short enough for scripts, long enough not to spin.
constexpr absl::Duration kRetryInterval = absl::Milliseconds(100);

int RunHealth(const Args& args) {
  absl::StatusOr<double> wait_s = args.GetDouble("wait", 0);
  absl::StatusOr<double> timeout_s = args.GetDouble("timeout_s", 5);
  if (!wait_s.ok()) return Fail(HealthCmd(), std::string(wait_s.status().message()));
  if (!timeout_s.ok()) return Fail(HealthCmd(), std::string(timeout_s.status().message()));
  const std::string address = args.positional()[0];
  const std::string service = args.Get("service");
  auto channel = services::MakeChannel(address);
  const absl::Time give_up = absl::Now() + absl::Seconds(*wait_s);
  while (true) {
    absl::StatusOr<std::string> status = services::CheckHealth(*channel, service, absl::Seconds(*timeout_s));
    const bool serving = status.ok() && *status == "SERVING";
    if (serving || absl::Now() >= give_up) {
      if (!status.ok()) return Fail(HealthCmd(), absl::StrCat(address, ": ", status.status().ToString()));
      std::printf("%s\n", status->c_str());
      return serving ? 0 : 1;
    }
    absl::SleepFor(kRetryInterval);
  }
}

const Command& HealthCmd() {
  static const Command cmd{
      "health",
      "Ask a server's grpc.health.v1 service; prints SERVING / NOT_SERVING; exit 0 only when SERVING.",
      "awqserve health HOST:PORT [--service NAME] [--wait SECONDS]",
      {{"service", true, "service to check (default \"\": the server; \"readiness\": ready to take work)"},
       {"wait", true, "keep asking until SERVING, for up to this many seconds (default 0)"},
       {"timeout_s", true, "deadline of each check, in seconds (default 5)"}},
      1,
      1,
      &RunHealth};
  return cmd;
}

}  // namespace

const Command& HealthCommand() { return HealthCmd(); }

}  // namespace cli
