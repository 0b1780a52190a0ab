#include "bench/engine/bench_model.h"

#include <sys/stat.h>

#include <cstdio>
#include <sstream>

#include "base/file.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "inference/model/checkpoint_tools.h"

namespace bench {

absl::Status EnsureSynthCheckpoint(const std::string& base_config, int layers, float qk_scale, const std::string& dir) {
  struct stat st;
  if (stat((dir + "/model.safetensors").c_str(), &st) == 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(base::Json cfg, base::ReadJsonFile(base_config));
  cfg.Set("num_hidden_layers", base::Json(layers));
  mkdir(dir.c_str(), 0755);
  const std::string tmp_config = dir + "/base_config.json";
  RETURN_IF_ERROR(inference::WriteConfigJson(tmp_config, cfg));
  inference::SynthOptions o;
  o.config_path = tmp_config;
  o.out_dir = dir;
  o.seed = 7;
  o.qk_scale = qk_scale;
  std::fprintf(stderr, "synthesizing a %d-layer checkpoint into %s\n", layers, dir.c_str());
  return inference::SynthCheckpoint(o);
}

std::map<std::string, std::string> ParseFlags(int argc, char** argv) {
  std::map<std::string, std::string> f;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) == 0) k = k.substr(2);
    f[k] = argv[i + 1];
  }
  return f;
}

std::vector<int> ParseInts(const std::string& csv) {
  std::vector<int> v;
  std::stringstream ss(csv);
  std::string item;
  while (std::getline(ss, item, ',')) if (!item.empty()) v.push_back(std::stoi(item));
  return v;
}

}  // namespace bench
