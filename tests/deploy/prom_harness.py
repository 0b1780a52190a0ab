"""A real Prometheus (Debian's `prometheus` binary) on a free loopback port, for the deploy tests.

Usage:
    with Prometheus(config_dict) as prom:
        prom.wait_for(lambda: prom.query('up') ...)
        result = prom.query('sum(rate(awqserve_prompt_tokens_total[1m]))')

The config is written to a temporary folder together with the TSDB; both are deleted on exit. Rule files named
in the config must be absolute paths. Not thread-safe; one instance per test.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

PROMETHEUS = os.environ.get("AWQ_PROMETHEUS", shutil.which("prometheus") or "/usr/bin/prometheus")
STARTUP_TIMEOUT_S = 30


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusError(Exception):
    pass


class Prometheus:
    def __init__(self, config):
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = None
        self.proc = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="awq-prom-")
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            yaml.safe_dump(self.config, f)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w+")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        raise PrometheusError(f"prometheus not ready after {STARTUP_TIMEOUT_S} s:\n{self.logs()}")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def api(self, path, **params):
        """GET /api/v1/<path>; returns `data`, raises PrometheusError on an API error (e.g. a PromQL error)."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr):
        """An instant query; returns the result list ([{'metric': {...}, 'value': [t, 'v']}, ...])."""
        return self.api("query", query=expr)["result"]

    def scalar(self, expr):
        """An instant query expected to return exactly one sample; returns its value as float."""
        result = self.query(expr)
        if len(result) != 1:
            raise PrometheusError(f"{expr}: expected one sample, got {result}")
        return float(result[0]["value"][1])

    def wait_for(self, predicate, timeout_s=30, what="condition"):
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except PrometheusError as e:
                last = e
            time.sleep(0.2)
        raise PrometheusError(f"timed out waiting for {what} (last error: {last})")

    def wait_for_scrapes(self, job, count=2, timeout_s=30):
        """Waits until `job` has been scraped `count` more times (so that rate() over the latest traffic is defined)."""
        expr = f'count_over_time(up{{job="{job}"}}[5m])'
        mark = self.scalar(expr)
        self.wait_for(lambda: self.scalar(expr) >= mark + count, timeout_s=timeout_s,
                      what=f"{count} more scrapes of {job}")
