// `awqserve model inspect|synth|quantize`: checkpoint tools over inference/model (no server involved).
//
//   awqserve model inspect DIR
//   awqserve model synth --config FILE --out DIR [--seed N] [--group G] [--qk-scale X]
//   awqserve model quantize --in DIR --out DIR --group G [--no-pad]
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "inference/model/checkpoint_tools.h"
#include "inference/model/inspect.h"
#include "services/cli/command.h"

namespace cli {
namespace {

constexpr int kMaxGroupSize = 1 << 16;

const Command& Self();

std::string HumanBytes(size_t n) {
  constexpr double kMiB = 1024.0 * 1024.0, kGiB = kMiB * 1024.0;
  char buf[32];
  if (n >= kGiB) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", n / kGiB);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", n / kMiB);
  }
  return buf;
}

// One stderr line, rewritten in place, at most once per percent.
inference::ProgressFn ProgressPrinter() {
  return [last = -1](const inference::Progress& p) mutable {
    const int pct = p.bytes_total == 0 ? 100 : static_cast<int>(100.0 * p.bytes_done / p.bytes_total);
    if (pct == last && p.tensors_done != p.tensors_total) return;
    last = pct;
    std::fprintf(stderr, "\r[%3d%%] %zu/%zu tensors, %s of %s  %-56.56s", pct, p.tensors_done, p.tensors_total,
                 HumanBytes(p.bytes_done).c_str(), HumanBytes(p.bytes_total).c_str(), p.tensor.c_str());
    if (p.tensors_done == p.tensors_total) std::fprintf(stderr, "\n");
  };
}

int Inspect(const Args& args) {
  if (args.positional().size() != 2) return Fail(Self(), "usage: awqserve model inspect DIR");
  inference::InspectResult r = inference::InspectCheckpoint(args.positional()[1]);
  std::fputs(r.report.c_str(), stdout);
  return r.valid ? 0 : 1;
}

int Synth(const Args& args) {
  if (!args.Has("config") || !args.Has("out")) return Fail(Self(), "synth needs --config FILE and --out DIR");
  inference::SynthOptions o;
  o.config_path = args.Get("config");
  o.out_dir = args.Get("out");
  absl::StatusOr<int64_t> seed = args.GetInt("seed", 0, 0, INT64_MAX);
  absl::StatusOr<int64_t> group = args.GetInt("group", 0, 0, kMaxGroupSize);
  absl::StatusOr<double> qk = args.GetDouble("qk-scale", 1.0);
  for (const absl::Status& s : {seed.status(), group.status(), qk.status()}) {
    if (!s.ok()) return Fail(Self(), std::string(s.message()));
  }
  o.seed = static_cast<uint64_t>(*seed);
  o.group_size = static_cast<int>(*group);
  o.qk_scale = static_cast<float>(*qk);
  absl::Status st = inference::SynthCheckpoint(o, ProgressPrinter());
  if (!st.ok()) return Fail(Self(), std::string(st.message()));
  std::printf("wrote %s\n", o.out_dir.c_str());
  return 0;
}

int Quantize(const Args& args) {
  if (!args.Has("in") || !args.Has("out") || !args.Has("group")) {
    return Fail(Self(), "quantize needs --in DIR, --out DIR and --group G");
  }
  absl::StatusOr<int64_t> group = args.GetInt("group", 0, 1, kMaxGroupSize);
  if (!group.ok()) return Fail(Self(), std::string(group.status().message()));
  inference::QuantizeOptions o;
  o.in_dir = args.Get("in");
  o.out_dir = args.Get("out");
  o.group_size = static_cast<int>(*group);
  o.pad_intermediate = !args.Has("no-pad");
  absl::Status st = inference::QuantizeCheckpoint(o, ProgressPrinter());
  if (!st.ok()) return Fail(Self(), std::string(st.message()));
  std::printf("wrote %s\n", o.out_dir.c_str());
  return 0;
}

int RunModel(const Args& args) {
  const std::string& sub = args.positional()[0];
  if (sub == "inspect") return Inspect(args);
  if (args.positional().size() != 1) return Fail(Self(), absl::StrCat("'", sub, "' takes no positional arguments"));
  if (sub == "synth") return Synth(args);
  if (sub == "quantize") return Quantize(args);
  return Fail(Self(), absl::StrCat("unknown subcommand '", sub, "' (inspect, synth, quantize)"));
}

const Command& Self() {
  static const Command cmd{
      "model",
      "Inspect, synthesize or quantize a checkpoint folder",
      "awqserve model inspect DIR\n"
      "  awqserve model synth --config FILE --out DIR [--seed N] [--group G] [--qk-scale X]\n"
      "  awqserve model quantize --in DIR --out DIR --group G [--no-pad]",
      {{"config", true, "synth: a Hugging Face config.json (any shape, the full 7B included)"},
       {"out", true, "synth/quantize: the folder to write"},
       {"seed", true, "synth: random seed (default 0; the same seed writes the same bytes)"},
       {"group", true, "synth: AWQ group size (default: the config's, else 128); quantize: required"},
       {"qk-scale", true, "synth: multiply q_proj/k_proj scales, making attention peaked (default 1)"},
       {"in", true, "quantize: a float16/bfloat16/float32 checkpoint folder"},
       {"no-pad", false, "quantize: reject an MLP width the group does not divide instead of zero-padding it"}},
      1,
      2,
      &RunModel};
  return cmd;
}

}  // namespace

const Command& ModelCommand() { return Self(); }

}  // namespace cli
