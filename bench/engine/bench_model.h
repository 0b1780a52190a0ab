// Shared by the engine bench and the full-width logits tool: a synthetic Mistral-7B-shaped AWQ checkpoint
// (`awqserve model synth`'s SynthCheckpoint, with the layer count overridden) made once into a folder, and a
// minimal flag parser. Bench-only code.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace bench {

// Writes DIR/config.json (BASE_CONFIG with num_hidden_layers = layers) and a random AWQ checkpoint, unless
// DIR/model.safetensors already exists.
[[nodiscard]] absl::Status EnsureSynthCheckpoint(const std::string& base_config, int layers, float qk_scale,
                                                 const std::string& dir);

// --name value pairs.
std::map<std::string, std::string> ParseFlags(int argc, char** argv);
std::vector<int> ParseInts(const std::string& csv);

}  // namespace bench
