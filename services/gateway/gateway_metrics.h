// The gateway's client-side latency metrics (docs/metrics.md, "Gateway"): time to first token and inter-token
// latency as the gateway's client sees them, per method, labelled with the model name learnt from Generation.Info.
//
// Thread-safety: the prometheus-cpp series are thread-safe; ForMethod may be called concurrently.
//
//   GatewayMetrics metrics(registry);
//   metrics.SetModel("tiny-stories-awq");
//   GatewayMetrics::Method* m = metrics.ForMethod("Chat");
//   m->ttft->Observe(0.012);
#pragma once

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace gateway {

class GatewayMetrics {
 public:
  struct Method {
    prometheus::Histogram* ttft = nullptr;
    prometheus::Histogram* inter_token = nullptr;
  };

  explicit GatewayMetrics(prometheus::Registry& registry);
  // Creates the series of the four methods for this model (called once the model is known).
  void SetModel(const std::string& model_name);
  // nullptr until SetModel.
  Method* ForMethod(const std::string& method);

 private:
  prometheus::Family<prometheus::Histogram>& ttft_;
  prometheus::Family<prometheus::Histogram>& inter_token_;
  absl::Mutex mu_;
  std::map<std::string, Method> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gateway
