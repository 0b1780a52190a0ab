"""deploy/grafana/awqserve-dashboard.json: structure, and every panel's PromQL parsed by promtool.

Grafana's variables are replaced the way Grafana would before sending a query ($__rate_interval by a duration,
$model_name by its "All" value); a variable the dashboard does not define fails the test. The expressions go into
a generated rule file (one recording rule each) that `promtool check rules` parses. Every awqserve_ metric a panel
reads must be in docs/metrics.md, and every metric there must be on the dashboard.
prometheus_live_test.py imports dashboard_queries() to run the same expressions against a live Prometheus.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

SOURCE = os.environ.get("AWQSERVE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DASHBOARD = os.path.join(SOURCE, "deploy", "grafana", "awqserve-dashboard.json")
CATALOGUE = os.path.join(SOURCE, "docs", "metrics.md")
PROMTOOL = os.environ.get("AWQ_PROMTOOL", shutil.which("promtool") or "promtool")

# Grafana's built-in interval variables, as a duration Prometheus accepts.
BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
GRID_WIDTH = 24
METRIC = re.compile(r"\b(awqserve_[a-z0-9_]+)")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def load_dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def all_panels(dashboard):
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])


def substitute(expr, dashboard, overrides=None):
    """Replaces $var, ${var} and [[var]] the way Grafana does for a query; raises KeyError for an unknown one."""
    values = dict(BUILTINS)
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            values[v["name"]] = v.get("allValue") or ".*"
    values.update(overrides or {})

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise KeyError(f"unknown variable ${name} in {expr!r}")
        return values[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]", repl, expr)


def dashboard_queries(dashboard=None, overrides=None):
    """[(panel title, refId, PromQL with variables replaced)] for every target of every panel."""
    dashboard = dashboard or load_dashboard()
    out = []
    for p in all_panels(dashboard):
        for t in p.get("targets", []):
            out.append((p["title"], t["refId"], substitute(t["expr"], dashboard, overrides)))
    return out


def catalogue_metrics():
    with open(CATALOGUE) as f:
        text = f.read()
    # Rows of the catalogue tables: | `awqserve_name` | type | ...
    return set(re.findall(r"^\| `(awqserve_[a-z0-9_]+)` \|", text, re.M))


def base_metric(name):
    for s in HISTOGRAM_SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return name


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dash = load_dashboard()

    def test_structure(self):
        ids = [p["id"] for p in all_panels(self.dash)]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")
        names = [v["name"] for v in self.dash["templating"]["list"]]
        self.assertEqual(names, ["datasource", "model_name"])
        cells = {}
        for p in all_panels(self.dash):
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], GRID_WIDTH, p["title"])
            for dx in range(g["w"]):
                for dy in range(g["h"]):
                    cell = (g["x"] + dx, g["y"] + dy)
                    self.assertNotIn(cell, cells, f"{p['title']} overlaps {cells.get(cell)}")
                    cells[cell] = p["title"]
            if p["type"] == "row":
                continue
            self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
            self.assertTrue(p["targets"], p["title"])
            refs = [t["refId"] for t in p["targets"]]
            self.assertEqual(len(refs), len(set(refs)), p["title"])

    def test_every_expression_parses(self):
        queries = dashboard_queries(self.dash)
        for v in self.dash["templating"]["list"]:
            if v["type"] == "query":
                m = re.fullmatch(r"label_values\((.+), (\w+)\)", v["query"]["query"])
                self.assertIsNotNone(m, v["query"])
                queries.append(("variable " + v["name"], "-", m.group(1)))
        rules = [{"record": f"dashboard:query_{i}", "expr": q} for i, (_, _, q) in enumerate(queries)]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "dashboard.rules.yml")
            with open(path, "w") as f:
                yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
            proc = subprocess.run([PROMTOOL, "check", "rules", path], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn(f"SUCCESS: {len(rules)} rules found", proc.stdout)

    def test_a_broken_expression_is_caught(self):
        broken = {"templating": self.dash["templating"], "panels": [
            {"type": "timeseries", "id": 1, "title": "t", "targets": [
                {"refId": "A", "expr": "sum(rate(awqserve_prompt_tokens_total[$__rate_interval])"}]}]}
        (_, _, q), = dashboard_queries(broken)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "broken.rules.yml")
            with open(path, "w") as f:
                yaml.safe_dump({"groups": [{"name": "b", "rules": [{"record": "b:q", "expr": q}]}]}, f)
            proc = subprocess.run([PROMTOOL, "check", "rules", path], capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        with self.assertRaises(KeyError):
            substitute("rate(x{a=~\"$undefined\"}[1m])", self.dash)

    def test_metrics_match_the_catalogue(self):
        catalogue = catalogue_metrics()
        self.assertGreaterEqual(len(catalogue), 18)
        used = {base_metric(m) for _, _, q in dashboard_queries(self.dash) for m in METRIC.findall(q)}
        self.assertEqual(used - catalogue, set(), "metrics on the dashboard but not in docs/metrics.md")
        self.assertEqual(catalogue - used, set(), "metrics in docs/metrics.md but not on the dashboard")

    def test_alerts_and_autoscaler_read_catalogued_metrics(self):
        catalogue = catalogue_metrics() | {"up"}
        with open(os.path.join(SOURCE, "deploy", "prometheus", "rules", "awqserve-alerts.yml")) as f:
            exprs = [r["expr"] for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
        with open(os.path.join(SOURCE, "deploy", "k8s", "prometheus-adapter", "config.yaml")) as f:
            exprs += [r["seriesQuery"] for r in yaml.safe_load(f)["rules"]]
        used = {base_metric(m) for e in exprs for m in re.findall(r"\b(awqserve_[a-z0-9_]+|up)\b", e)}
        self.assertGreaterEqual(len(used), 5)
        self.assertEqual(used - catalogue, set())

    def test_required_views(self):
        exprs = [q for _, _, q in dashboard_queries(self.dash)]

        def has(pattern):
            return any(re.search(pattern, e) for e in exprs)
        self.assertTrue(has(r"rate\(awqserve_prompt_tokens_total\{"), "tokens/s in")
        self.assertTrue(has(r"rate\(awqserve_generation_tokens_total\{"), "tokens/s out")
        for m in ("awqserve_time_to_first_token_seconds", "awqserve_inter_token_latency_seconds",
                  "awqserve_gateway_time_to_first_token_seconds", "awqserve_gateway_inter_token_latency_seconds"):
            for q in ("0.5", "0.9", "0.99"):
                self.assertTrue(has(rf"histogram_quantile\({q}, sum by \(le\) \(rate\({m}_bucket"), f"{m} p{q}")
        self.assertTrue(has(r"awqserve_num_requests_waiting"))
        self.assertTrue(has(r"awqserve_num_requests_running"))
        self.assertTrue(has(r"awqserve_kv_cache_usage_perc"))
        self.assertTrue(has(r'code=~"[A-Z_|]+"\}\[1m\]\)\) / sum by \(job\)'), "error ratio")
        # The dashboard, the alert and the catalogue count the same codes as server errors.
        sources = {"dashboard": {c for e in exprs for c in re.findall(r'code=~"([A-Z_|]+)"', e)}}
        with open(os.path.join(SOURCE, "deploy", "prometheus", "rules", "awqserve-alerts.yml")) as f:
            sources["alert"] = set(re.findall(r'code=~"([A-Z_|]+)"', f.read()))
        with open(CATALOGUE) as f:
            sources["catalogue"] = set(re.findall(r"client cannot fix by changing\s+its request: `([A-Z_|]+)`", f.read()))
        self.assertEqual([len(c) for c in sources.values()], [1, 1, 1], sources)
        self.assertEqual(len(set.union(*sources.values())), 1, sources)
        self.assertTrue(has(r"histogram_quantile\(0.99, sum by \(le, job, method\) "
                            r"\(rate\(awqserve_rpc_duration_seconds_bucket"), "per-service latency")


if __name__ == "__main__":
    unittest.main()
