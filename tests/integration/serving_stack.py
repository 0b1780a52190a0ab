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
import sys
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
                self.servers[name] = awq_harness.Server(binary(name), ["--model_dir", self.model_dir],
                                             metrics_listen=metrics).start(STARTUP_TIMEOUT_S)
            self.servers["generation"] = awq_harness.Server(
                binary("generation"), ["--model_dir", self.model_dir] + self.generation_args,
                metrics_listen=metrics).start(STARTUP_TIMEOUT_S)
            self.servers["gateway"] = awq_harness.Server(
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
