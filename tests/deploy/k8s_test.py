"""deploy/k8s: rendered by `kubectl kustomize`, validated against the Kubernetes and Prometheus Operator OpenAPI
schemas (strictly: unknown fields fail), and cross-checked: selectors, ports, probes, references, security.

Environment: AWQSERVE_SOURCE_DIR (the repository), AWQ_NODE_MODULES (node_modules with the schema packages,
installed by npm_install.sh), AWQ_PROMTOOL, KUBECTL, NODE (defaults: found on PATH).
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

SOURCE = os.environ.get("AWQSERVE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
K8S = os.path.join(SOURCE, "deploy", "k8s")
PROM = os.path.join(SOURCE, "deploy", "prometheus")
NODE_MODULES = os.environ.get("AWQ_NODE_MODULES", "")
VALIDATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "k8s_schema", "validate.mjs")
KUBECTL = os.environ.get("KUBECTL", shutil.which("kubectl") or "kubectl")
NODE = os.environ.get("NODE", shutil.which("node") or "node")
PROMTOOL = os.environ.get("AWQ_PROMTOOL", shutil.which("promtool") or "promtool")

KUSTOMIZATIONS = ["base", "overlays/gpu", "overlays/cpu", "prometheus-adapter"]
SERVER_KUSTOMIZATIONS = ["base", "overlays/gpu", "overlays/cpu"]
# The processes and their ports (docs/metrics.md).
PROCESSES = {"gateway": (50051, 9401), "template": (50052, 9402), "tokenizer": (50053, 9403),
             "generation": (50054, 9404)}
# services/common/service_host.h: kReadinessService, SERVING only once the process is warm.
READINESS_SERVICE = "readiness"
IANA_SVC_NAME = re.compile(r"^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$")


def render(kustomization):
    out = subprocess.run([KUBECTL, "kustomize", os.path.join(K8S, kustomization)], check=True,
                         capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def validate(entries):
    """entries: [(id, object)] -> {id: error or None}, by the node validator."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([{"id": i, "object": o} for i, o in entries], f)
        path = f.name
    try:
        proc = subprocess.run([NODE, VALIDATOR, NODE_MODULES, path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise RuntimeError(f"validator failed ({proc.returncode}): {proc.stderr}")
    return {r["id"]: r["error"] for r in json.loads(proc.stdout)}


def one(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def pod_containers(deployment):
    spec = deployment["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def flag(container, name):
    values = [a.split("=", 1)[1] for a in container.get("args", []) if a.startswith(f"--{name}=")]
    return values[0] if len(values) == 1 else None


def subset(small, big):
    return all(big.get(k) == v for k, v in small.items())


class Rendered:
    cache = {}

    @classmethod
    def get(cls, kustomization):
        if kustomization not in cls.cache:
            cls.cache[kustomization] = render(kustomization)
        return cls.cache[kustomization]


class SchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(os.path.join(NODE_MODULES, "kubernetes-models")):
            raise RuntimeError(f"schema packages missing in {NODE_MODULES!r} (the npm_install fixture installs them)")

    def test_every_rendered_object_is_valid(self):
        entries = [(f"{k}:{o['kind']}/{o['metadata']['name']}", o) for k in KUSTOMIZATIONS for o in Rendered.get(k)]
        self.assertGreater(len(entries), 30)
        errors = {i: e for i, e in validate(entries).items() if e}
        self.assertEqual(errors, {})

    def test_broken_objects_are_rejected(self):
        base = Rendered.get("base")
        dep = one(base, "Deployment")
        broken = {}
        b = copy.deepcopy(dep)
        b["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "50054"
        broken["port as a string"] = (b, "containerPort must be integer")
        b = copy.deepcopy(dep)
        c = b["spec"]["template"]["spec"]["containers"][0]
        c["readinesProbe"] = c.pop("readinessProbe")
        broken["misspelt readinessProbe"] = (b, "unknown field(s): /spec/template/spec/containers/0/readinesProbe")
        b = copy.deepcopy(dep)
        b["spec"]["template"]["spec"]["initContainers"][0]["startupProbe"]["grpc"]["servce"] = "x"
        broken["misspelt grpc probe field"] = (b, "initContainers/0/startupProbe/grpc/servce")
        b = copy.deepcopy(dep)
        del b["spec"]["selector"]
        broken["no selector"] = (b, "data/spec must have required property selector")
        b = copy.deepcopy(one(base, "HorizontalPodAutoscaler"))
        del b["spec"]["scaleTargetRef"]
        broken["HPA without target"] = (b, "data/spec must have required property scaleTargetRef")
        b = copy.deepcopy(one(base, "ServiceMonitor"))
        b["spec"]["endpoints"][0]["intervall"] = "5s"
        broken["ServiceMonitor field typo"] = (b, "unknown field(s): /spec/endpoints/0/intervall")
        b = copy.deepcopy(one(base, "PrometheusRule"))
        b["spec"]["groups"][0]["rules"][0]["for"] = 300
        broken["PrometheusRule for as a number"] = (b, "for must be string")
        b = copy.deepcopy(one(base, "Service", "awqserve"))
        b["kind"] = "Servic"
        broken["unknown kind"] = (b, "no schema for v1 Servic")
        results = validate([(name, obj) for name, (obj, _) in broken.items()])
        for name, (_, expected) in broken.items():
            with self.subTest(name):
                self.assertIsNotNone(results[name], f"{name} was accepted")
                self.assertIn(expected, results[name])


class CrossReferenceTest(unittest.TestCase):
    def each(self):
        for k in SERVER_KUSTOMIZATIONS:
            with self.subTest(k):
                yield k, Rendered.get(k)

    def test_selectors_match_the_pods(self):
        for _, objs in self.each():
            dep = one(objs, "Deployment")
            labels = dep["spec"]["template"]["metadata"]["labels"]
            self.assertTrue(subset(dep["spec"]["selector"]["matchLabels"], labels))
            for svc in (o for o in objs if o["kind"] == "Service"):
                self.assertTrue(subset(svc["spec"]["selector"], labels), svc["metadata"]["name"])
            self.assertTrue(subset(one(objs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], labels))
            self.assertTrue(subset(one(objs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"], labels))
            sm = one(objs, "ServiceMonitor")
            monitored = [s for s in objs if s["kind"] == "Service"
                         and subset(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
            self.assertEqual([s["metadata"]["name"] for s in monitored], ["awqserve-metrics"])
            self.assertEqual({e["port"] for e in sm["spec"]["endpoints"]},
                             {p["name"] for p in monitored[0]["spec"]["ports"]})

    def test_ports_are_declared_named_and_used(self):
        for _, objs in self.each():
            dep = one(objs, "Deployment")
            by_name, numbers = {}, set()
            for c in pod_containers(dep):
                for p in c.get("ports", []):
                    self.assertRegex(p["name"], IANA_SVC_NAME)
                    self.assertNotIn(p["name"], by_name)
                    by_name[p["name"]] = p["containerPort"]
                    numbers.add(p["containerPort"])
            for process, (grpc_port, metrics_port) in PROCESSES.items():
                self.assertEqual(by_name[f"prom-{process}"], metrics_port)
                self.assertEqual(by_name["grpc" if process == "gateway" else f"grpc-{process}"], grpc_port)
            for svc in (o for o in objs if o["kind"] == "Service"):
                for p in svc["spec"]["ports"]:
                    t = p["targetPort"]
                    self.assertTrue(t in by_name if isinstance(t, str) else t in numbers, f"{svc['metadata']['name']}: {t}")
            for rule in one(objs, "NetworkPolicy")["spec"]["ingress"]:
                for p in rule["ports"]:
                    self.assertIn(p["port"], by_name)
            # Prometheus' Kubernetes discovery keeps exactly the metrics ports.
            with open(os.path.join(PROM, "prometheus-kubernetes.yml")) as f:
                relabel = yaml.safe_load(f)["scrape_configs"][0]["relabel_configs"]
            keep = [r for r in relabel if r.get("action") == "keep"
                    and r["source_labels"] == ["__meta_kubernetes_pod_container_port_name"]][0]["regex"]
            self.assertEqual(sorted(n for n in by_name if re.fullmatch(keep, n)),
                             sorted(f"prom-{p}" for p in PROCESSES))

    def test_processes_listen_where_declared_and_the_gateway_uses_loopback(self):
        for _, objs in self.each():
            containers = {c["name"]: c for c in pod_containers(one(objs, "Deployment"))}
            for process, (grpc_port, metrics_port) in PROCESSES.items():
                c = containers[process]
                self.assertEqual(c["command"], [f"awqserve-{process}"])
                self.assertEqual(flag(c, "listen"), f"0.0.0.0:{grpc_port}")
                self.assertEqual(flag(c, "metrics_listen"), f"0.0.0.0:{metrics_port}")
            gw = containers["gateway"]
            for downstream in ("template", "tokenizer", "generation"):
                self.assertEqual(flag(gw, downstream), f"127.0.0.1:{PROCESSES[downstream][0]}")
            self.assertEqual(flag(containers["generation"], "backend"), "$(AWQSERVE_BACKEND)")

    def test_probes(self):
        for _, objs in self.each():
            dep = one(objs, "Deployment")
            spec = dep["spec"]["template"]["spec"]
            sidecars = [c["name"] for c in spec["initContainers"] if c.get("restartPolicy") == "Always"]
            self.assertEqual(sorted(sidecars), ["template", "tokenizer"])
            for c in pod_containers(dep):
                if c["name"] not in PROCESSES:
                    continue
                own = {p["containerPort"] for p in c["ports"]}
                grpc_port = PROCESSES[c["name"]][0]
                for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                    probe = c[kind]["grpc"]
                    self.assertEqual(probe["port"], grpc_port, f"{c['name']} {kind}")
                    self.assertIn(probe["port"], own)
                    # Liveness asks the server itself (empty service name); the others the readiness service,
                    # SERVING only after warm-up, so model loading is covered by the startup probe.
                    expected = "" if kind == "livenessProbe" else READINESS_SERVICE
                    self.assertEqual(probe.get("service", ""), expected, f"{c['name']} {kind}")
            gen = next(c for c in spec["containers"] if c["name"] == "generation")
            startup = gen["startupProbe"]
            self.assertGreaterEqual(startup["periodSeconds"] * startup["failureThreshold"], 600)

    def test_security_and_resources(self):
        for k, objs in self.each():
            dep = one(objs, "Deployment")
            spec = dep["spec"]["template"]["spec"]
            self.assertTrue(spec["securityContext"]["runAsNonRoot"])
            self.assertNotEqual(spec["securityContext"]["runAsUser"], 0)
            self.assertEqual(spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
            self.assertFalse(spec["automountServiceAccountToken"])
            for c in pod_containers(dep):
                sc = c["securityContext"]
                self.assertFalse(sc["allowPrivilegeEscalation"], c["name"])
                self.assertTrue(sc["readOnlyRootFilesystem"], c["name"])
                self.assertEqual(sc["capabilities"]["drop"], ["ALL"], c["name"])
                for bound in ("requests", "limits"):
                    self.assertIn("cpu", c["resources"][bound], c["name"])
                    self.assertIn("memory", c["resources"][bound], c["name"])
            gen = next(c for c in spec["containers"] if c["name"] == "generation")
            gpus = {b: gen["resources"][b].get("nvidia.com/gpu") for b in ("requests", "limits")}
            self.assertEqual(gpus, {"requests": None, "limits": None} if k == "overlays/cpu"
                             else {"requests": 1, "limits": 1})
            # The grace period covers each process' preStop sleep plus its drain, or the kubelet kills calls that
            # are still being served.
            for c in pod_containers(dep):
                if c["name"] not in PROCESSES:
                    continue
                drain = re.fullmatch(r"(\d+)s", flag(c, "drain_timeout") or "")
                self.assertIsNotNone(drain, f"{c['name']}: --drain_timeout=<N>s")
                pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
                self.assertGreater(spec["terminationGracePeriodSeconds"], pre_stop + int(drain.group(1)), c["name"])
            np = one(objs, "NetworkPolicy")
            self.assertEqual(sorted(np["spec"]["policyTypes"]), ["Egress", "Ingress"])
            self.assertEqual(np["spec"]["egress"], [])
            admitted = sorted(p["port"] for r in np["spec"]["ingress"] for p in r["ports"])
            self.assertEqual(admitted, sorted(["grpc"] + [f"prom-{p}" for p in PROCESSES]))

    def test_references_resolve(self):
        for k, objs in self.each():
            dep = one(objs, "Deployment")
            spec = dep["spec"]["template"]["spec"]
            names = {(o["kind"], o["metadata"]["name"]) for o in objs}
            self.assertIn(("ServiceAccount", spec["serviceAccountName"]), names)
            for v in spec["volumes"]:
                if "persistentVolumeClaim" in v:
                    self.assertIn(("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]), names)
            volumes = {v["name"] for v in spec["volumes"]}
            for c in pod_containers(dep):
                for m in c.get("volumeMounts", []):
                    self.assertIn(m["name"], volumes)
                for e in c.get("envFrom", []):
                    self.assertIn(("ConfigMap", e["configMapRef"]["name"]), names)
            hpa = one(objs, "HorizontalPodAutoscaler")
            ref = hpa["spec"]["scaleTargetRef"]
            self.assertEqual((ref["apiVersion"], ref["kind"], ref["name"]),
                             (dep["apiVersion"], dep["kind"], dep["metadata"]["name"]))
            self.assertLessEqual(hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"])
            pdb = one(objs, "PodDisruptionBudget")
            # The budget must allow a drain to proceed at the autoscaler's minimum.
            if "maxUnavailable" in pdb["spec"]:
                self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
            else:
                self.assertLess(pdb["spec"]["minAvailable"], hpa["spec"]["minReplicas"])
            config = one(objs, "ConfigMap")["data"]
            self.assertEqual(config["AWQSERVE_BACKEND"], "cpu" if k == "overlays/cpu" else "cuda")
            images = {c["name"]: c["image"] for c in pod_containers(dep)}
            if k == "overlays/gpu":
                self.assertEqual(spec["initContainers"][0]["name"], "verify-weights")
                self.assertTrue(images["generation"].endswith("/awqserve-cuda:0.1.0"))
            if k == "overlays/cpu":
                self.assertEqual(images["generation"], "awqserve:0.1.0")
                gen = next(c for c in spec["containers"] if c["name"] == "generation")
                self.assertEqual(flag(gen, "threads"), gen["resources"]["limits"]["cpu"])

    def test_verify_weights_command_checks_the_files(self):
        spec = one(Rendered.get("overlays/gpu"), "Deployment")["spec"]["template"]["spec"]
        command = spec["initContainers"][0]["command"]
        with tempfile.TemporaryDirectory() as d:
            for name, data in (("model.safetensors", b"\x00" * 4096), ("config.json", b"{}")):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)

            def run():
                return subprocess.run(command, env={"AWQSERVE_MODEL_DIR": d, "PATH": os.environ["PATH"]},
                                      capture_output=True, text=True).returncode
            self.assertNotEqual(run(), 0, "no SHA256SUMS must fail")
            subprocess.run("sha256sum model.safetensors config.json > SHA256SUMS", shell=True, cwd=d, check=True)
            self.assertEqual(run(), 0)
            with open(os.path.join(d, "model.safetensors"), "r+b") as f:
                f.seek(1000)
                f.write(b"\x01")
            self.assertNotEqual(run(), 0, "a corrupted file must fail")

    def test_autoscaler_metric_is_served_by_the_adapter_rule(self):
        adapter = one(Rendered.get("prometheus-adapter"), "ConfigMap")
        self.assertEqual(adapter["metadata"]["namespace"], "monitoring")
        (rule,) = yaml.safe_load(adapter["data"]["config.yaml"])["rules"]
        for _, objs in self.each():
            (metric,) = one(objs, "HorizontalPodAutoscaler")["spec"]["metrics"]
            self.assertEqual(metric["type"], "Pods")
            self.assertEqual(metric["pods"]["metric"]["name"], rule["name"]["as"])
            self.assertTrue(rule["seriesQuery"].startswith(rule["name"]["as"] + "{"))
        self.assertEqual(set(rule["resources"]["overrides"]), {"namespace", "pod"})
        # The adapter's query, with its template filled in as the adapter would, is valid PromQL.
        query = (rule["metricsQuery"].replace("<<.Series>>", rule["name"]["as"])
                 .replace("<<.LabelMatchers>>", 'namespace="awqserve",pod=~"awqserve-a|awqserve-b"')
                 .replace("<<.GroupBy>>", "pod"))
        series = rule["seriesQuery"]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "adapter.rules.yml")
            with open(path, "w") as f:
                yaml.safe_dump({"groups": [{"name": "adapter", "rules": [
                    {"record": "adapter:metrics_query", "expr": query},
                    {"record": "adapter:series_query", "expr": series}]}]}, f)
            proc = subprocess.run([PROMTOOL, "check", "rules", path], capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_prometheus_rule_equals_the_rule_file(self):
        with open(os.path.join(PROM, "rules", "awqserve-alerts.yml")) as f:
            groups = yaml.safe_load(f)["groups"]
        for _, objs in self.each():
            self.assertEqual(one(objs, "PrometheusRule")["spec"]["groups"], groups)
        proc = subprocess.run([sys.executable, os.path.join(K8S, "sync-prometheusrule.py"), "--check"],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_service_monitor_jobs_match_the_scrape_config(self):
        with open(os.path.join(PROM, "prometheus.yml")) as f:
            jobs = {j["job_name"] for j in yaml.safe_load(f)["scrape_configs"]}
        for _, objs in self.each():
            sm = one(objs, "ServiceMonitor")
            got = {r["replacement"] for e in sm["spec"]["endpoints"] for r in e["relabelings"]
                   if r["targetLabel"] == "job"}
            self.assertEqual(got, jobs)
            for e in sm["spec"]["endpoints"]:
                self.assertEqual(e["relabelings"][-1]["replacement"], "awqserve-" + e["port"].removeprefix("prom-"))


if __name__ == "__main__":
    unittest.main()
