// Encode latency of a 4 KiB English text: SentencePiece in process, our Tokenizer::Encode in process, and the
// awqserve-tokenizer sidecar over gRPC on loopback (a real child process, one client, one call at a time). Prints a
// Markdown section for bench/RESULTS.md: CPU, date, command, p50/p99 latency and tokens/s per path, and the
// sidecar's added p50 latency over in-process SentencePiece (target: under 100 µs).
//
//   tokenizer_bench [--iterations 2000] [--warmup 200] [--model_dir DIR] [--sidecar PATH] [--interleave=false]
//                   [--client_cpu N --sidecar_cpu M]
#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "awqserve/v1/tokenizer.grpc.pb.h"
#include "services/common/client_channel.h"
#include "tests/integration/server_process.h"
#include "tokenizer/tokenizer.h"

ABSL_FLAG(int, iterations, 2000, "Measured calls per path");
ABSL_FLAG(int, warmup, 200, "Unmeasured calls per path before measuring");
ABSL_FLAG(std::string, model_dir, std::string(AWQSERVE_SHARED_DIR) + "/assets/mistral-7b-instruct-v0.1",
          "Folder with tokenizer.model");
ABSL_FLAG(std::string, sidecar, AWQSERVE_TOKENIZER_BIN, "The awqserve-tokenizer binary");
ABSL_FLAG(bool, interleave, true,
          "Alternate the paths call by call (same machine load for all); false: each path in its own block (no "
          "other path's 4 KiB Encode evicts its caches, but each path sees the load of its own time window)");
ABSL_FLAG(int, client_cpu, -1, "Pin this process (the client and its gRPC threads) to this CPU; -1: no pinning");
ABSL_FLAG(int, sidecar_cpu, -1, "Pin the sidecar process (all its threads) to this CPU; -1: no pinning");

namespace {

constexpr size_t kTextBytes = 4096;  // the workload: 4 KiB of English prose

// Plain English prose (written for this benchmark), repeated and cut at a word boundary to kTextBytes.
constexpr char kParagraph[] =
    "The harbour town woke slowly in the grey light of early spring. Fishermen carried their nets down to the "
    "boats, calling to each other across the water, while the baker on the corner opened his shutters and set "
    "out trays of warm bread. Children ran along the sea wall on their way to school, counting the gulls that "
    "circled above the masts. In the library, an old clerk sorted letters that had arrived overnight: a request "
    "for maps of the northern coast, a bill for lamp oil, and a note from a traveller asking whether the ferry "
    "still ran on Sundays. By noon the wind had turned, and the first rain of the week drummed on the tin roofs "
    "of the market, sending buyers and sellers alike under the wide canvas awnings. ";

std::string EnglishText() {
  std::string text;
  while (text.size() < kTextBytes) text += kParagraph;
  text.resize(kTextBytes);
  const size_t space = text.rfind(' ');
  text.resize(space);
  while (text.size() < kTextBytes) text += '.';
  return text;
}

struct PathResult {
  std::string name;
  double p50_us = 0, p99_us = 0, tokens_per_s = 0;
  size_t tokens = 0;
};

struct Path {
  std::string name;
  std::function<size_t()> call;  // one call; returns the number of tokens produced
};

// Times every path. Interleaved: call by call (path 1, path 2, ..., path 1, ...) so that all of them see the same
// machine load, warm-up rounds first, then `iterations` measured rounds. Not interleaved: each path alone, its
// warm-up calls then its measured calls. tokens/s = tokens / summed call time.
std::vector<PathResult> Measure(const std::vector<Path>& paths, int warmup, int iterations, bool interleave) {
  std::vector<std::vector<double>> us(paths.size());
  std::vector<size_t> tokens(paths.size());
  auto timed = [&](size_t k) {
    const auto t0 = std::chrono::steady_clock::now();
    tokens[k] = paths[k].call();
    us[k].push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  };
  if (interleave) {
    for (int i = 0; i < warmup; ++i) {
      for (const Path& p : paths) p.call();
    }
    for (int i = 0; i < iterations; ++i) {
      for (size_t k = 0; k < paths.size(); ++k) timed(k);
    }
  } else {
    for (size_t k = 0; k < paths.size(); ++k) {
      for (int i = 0; i < warmup; ++i) paths[k].call();
      for (int i = 0; i < iterations; ++i) timed(k);
    }
  }
  std::vector<PathResult> results;
  for (size_t k = 0; k < paths.size(); ++k) {
    double total_us = 0;
    for (double t : us[k]) total_us += t;
    std::sort(us[k].begin(), us[k].end());
    PathResult r;
    r.name = paths[k].name;
    r.tokens = tokens[k];
    r.p50_us = us[k][us[k].size() / 2];
    r.p99_us = us[k][std::min(us[k].size() - 1, us[k].size() * 99 / 100)];
    r.tokens_per_s = static_cast<double>(tokens[k]) * iterations / (total_us * 1e-6);
    results.push_back(r);
  }
  return results;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  int cores = 0;
  std::string model = "unknown";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      ++cores;
    }
  }
  return absl::StrFormat("%s (%d logical CPUs)", model, cores);
}

// Pins the calling thread (and what it forks or spawns afterwards) to `cpu`; no-op for cpu < 0.
bool PinTo(int cpu) {
  if (cpu < 0) return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) == 0) return true;
  std::fprintf(stderr, "tokenizer_bench: cannot pin to CPU %d\n", cpu);
  return false;
}

std::string Placement(int client_cpu, int sidecar_cpu) {
  auto where = [](int cpu) { return cpu < 0 ? std::string("any CPU") : absl::StrCat("CPU ", cpu); };
  return absl::StrCat("client on ", where(client_cpu), ", sidecar on ", where(sidecar_cpu));
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> command(argv, argv + argc);
  absl::ParseCommandLine(argc, argv);
  const int iterations = absl::GetFlag(FLAGS_iterations), warmup = absl::GetFlag(FLAGS_warmup);
  const std::string model_dir = absl::GetFlag(FLAGS_model_dir);
  const std::string text = EnglishText();

  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tok = tokenizer::Tokenizer::Load(model_dir);
  if (!tok.ok()) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", std::string(tok.status().message()).c_str());
    return 1;
  }
  const int client_cpu = absl::GetFlag(FLAGS_client_cpu), sidecar_cpu = absl::GetFlag(FLAGS_sidecar_cpu);
  const bool interleave = absl::GetFlag(FLAGS_interleave);
  cpu_set_t all_cpus;
  sched_getaffinity(0, sizeof(all_cpus), &all_cpus);
  // The sidecar inherits this thread's CPU mask when it is forked; then this thread takes its own.
  if (!PinTo(sidecar_cpu)) return 1;
  testing_process::ServerProcess sidecar;
  if (!sidecar.Start(absl::GetFlag(FLAGS_sidecar),
                     {"--model_dir", model_dir, "--listen", "127.0.0.1:0", "--metrics_listen", "none"})) {
    std::fprintf(stderr, "tokenizer_bench: the sidecar did not start: %s\n", sidecar.stderr_text().c_str());
    return 1;
  }
  if (client_cpu >= 0 ? !PinTo(client_cpu) : sched_setaffinity(0, sizeof(all_cpus), &all_cpus) != 0) return 1;
  auto stub = awqserve::v1::Tokenizer::NewStub(services::MakeChannel(sidecar.address()));
  awqserve::v1::EncodeRequest request;
  request.add_inputs()->set_text(text);

  std::vector<Path> paths;
  paths.push_back({"sentencepiece EncodeIds, in process", [&] {
    std::vector<int> ids;
    std::string error;
    (*tok)->sentencepiece().EncodeIds(text, &ids, &error);
    return ids.size() + 1;  // + BOS, to compare like with like
  }});
  paths.push_back({"awq_tokenizer Encode, in process", [&] {
    return (*tok)->Encode(text, /*add_bos=*/true, /*parse_special=*/false)->size();
  }});
  paths.push_back({"awqserve-tokenizer Encode, gRPC on loopback", [&] {
    grpc::ClientContext ctx;
    awqserve::v1::EncodeResponse response;
    const grpc::Status s = stub->Encode(&ctx, request, &response);
    if (!s.ok() || response.results_size() != 1) {
      std::fprintf(stderr, "tokenizer_bench: Encode failed: %s\n", s.error_message().c_str());
      std::exit(1);
    }
    return static_cast<size_t>(response.results(0).ids_size());
  }});
  awqserve::v1::EncodeRequest small;
  small.add_inputs()->set_text("Hello world!");
  paths.push_back({"awqserve-tokenizer Encode of \"Hello world!\", gRPC on loopback", [&] {
    grpc::ClientContext ctx;
    awqserve::v1::EncodeResponse response;
    if (!stub->Encode(&ctx, small, &response).ok()) std::exit(1);
    return size_t{0};
  }});
  paths.push_back({"awqserve-tokenizer Info (empty call), gRPC on loopback", [&] {
    grpc::ClientContext ctx;
    awqserve::v1::TokenizerInfo info;
    if (!stub->Info(&ctx, awqserve::v1::TokenizerInfoRequest(), &info).ok()) std::exit(1);
    return size_t{0};
  }});
  const std::vector<PathResult> results = Measure(paths, warmup, iterations, interleave);
  const int exit_code = sidecar.Stop(SIGTERM);

  std::printf("## tokenizer: Encode of a 4 KiB English text (bench/tokenizer)\n\n");
  std::printf("- CPU: %s; load average at the end: %s (the machine is shared, so p99 is noisy)\n",
              CpuModel().c_str(), LoadAverage().c_str());
  std::printf("- date: %s\n", absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()).c_str());
  std::printf("- command: `%s`\n", absl::StrJoin(command, " ").c_str());
  std::printf("- workload: %zu bytes, %zu tokens (BOS included); %d calls per path after %d warm-up calls, %s; "
              "one client, one call at a time; %s; sidecar exit status after SIGTERM: %d\n\n",
              text.size(), results[0].tokens, iterations, warmup,
              interleave ? "paths interleaved call by call" : "each path in its own block",
              Placement(client_cpu, sidecar_cpu).c_str(), exit_code);
  std::printf("| path | p50 µs | p99 µs | tokens/s |\n|---|---:|---:|---:|\n");
  for (const PathResult& r : results) {
    std::printf("| %s | %.1f | %.1f | %s |\n", r.name.c_str(), r.p50_us, r.p99_us,
                r.tokens == 0 ? "-" : absl::StrFormat("%.0f", r.tokens_per_s).c_str());
  }
  const double added = results[2].p50_us - results[0].p50_us;
  std::printf("\nThe sidecar adds %.1f µs at p50 over in-process SentencePiece (target: < 100 µs): %s. An empty "
              "call's round trip is %.1f µs of that, a 3-token Encode's %.1f µs.\n",
              added, added < 100 ? "met" : "NOT met", results[4].p50_us, results[3].p50_us);
  return 0;
}
