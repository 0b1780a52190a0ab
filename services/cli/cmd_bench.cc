// `awqserve bench`: a serving benchmark in the manner of vLLM's benchmark_serving. M requests, N at a time, each
// a prompt of about P tokens asking for exactly T tokens (ignore_eos), against the gateway (Complete), the
// generation service directly (Generate), or both in one run to show what the gateway costs per token.
// Reports TTFT, TPOT ((e2e - TTFT) / (tokens - 1)) and inter-token latency (every gap between streamed messages)
// as mean / p50 / p99 in milliseconds, plus requests/s and output tokens/s over the whole run.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "awqserve/v1/gateway.grpc.pb.h"
#include "awqserve/v1/generation.grpc.pb.h"
#include "services/cli/command.h"
#include "services/common/client_channel.h"
#include "services/common/status.h"

namespace cli {
namespace {

using Clock = std::chrono::steady_clock;

const Command& BenchCmd();

// Words that are one token each (after a space) in both Mistral's and tiny-stories' vocabularies, cycled to build
// prompts of exactly P tokens.
const char* const kWords[] = {"the", "on",   "a",     "big",   "and",   "to",  "with", "her",  "friend", "in",  "he",
                              "she", "was", "day",   "time",  "there", "little", "said", "play", "happy", "saw", "mom"};
constexpr int kNumWords = sizeof(kWords) / sizeof(kWords[0]);

struct Sample {
  bool ok = false;
  std::string error;
  double ttft_s = 0, e2e_s = 0;
  std::vector<double> gaps_s;  // between consecutive messages after the first
  uint32_t prompt_tokens = 0, output_tokens = 0;
  std::vector<int32_t> prompt_ids;  // gateway runs: what generation was sent (for the direct run)
};

struct Config {
  int concurrency = 1, requests = 1, prompt_len = 32, max_tokens = 64;
  float temperature = 0;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / v.size();
}

std::string PromptText(int index, int words) {
  std::string text;
  for (int i = 0; i < words; ++i) absl::StrAppend(&text, i == 0 ? "" : " ", kWords[(index + i) % kNumWords]);
  return text;
}

// Times one streamed call: TTFT at the first message that carries tokens, the gap before every later one, and
// end to end at Finish.
class StreamTimer {
 public:
  void OnTokens(Sample* s) {
    const Clock::time_point now = Clock::now();
    if (prev_ == Clock::time_point{}) {
      s->ttft_s = std::chrono::duration<double>(now - start_).count();
    } else {
      s->gaps_s.push_back(std::chrono::duration<double>(now - prev_).count());
    }
    prev_ = now;
  }
  void Finish(const grpc::Status& status, Sample* s) const {
    s->e2e_s = std::chrono::duration<double>(Clock::now() - start_).count();
    s->ok = status.ok();
    if (!s->ok) s->error = services::FromGrpcStatus(status).ToString();
  }

 private:
  const Clock::time_point start_ = Clock::now();
  Clock::time_point prev_{};
};

Sample RunGateway(awqserve::v1::TextGeneration::Stub& stub, const Config& c, int index) {
  awqserve::v1::CompleteRequest req;
  req.set_prompt(PromptText(index, c.prompt_len - 1));  // BOS makes it P
  req.mutable_options()->set_max_tokens(c.max_tokens);
  req.mutable_options()->set_ignore_eos(true);
  req.mutable_options()->set_return_token_ids(true);
  req.mutable_options()->mutable_sampling()->set_temperature(c.temperature);
  req.mutable_options()->mutable_sampling()->set_seed(index);
  Sample s;
  grpc::ClientContext ctx;
  StreamTimer timer;
  auto reader = stub.Complete(&ctx, req);
  awqserve::v1::TextGenerationResponse m;
  while (reader->Read(&m)) {
    if (m.prompt_token_ids_size() > 0) s.prompt_ids.assign(m.prompt_token_ids().begin(), m.prompt_token_ids().end());
    if (m.usage().completion_tokens() > 0) {
      s.prompt_tokens = m.usage().prompt_tokens();
      s.output_tokens = m.usage().completion_tokens();
    }
    if (!m.text().empty()) timer.OnTokens(&s);
  }
  timer.Finish(reader->Finish(), &s);
  return s;
}

Sample RunGeneration(awqserve::v1::Generation::Stub& stub, const Config& c, const std::vector<int32_t>& prompt,
                     int index) {
  awqserve::v1::GenerateRequest req;
  *req.mutable_prompt_ids() = {prompt.begin(), prompt.end()};
  req.set_max_tokens(c.max_tokens);
  req.set_ignore_eos(true);
  req.mutable_sampling()->set_temperature(c.temperature);
  req.mutable_sampling()->set_seed(index);
  Sample s;
  grpc::ClientContext ctx;
  StreamTimer timer;
  auto reader = stub.Generate(&ctx, req);
  awqserve::v1::GenerateResponse m;
  while (reader->Read(&m)) {
    if (m.has_usage()) {
      s.prompt_tokens = m.usage().prompt_tokens();
      s.output_tokens = m.usage().completion_tokens();
    }
    if (m.ids_size() > 0) timer.OnTokens(&s);
  }
  timer.Finish(reader->Finish(), &s);
  return s;
}

struct Summary {
  double mean_tpot_ms = 0, output_tok_s = 0;
};

// Runs `one(index)` for every request with `concurrency` workers, appending to *samples; returns the wall time.
template <typename Fn>
double Pass(const Config& c, Fn one, std::vector<Sample>* samples) {
  std::vector<Sample> pass(c.requests);
  std::atomic<int> next{0};
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < c.concurrency; ++w) {
    workers.emplace_back([&] {
      for (int i = next++; i < c.requests; i = next++) pass[i] = one(i);
    });
  }
  for (std::thread& t : workers) t.join();
  const double duration = std::chrono::duration<double>(Clock::now() - start).count();
  samples->insert(samples->end(), pass.begin(), pass.end());
  return duration;
}

// Prints the report of all passes of one target.
Summary Report(const std::string& title, const Config& c, const std::vector<Sample>& samples, double duration,
               int rounds) {
  std::vector<double> ttft, tpot, itl;
  int ok = 0;
  uint64_t out_tokens = 0, in_tokens = 0;
  std::string first_error;
  for (const Sample& s : samples) {
    if (!s.ok) {
      if (first_error.empty()) first_error = s.error;
      continue;
    }
    ++ok;
    out_tokens += s.output_tokens;
    in_tokens += s.prompt_tokens;
    ttft.push_back(s.ttft_s * 1e3);
    if (s.output_tokens > 1) tpot.push_back((s.e2e_s - s.ttft_s) * 1e3 / (s.output_tokens - 1));
    for (double g : s.gaps_s) itl.push_back(g * 1e3);
  }
  std::printf("== %s\n", title.c_str());
  std::printf("%-28s %d ok, %d failed (concurrency %d, %d round(s))\n", "requests", ok,
              static_cast<int>(samples.size()) - ok, c.concurrency, rounds);
  if (!first_error.empty()) std::printf("%-28s %s\n", "first error", first_error.c_str());
  std::printf("%-28s %.3f\n", "duration (s)", duration);
  std::printf("%-28s %.1f\n", "mean prompt tokens", ok ? static_cast<double>(in_tokens) / ok : 0.0);
  std::printf("%-28s %.1f\n", "mean output tokens", ok ? static_cast<double>(out_tokens) / ok : 0.0);
  std::printf("%-28s %.2f\n", "requests/s", ok / duration);
  std::printf("%-28s %.1f\n", "output tokens/s", out_tokens / duration);
  auto row = [](const char* name, const std::vector<double>& v) {
    std::printf("%-28s mean %.3f  p50 %.3f  p99 %.3f\n", name, Mean(v), Percentile(v, 0.5), Percentile(v, 0.99));
  };
  row("TTFT (ms)", ttft);
  row("TPOT (ms)", tpot);
  row("inter-token latency (ms)", itl);
  std::fflush(stdout);
  return Summary{Mean(tpot), out_tokens / duration};
}

int RunBench(const Args& args) {
  Config c;
  auto get = [&](const char* flag, int64_t fallback, int64_t lo, int64_t hi, int* out) -> bool {
    absl::StatusOr<int64_t> v = args.GetInt(flag, fallback, lo, hi);
    if (!v.ok()) {
      Fail(BenchCmd(), std::string(v.status().message()));
      return false;
    }
    *out = static_cast<int>(*v);
    return true;
  };
  if (!get("concurrency", 1, 1, 4096, &c.concurrency) || !get("requests", 16, 1, 1000000, &c.requests) ||
      !get("prompt-len", 32, 1, 1 << 20, &c.prompt_len) || !get("max-tokens", 64, 1, 1 << 20, &c.max_tokens)) {
    return 1;
  }
  absl::StatusOr<double> temperature = args.GetDouble("temperature", 0);
  if (!temperature.ok()) return Fail(BenchCmd(), std::string(temperature.status().message()));
  c.temperature = static_cast<float>(*temperature);
  const std::string gateway = args.Get("server"), generation = args.Get("generation");
  if (gateway.empty() && generation.empty()) return Fail(BenchCmd(), "--server or --generation: one is required");

  int rounds = 1;
  if (!get("rounds", 1, 1, 1000, &rounds)) return 1;

  std::unique_ptr<awqserve::v1::TextGeneration::Stub> gw_stub;
  std::unique_ptr<awqserve::v1::Generation::Stub> gen_stub;
  if (!gateway.empty()) gw_stub = awqserve::v1::TextGeneration::NewStub(services::MakeChannel(gateway));
  if (!generation.empty()) gen_stub = awqserve::v1::Generation::NewStub(services::MakeChannel(generation));
  // Direct runs send the very ids the gateway sent (learnt from its first round), else BOS and ids from the upper
  // half of a 512-token vocabulary.
  std::vector<std::vector<int32_t>> prompts(c.requests);
  std::vector<Sample> gw_samples, gen_samples;
  double gw_time = 0, gen_time = 0;
  // Rounds alternate the two targets so that both see the same machine load.
  for (int r = 0; r < rounds; ++r) {
    if (gw_stub) gw_time += Pass(c, [&](int i) { return RunGateway(*gw_stub, c, i); }, &gw_samples);
    if (!gen_stub) continue;
    for (int i = 0; i < c.requests; ++i) {
      if (!prompts[i].empty()) continue;
      if (!gw_samples.empty() && !gw_samples[i].prompt_ids.empty()) {
        prompts[i] = gw_samples[i].prompt_ids;
      } else {
        prompts[i].push_back(1);
        for (int k = 1; k < c.prompt_len; ++k) prompts[i].push_back(256 + (i * 31 + k * 7) % 256);
      }
    }
    gen_time += Pass(c, [&](int i) { return RunGeneration(*gen_stub, c, prompts[i], i); }, &gen_samples);
  }
  Summary gw, gen;
  if (gw_stub) gw = Report(absl::StrCat("gateway ", gateway, " (Complete)"), c, gw_samples, gw_time, rounds);
  if (gen_stub) {
    gen = Report(absl::StrCat("generation ", generation, " (Generate, direct)"), c, gen_samples, gen_time, rounds);
  }
  if (gw_stub && gen_stub && gen.mean_tpot_ms > 0 && gen.output_tok_s > 0) {
    std::printf("== gateway cost per token\n");
    std::printf("%-28s %+.2f%% (%.3f ms vs %.3f ms)\n", "mean TPOT", 100 * (gw.mean_tpot_ms / gen.mean_tpot_ms - 1),
                gw.mean_tpot_ms, gen.mean_tpot_ms);
    std::printf("%-28s %+.2f%% (%.1f vs %.1f)\n", "output tokens/s", 100 * (gw.output_tok_s / gen.output_tok_s - 1),
                gw.output_tok_s, gen.output_tok_s);
  }
  for (const auto* v : {&gw_samples, &gen_samples}) {
    for (const Sample& s : *v) {
      if (!s.ok) return 1;
    }
  }
  return 0;
}

const Command& BenchCmd() {
  static const Command cmd{
      "bench",
      "Serving benchmark (as vLLM's benchmark_serving): TTFT, TPOT, inter-token latency p50/p99, requests/s and "
      "output tokens/s against the gateway, the generation service directly, or both (the gateway's cost per token).",
      "awqserve bench [--server GATEWAY] [--generation GENERATION] --concurrency N --requests M --prompt-len P "
      "--max-tokens T",
      {{"server", true, "the gateway, HOST:PORT (Complete requests)"},
       {"generation", true, "the generation service, HOST:PORT (Generate requests; with --server: the same prompt ids)"},
       {"concurrency", true, "requests in flight at once (default 1)"},
       {"requests", true, "requests in all (default 16)"},
       {"prompt-len", true, "prompt tokens, BOS included (default 32)"},
       {"max-tokens", true, "tokens generated per request, exactly (ignore_eos; default 64)"},
       {"temperature", true, "sampling temperature (default 0: greedy)"},
       {"rounds", true, "with both targets: alternate them this many times, M requests each (default 1)"}},
      0,
      0,
      &RunBench};
  return cmd;
}

}  // namespace

const Command& BenchCommand() { return BenchCmd(); }

}  // namespace cli
