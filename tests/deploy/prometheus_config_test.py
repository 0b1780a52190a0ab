"""deploy/prometheus's scrape configs and rules, loaded by a real Prometheus.

- prometheus.yml: Prometheus loads it and the rule file; the targets are the four processes at their default
  metrics ports with the jobs the rules and the dashboard use.
- prometheus-kubernetes.yml: Debian's Prometheus has no Kubernetes discovery, so the discovery is replaced by
  static targets that carry the __meta labels Kubernetes discovery would set for the pods of deploy/k8s; the real
  relabelling then has to keep exactly the metrics ports and name the jobs.
"""
import copy
import os
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prom_harness import Prometheus  # noqa: E402

DEPLOY = os.path.join(os.environ.get("AWQSERVE_SOURCE_DIR",
                                     os.path.join(os.path.dirname(__file__), "..", "..")), "deploy")
PROM_DIR = os.path.join(DEPLOY, "prometheus")
ALERTS = {"AwqserveQueueGrowing", "AwqserveKvCacheNearlyFull", "AwqserveHighErrorRatio", "AwqserveTtftP99High",
          "AwqserveTargetDown"}
DEFAULT_METRICS_PORTS = {"awqserve-gateway": 9401, "awqserve-template": 9402, "awqserve-tokenizer": 9403,
                         "awqserve-generation": 9404}


def load_config(name):
    with open(os.path.join(PROM_DIR, name)) as f:
        cfg = yaml.safe_load(f)
    cfg["rule_files"] = [os.path.join(PROM_DIR, r) for r in cfg.get("rule_files", [])]
    return cfg


def pod_target(port, port_name, app="awqserve", container="c"):
    return {"targets": [f"127.0.0.1:{port}"],
            "labels": {"__meta_kubernetes_pod_label_app_kubernetes_io_name": app,
                       "__meta_kubernetes_pod_container_port_name": port_name,
                       "__meta_kubernetes_namespace": "awqserve",
                       "__meta_kubernetes_pod_name": "awqserve-7d9f-abcde",
                       "__meta_kubernetes_pod_container_name": container}}


class PrometheusConfigTest(unittest.TestCase):
    """Both files in one Prometheus (target discovery takes ~5 s per start, so start it once)."""

    def test_static_and_kubernetes_configs(self):
        cfg = load_config("prometheus.yml")
        k8s = load_config("prometheus-kubernetes.yml")
        self.assertEqual(k8s["rule_files"], cfg["rule_files"])
        (job,) = k8s["scrape_configs"]
        self.assertIn("kubernetes_sd_configs", job)
        job = copy.deepcopy(job)
        del job["kubernetes_sd_configs"]
        job["static_configs"] = [
            pod_target(19401, "prom-gateway", container="gateway"),
            pod_target(19402, "prom-template", container="template"),
            pod_target(19403, "prom-tokenizer", container="tokenizer"),
            pod_target(19404, "prom-generation", container="generation"),
            pod_target(50051, "grpc", container="gateway"),          # a gRPC port: not scraped
            pod_target(19405, "prom-other"),                      # an unknown process: not scraped
            pod_target(19406, "prom-gateway", app="something"),   # another app's pod: not scraped
        ]
        cfg["scrape_configs"].append(job)
        with Prometheus(cfg) as prom:
            rules = [r["name"] for g in prom.api("rules")["groups"] for r in g["rules"]]
            self.assertEqual(set(rules), ALERTS)
            prom.wait_for(lambda: sum(map(len, prom.api("targets").values())) >= 11, what="11 targets")
            data = prom.api("targets")
            static = {t["labels"]["job"]: t["labels"]["instance"] for t in data["activeTargets"]
                      if t["scrapePool"] != "awqserve-kubernetes-pods"}
            self.assertEqual(static, {job: f"127.0.0.1:{port}" for job, port in DEFAULT_METRICS_PORTS.items()})
            pods = sorted((t["labels"]["job"], t["labels"]["instance"], t["labels"]["container"],
                           t["labels"]["pod"], t["labels"]["namespace"]) for t in data["activeTargets"]
                          if t["scrapePool"] == "awqserve-kubernetes-pods")
            self.assertEqual(pods, [
                ("awqserve-gateway", "127.0.0.1:19401", "gateway", "awqserve-7d9f-abcde", "awqserve"),
                ("awqserve-generation", "127.0.0.1:19404", "generation", "awqserve-7d9f-abcde", "awqserve"),
                ("awqserve-template", "127.0.0.1:19402", "template", "awqserve-7d9f-abcde", "awqserve"),
                ("awqserve-tokenizer", "127.0.0.1:19403", "tokenizer", "awqserve-7d9f-abcde", "awqserve"),
            ])
            self.assertEqual(len(data["droppedTargets"]), 3)


if __name__ == "__main__":
    unittest.main()
