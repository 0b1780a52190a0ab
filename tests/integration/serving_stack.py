"""The four awqserve services as real processes on loopback: for the serving integration tests, the Python chat
client test, the serving benchmark and the demo. Built on tests/python/awq_harness.py (stubs, Server, health).

    with ServingStack(model_dir, generation_args=["--kv_blocks=64"]) as stack:
        gw = stack.gateway_stub()                          # awqserve.v1.TextGeneration
        for m in gw.Complete(gateway_pb2.CompleteRequest(prompt="Once upon a time")): ...
        stack.metrics("generation")                        # {'name{labels}': value} from its /metrics

Every server listens on 127.0.0.1 port 0 (its "listening on" line says which port it got) with /metrics on a port
of its own; start-up waits until each one's grpc.health.v1 "readiness" is SERVING. Leaving the context sends
SIGTERM to the gateway first, then the others, and records each exit code in `exit_codes`.

Binaries come from AWQSERVE_<NAME>_BIN (set by ctest), else from the build folder given as AWQSERVE_BINARY_DIR.
"""
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import awq_harness  # noqa: E402

SERVICES = ("tokenizer", "template", "generation", "gateway")
STARTUP_TIMEOUT_S = 120


def binary(name):
    env = os.environ.get(f"AWQSERVE_{name.upper()}_BIN")
    if env:
        return env
    build = os.environ.get("AWQSERVE_BINARY_DIR", os.path.join(awq_harness.SOURCE_DIR, "build"))
    return os.path.join(build, "services", name, f"awqserve-{name}")


def parse_metrics(text):
    """Prometheus text format → {'name{label="v",...}': value}, labels as written."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


class _Server(awq_harness.Server):
    """awq_harness.Server whose start-up reads stdout on a thread: its "listening on" and "metrics on" lines often
    arrive in one read, which a select() on the pipe would then wait on in vain."""

    def start(self, timeout=30.0, ready_service="readiness"):
        self.process = subprocess.Popen([self.binary] + self.args, stdout=subprocess.PIPE, stderr=self._stderr,
                                        text=True, bufsize=1)
        found = threading.Event()

        def read():
            for line in self.process.stdout:
                if line.startswith("listening on "):
                    self.address = line[len("listening on "):].strip()
                elif line.startswith("metrics on "):
                    self.metrics_address = line[len("metrics on "):].strip()
                if self.address and (self.metrics_address or not self.expect_metrics):
                    found.set()
            found.set()  # end of output: the process is gone

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        if not found.wait(timeout) or self.address is None:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"{self.binary} did not start (exit {self.process.returncode}): {self.stderr()}")
        while True:
            try:
                if awq_harness.health_check(self.address, ready_service, timeout=1.0) == "SERVING":
                    return self
            except grpc.RpcError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.binary}: {ready_service!r} not SERVING: {self.stderr()}")
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=60.0):
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        self.process.stdout.close()
        self._stderr.close()
        return self.process.returncode


class ServingStack:
    def __init__(self, model_dir, generation_args=(), gateway_args=(), backend="cpu"):
        awq_harness.stubs()
        self.model_dir = model_dir
        self.generation_args = [f"--backend={backend}"] + list(generation_args)
        self.gateway_args = list(gateway_args)
        self.servers = {}
        self.exit_codes = {}
        self._channels = {}

    def __enter__(self):
        metrics = "127.0.0.1:0"
        try:
            for name in ("tokenizer", "template"):
                self.servers[name] = _Server(binary(name), ["--model_dir", self.model_dir],
                                             metrics_listen=metrics).start(STARTUP_TIMEOUT_S)
            self.servers["generation"] = _Server(
                binary("generation"), ["--model_dir", self.model_dir] + self.generation_args,
                metrics_listen=metrics).start(STARTUP_TIMEOUT_S)
            self.servers["gateway"] = _Server(
                binary("gateway"),
                ["--template", self.address("template"), "--tokenizer", self.address("tokenizer"),
                 "--generation", self.address("generation")] + self.gateway_args,
                metrics_listen=metrics).start(STARTUP_TIMEOUT_S)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        for name in ("gateway", "generation", "template", "tokenizer"):
            if name in self.servers:
                self.exit_codes[name] = self.servers[name].stop()

    def address(self, name):
        return self.servers[name].address

    def channel(self, name):
        if name not in self._channels:
            self._channels[name] = grpc.insecure_channel(self.address(name))
        return self._channels[name]

    def gateway_stub(self):
        from awqserve.v1 import gateway_pb2_grpc
        return gateway_pb2_grpc.TextGenerationStub(self.channel("gateway"))

    def generation_stub(self):
        from awqserve.v1 import generation_pb2_grpc
        return generation_pb2_grpc.GenerationStub(self.channel("generation"))

    def tokenizer_stub(self):
        from awqserve.v1 import tokenizer_pb2_grpc
        return tokenizer_pb2_grpc.TokenizerStub(self.channel("tokenizer"))

    def metrics(self, name):
        with urllib.request.urlopen(f"http://{self.servers[name].metrics_address}/metrics", timeout=5) as r:
            return parse_metrics(r.read().decode())

    def stderr(self, name):
        return self.servers[name].stderr()
