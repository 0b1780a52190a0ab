"""Shared harness for awqserve's Python grpcio tests (reused by every service's test_*.py).

What it gives a test:
  - stubs():       generates Python modules for proto/awqserve/v1/*.proto at test time (into the build tree) and
                   makes them importable: `from awqserve.v1 import tokenizer_pb2, tokenizer_pb2_grpc`.
  - health_check(): grpc.health.v1 Check through a stub generated from services/common/proto.
  - Server:        starts a server binary on a free loopback port (--listen 127.0.0.1:0), reads its
                   "listening on HOST:PORT" line, waits for readiness, stops it with a signal (exit code back).
  - golden():      rows of a JSON-lines golden file under ../shared, read in place.

Paths come from the environment ctest sets (tests/python/CMakeLists.txt): AWQSERVE_SOURCE_DIR,
AWQSERVE_SHARED_DIR, AWQSERVE_STUBS_DIR and one AWQSERVE_<NAME>_BIN per server binary.

Stub generation: `python3 -m grpc_tools.protoc` is tried first. Debian 12's python3-grpc-tools bundles protoc 3.5.1,
which cannot parse proto3 `optional` fields (our protos use them), so the harness then falls back to the system
protoc (3.21, matching python3-protobuf) with gRPC's grpc_python_plugin; both produce the same modules.

    class MyTest(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            awq_harness.stubs()
            cls.server = awq_harness.Server(os.environ["AWQSERVE_TOKENIZER_BIN"], ["--model_dir", d]).start()
        @classmethod
        def tearDownClass(cls):
            assert cls.server.stop() == 0
"""
import atexit
import glob
import importlib.util
import json
import os
import queue
import threading
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc

SOURCE_DIR = os.environ.get("AWQSERVE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
SHARED_DIR = os.environ.get("AWQSERVE_SHARED_DIR", os.path.abspath(os.path.join(SOURCE_DIR, "../shared")))
PROTO_DIR = os.path.join(SOURCE_DIR, "proto")
HEALTH_PROTO_DIR = os.path.join(SOURCE_DIR, "services/common/proto")

_stubs_dir = None
_health = None


def _protoc(out_dir, include_dir, protos):
    """Generates message and service modules for `protos` (paths relative to include_dir) into out_dir."""
    tried = []
    commands = [
        [sys.executable, "-m", "grpc_tools.protoc"],
        ["protoc", "--plugin=protoc-gen-grpc_python=" + (shutil.which("grpc_python_plugin") or "grpc_python_plugin")],
    ]
    for cmd in commands:
        full = cmd + ["-I" + include_dir, "--python_out=" + out_dir, "--grpc_python_out=" + out_dir] + protos
        result = subprocess.run(full, cwd=include_dir, capture_output=True, text=True)
        if result.returncode == 0:
            return
        tried.append("%s: %s" % (" ".join(cmd), result.stderr.strip().splitlines()[-1:] or result.returncode))
    raise RuntimeError("cannot generate Python stubs: " + "; ".join(str(t) for t in tried))


def stubs():
    """Generates the awqserve.v1 stubs once per process and puts them on sys.path; returns their folder."""
    global _stubs_dir
    if _stubs_dir is None:
        base = os.environ.get("AWQSERVE_STUBS_DIR") or tempfile.gettempdir()
        os.makedirs(base, exist_ok=True)
        _stubs_dir = tempfile.mkdtemp(prefix="stubs_", dir=base)  # one per test process: tests run in parallel
        atexit.register(shutil.rmtree, _stubs_dir, True)
        protos = sorted(os.path.relpath(p, PROTO_DIR) for p in glob.glob(os.path.join(PROTO_DIR, "awqserve/v1/*.proto")))
        _protoc(_stubs_dir, PROTO_DIR, protos)
        sys.path.insert(0, _stubs_dir)
    return _stubs_dir


def _health_module():
    """health_pb2, loaded under a private name: a top-level `grpc` package of generated code would shadow grpcio."""
    global _health
    if _health is None:
        out = tempfile.mkdtemp(prefix="health_", dir=stubs())
        _protoc(out, HEALTH_PROTO_DIR, ["grpc/health/v1/health.proto"])
        spec = importlib.util.spec_from_file_location("awq_health_pb2", os.path.join(out, "grpc/health/v1/health_pb2.py"))
        _health = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_health)
    return _health


def health_check(address, service="", timeout=5.0):
    """grpc.health.v1.Health/Check; returns the status name ("SERVING", ...). Raises grpc.RpcError on failure."""
    health = _health_module()
    with grpc.insecure_channel(address) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health.HealthCheckRequest.SerializeToString,
            response_deserializer=health.HealthCheckResponse.FromString)
        response = check(health.HealthCheckRequest(service=service), timeout=timeout)
        return health.HealthCheckResponse.ServingStatus.Name(response.status)


def golden(relative_path):
    """Rows of a JSON-lines file under the shared folder (e.g. "assets/mistral-7b-instruct-v0.1/x.jsonl")."""
    with open(os.path.join(SHARED_DIR, relative_path), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def token_text_reference(model_dir):
    """What each token id reads as in the middle of a text, by SentencePiece's own decoder (Debian's
    python3-sentencepiece): the text an id adds after the plain piece "\u2581the". SentencePiece's decoder hides
    control and unknown pieces; their text is their piece string."""
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
    the = sp.piece_to_id("\u2581the")
    base = sp.decode([the])

    def text(token_id):
        if sp.is_control(token_id) or sp.is_unknown(token_id):
            return sp.id_to_piece(token_id)
        return sp.decode([the, token_id])[len(base):]
    return text


class Server:
    """A server binary as a child process on a free loopback port."""

    def __init__(self, binary, args, listen="127.0.0.1:0", metrics_listen="none"):
        self.binary = binary
        self.args = list(args) + ["--listen", listen, "--metrics_listen", metrics_listen]
        self.expect_metrics = metrics_listen != "none"
        self.address = None
        self.metrics_address = None
        self.process = None
        self._reader = None
        self._stderr = tempfile.TemporaryFile(mode="w+")

    def start(self, timeout=30.0, ready_service="readiness"):
        """Starts the process, waits for its listening line and for `ready_service` to be SERVING."""
        self.process = subprocess.Popen([self.binary] + self.args, stdout=subprocess.PIPE, stderr=self._stderr,
                                        text=True, bufsize=1)
        deadline = time.monotonic() + timeout
        # A reader thread, not select(): text-mode readline buffers, so two lines arriving in one read would leave
        # the second in Python's buffer while select() waits on the empty pipe.
        lines = queue.Queue()

        def read_stdout(stream):
            for text in iter(stream.readline, ""):
                lines.put(text)
            lines.put(None)

        self._reader = threading.Thread(target=read_stdout, args=(self.process.stdout,), daemon=True)
        self._reader.start()
        while self.address is None or (self.expect_metrics and not self.metrics_address):
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith("listening on "):
                self.address = line[len("listening on "):].strip()
            elif line.startswith("metrics on "):
                self.metrics_address = line[len("metrics on "):].strip()
        if self.address is None:
            self.process.kill()
            self.process.wait()
            raise RuntimeError("%s did not start (exit %s): %s" % (self.binary, self.process.returncode, self.stderr()))
        while ready_service is not None:
            try:
                if health_check(self.address, ready_service, timeout=1.0) == "SERVING":
                    break
            except grpc.RpcError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s: %r not SERVING within %ss (exit %s): %s" % (
                    self.binary, ready_service, timeout, self.process.poll(), self.stderr()))
            time.sleep(0.05)
        return self

    def stderr(self):
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self, sig=signal.SIGTERM, timeout=60.0):
        """Sends `sig`, waits, and returns the exit code (negative: killed by that signal)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5.0)  # it ends at the pipe's EOF, now that the process has exited
        self.process.stdout.close()
        return self.process.returncode

    def __enter__(self):
        return self.start() if self.process is None else self

    def __exit__(self, *exc):
        self.stop()
