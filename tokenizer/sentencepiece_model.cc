#include "tokenizer/sentencepiece_model.h"

#include <dlfcn.h>
#include <unistd.h>

#include <mutex>

#include "tokenizer/sentencepiece_module_abi.h"

namespace tokenizer {
namespace {

constexpr char kModuleFile[] = "libawq_sentencepiece.so";

struct ModuleApi {
  decltype(&AwqSentencePieceLoad) load = nullptr;
  decltype(&AwqSentencePieceFree) free = nullptr;
  decltype(&AwqSentencePieceEncode) encode = nullptr;
  decltype(&AwqSentencePieceDecode) decode = nullptr;
  std::string error;  // why the module could not be loaded
};

std::string ExecutableDir() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "";
  std::string exe(path, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

std::vector<std::string> Candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("AWQSERVE_SENTENCEPIECE_MODULE"); env != nullptr && *env != '\0') {
    paths.push_back(env);
  }
  const std::string dir = ExecutableDir();
  if (!dir.empty()) {
    paths.push_back(dir + "/" + kModuleFile);
    paths.push_back(dir + "/../lib/" + kModuleFile);
  }
#ifdef AWQ_SENTENCEPIECE_MODULE_PATH
  paths.push_back(AWQ_SENTENCEPIECE_MODULE_PATH);
#endif
  return paths;
}

int DlopenFlags() {
  int flags = RTLD_NOW | RTLD_LOCAL;
#if !defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer refuses RTLD_DEEPBIND. Without it, SentencePiece binds to the process's libprotobuf when one
  // is loaded, and protobuf aborts on the version mismatch: under sanitizers only programs that link no protobuf
  // (tokenizer_test) can load a model; the services and the CLI need a build without sanitizers.
  flags |= RTLD_DEEPBIND;
#endif
  return flags;
}

const ModuleApi& Api() {
  static ModuleApi api;
  static std::once_flag once;
  std::call_once(once, [] {
    void* module = nullptr;
    std::string tried;
    for (const std::string& path : Candidates()) {
      if (access(path.c_str(), R_OK) != 0) {
        tried += " " + path;
        continue;
      }
      module = dlopen(path.c_str(), DlopenFlags());
      if (module == nullptr) {
        api.error = std::string("cannot load ") + path + ": " + dlerror();
        return;
      }
      break;
    }
    if (module == nullptr) {
      api.error = std::string("cannot find ") + kModuleFile + " (looked at" + tried +
                  "; set AWQSERVE_SENTENCEPIECE_MODULE)";
      return;
    }
    api.load = reinterpret_cast<decltype(api.load)>(dlsym(module, "AwqSentencePieceLoad"));
    api.free = reinterpret_cast<decltype(api.free)>(dlsym(module, "AwqSentencePieceFree"));
    api.encode = reinterpret_cast<decltype(api.encode)>(dlsym(module, "AwqSentencePieceEncode"));
    api.decode = reinterpret_cast<decltype(api.decode)>(dlsym(module, "AwqSentencePieceDecode"));
    if (!api.load || !api.free || !api.encode || !api.decode) {
      api.error = std::string(kModuleFile) + " lacks an entry point";
      api.load = nullptr;
    }
  });
  return api;
}

}  // namespace

std::unique_ptr<SentencePieceModel> SentencePieceModel::Load(const std::string& serialized, std::string* error) {
  const ModuleApi& api = Api();
  if (api.load == nullptr) {
    *error = api.error;
    return nullptr;
  }
  std::unique_ptr<SentencePieceModel> model(new SentencePieceModel);
  model->handle_ = api.load(&serialized, &model->vocab_, error);
  if (model->handle_ == nullptr) return nullptr;
  return model;
}

SentencePieceModel::~SentencePieceModel() {
  if (handle_ != nullptr) Api().free(handle_);
}

bool SentencePieceModel::EncodeIds(std::string_view text, std::vector<int>* ids, std::string* error) const {
  return Api().encode(handle_, text.data(), text.size(), ids, error);
}

std::string SentencePieceModel::DecodeIds(const std::vector<int>& ids) const {
  std::string text;
  Api().decode(handle_, &ids, &text);
  return text;
}

}  // namespace tokenizer
