"""awqserve's metrics scraped by a real Prometheus: the tokenizer sidecar is started on loopback, sent known traffic
with grpcio, scraped by Debian's Prometheus (1 s interval) loaded with deploy/prometheus's alert rules; then
- `promtool check metrics` accepts its /metrics output,
- PromQL through the HTTP API returns exactly the calls made, by method and status code, and the latency
  histogram counted each of them,
- every PromQL expression of the Grafana dashboard evaluates without error, and those whose metrics the scraped
  processes export return series,
- every alert rule evaluates without error.

Environment: AWQ_TOKENIZER_BIN (the awqserve-tokenizer binary), AWQSERVE_SHARED_DIR, AWQSERVE_SOURCE_DIR,
AWQ_PROMTOOL, AWQ_PROMETHEUS.
"""
import os
import re
import shutil
import subprocess
import sys
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grafana_test import base_metric, dashboard_queries  # noqa: E402
from live_services import ServerProcess, compile_protos, health, wait_serving, SERVING  # noqa: E402
from prom_harness import Prometheus  # noqa: E402

SOURCE = os.environ.get("AWQSERVE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHARED = os.environ.get("AWQSERVE_SHARED_DIR", os.path.join(SOURCE, "..", "shared"))
MODEL_DIR = os.path.join(SHARED, "assets", "mistral-7b-instruct-v0.1")
PROMTOOL = os.environ.get("AWQ_PROMTOOL", shutil.which("promtool") or "promtool")
RULES = os.path.join(SOURCE, "deploy", "prometheus", "rules", "awqserve-alerts.yml")
READINESS_SERVICE = "readiness"

ENCODE = "/awqserve.v1.Tokenizer/Encode"
DECODE = "/awqserve.v1.Tokenizer/Decode"
# The traffic sent: (method, code) -> calls.
GOOD_ENCODES = ["Hello world", "Bonjour, ça va ?", "<s>[INST] hi [/INST]", "1 + 1 = 2", "🙂 emoji"]
BAD_ENCODES = 3   # an empty batch: INVALID_ARGUMENT
GOOD_DECODES = 2


class LiveTokenizerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = os.environ.get("AWQ_TOKENIZER_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError(f"AWQ_TOKENIZER_BIN={binary!r} is not an executable")
        cls.pb = compile_protos(SOURCE)
        cls.stack = []
        cls.tok = ServerProcess("awqserve-tokenizer", binary, [f"--model_dir={MODEL_DIR}"]).__enter__()
        cls.stack.append(cls.tok)
        try:
            cls.drive_traffic()
            cls.metrics = cls.tok.metrics_text()
            cls.prom = Prometheus({
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [RULES],
                "scrape_configs": [{"job_name": "awqserve-tokenizer",
                                    "static_configs": [{"targets": [cls.tok.metrics_target]}]}],
            }).__enter__()
            cls.stack.append(cls.prom)
            total = len(GOOD_ENCODES) + BAD_ENCODES + GOOD_DECODES
            cls.prom.wait_for(
                lambda: cls.prom.scalar(f'sum(awqserve_rpc_requests_total{{job="awqserve-tokenizer",'
                                        f'method=~"/awqserve.v1.+"}})') == total,
                what=f"{total} calls scraped")
            # Two scrapes after the traffic, so that rate() over them is defined.
            cls.prom.wait_for(lambda: cls.prom.scalar('count_over_time(up{job="awqserve-tokenizer"}[1m])') >= 3,
                              what="three scrapes")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        while cls.stack:
            cls.stack.pop().__exit__(None, None, None)

    @classmethod
    def drive_traffic(cls):
        with grpc.insecure_channel(cls.tok.grpc_address) as channel:
            wait_serving(channel, READINESS_SERVICE)
            stub = cls.pb.tokenizer_grpc.TokenizerStub(channel)
            for text in GOOD_ENCODES:
                r = stub.Encode(cls.pb.tokenizer.EncodeRequest(inputs=[cls.pb.tokenizer.EncodeInput(text=text)]))
                assert r.results[0].ids[0] == 1, "BOS first"
            for _ in range(BAD_ENCODES):
                try:
                    stub.Encode(cls.pb.tokenizer.EncodeRequest())
                    raise AssertionError("an empty Encode batch was accepted")
                except grpc.RpcError as e:
                    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
            for _ in range(GOOD_DECODES):
                stub.Decode(cls.pb.tokenizer.DecodeRequest(ids=[1, 22557, 1526]))
            assert health(channel, "") == SERVING

    def test_promtool_accepts_the_metrics_endpoint(self):
        proc = subprocess.run([PROMTOOL, "check", "metrics"], input=self.metrics, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout + proc.stderr, "")

    def test_calls_by_method_and_code(self):
        def calls(method, code):
            return self.prom.scalar(f'sum(awqserve_rpc_requests_total{{job="awqserve-tokenizer",'
                                    f'method="{method}",code="{code}"}})')
        self.assertEqual(calls(ENCODE, "OK"), len(GOOD_ENCODES))
        self.assertEqual(calls(ENCODE, "INVALID_ARGUMENT"), BAD_ENCODES)
        self.assertEqual(calls(DECODE, "OK"), GOOD_DECODES)
        self.assertEqual(self.prom.query(f'awqserve_rpc_requests_total{{method="{DECODE}",code!="OK"}}'), [])

    def test_latency_histogram_and_in_flight(self):
        count = self.prom.scalar(f'sum(awqserve_rpc_duration_seconds_count{{method="{ENCODE}"}})')
        self.assertEqual(count, len(GOOD_ENCODES) + BAD_ENCODES)
        inf = self.prom.scalar(f'sum(awqserve_rpc_duration_seconds_bucket{{method="{ENCODE}",le="+Inf"}})')
        self.assertEqual(inf, count)
        # The finest bucket is 1 ms (docs/metrics.md).
        les = {float(s["metric"]["le"]) for s in self.prom.query(
            f'awqserve_rpc_duration_seconds_bucket{{method="{ENCODE}"}}')}
        self.assertEqual(min(les), 0.001)
        self.assertEqual(self.prom.scalar(f'sum(awqserve_rpc_requests_in_flight{{method="{ENCODE}"}})'), 0)

    def test_dashboard_queries_evaluate(self):
        exported = {m["__name__"] for m in self.prom.api("series", **{"match[]": '{job="awqserve-tokenizer"}'})}
        exported.add("up")
        checked_present = 0
        for title, ref, q in dashboard_queries():
            with self.subTest(panel=title, ref=ref):
                result = self.prom.query(q)   # raises on a PromQL error
                metrics = {base_metric(m) for m in re.findall(r"\b(awqserve_[a-z0-9_]+|up)\b", q)}
                bases = {base_metric(m) for m in exported}
                # Series must be there when every metric the query reads is exported, unless the query selects
                # server errors (none were caused) or is a ratio of them.
                if metrics <= bases and 'code=~"' not in q:
                    self.assertNotEqual(result, [], q)
                    checked_present += 1
        self.assertGreaterEqual(checked_present, 4)

    def test_alert_rules_evaluate_cleanly(self):
        self.prom.wait_for(lambda: all(r.get("lastEvaluation", "").startswith("2")
                                       and not r["lastEvaluation"].startswith("0001")
                                       for g in self.prom.api("rules")["groups"] for r in g["rules"]),
                           what="every rule evaluated")
        rules = [r for g in self.prom.api("rules")["groups"] for r in g["rules"]]
        self.assertEqual(len(rules), 5)
        for r in rules:
            self.assertEqual((r["name"], r["health"], r.get("lastError", "")), (r["name"], "ok", ""))
            self.assertEqual(r["state"], "inactive", r["name"])


if __name__ == "__main__":
    unittest.main()
