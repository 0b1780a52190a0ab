#!/usr/bin/env python3
"""Serving benchmark: starts the four services on loopback (tests/integration/serving_stack.py) with a model on a
backend, then runs `awqserve bench` against the gateway and against generation directly, with the same prompt ids,
so the report ends with the gateway's cost per token. Results go to bench/RESULTS.md by hand (CPU, date, command).

    python3 bench/serving/serving_bench.py --build build --model ../shared/assets/tiny-stories-awq \\
        --concurrency 1 --requests 16 --prompt-len 32 --max-tokens 128 --rounds 3

--synth CONFIG writes a random AWQ checkpoint of that shape first (awqserve model synth) into a temporary folder,
with the Mistral tokenizer of ../shared/assets/awq-tiny-mistral: a model big enough that one engine step costs
what a real deployment's does relative to the gRPC hops.
"""
import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(SOURCE, "build"), help="the build folder with the binaries")
    p.add_argument("--model", help="model folder (with tokenizer.model)")
    p.add_argument("--synth", help="a config.json: synthesize a random AWQ model of this shape instead")
    p.add_argument("--backend", default="cpu")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--requests", type=int, default=32)
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3, help="alternate gateway and direct passes this many times")
    p.add_argument("--generation-arg", action="append", default=[], help="extra awqserve-generation flag")
    a = p.parse_args()
    if bool(a.model) == bool(a.synth):
        p.error("give exactly one of --model and --synth")
    build = os.path.abspath(a.build)
    os.environ.setdefault("AWQSERVE_BINARY_DIR", build)
    import serving_stack

    cli = os.path.join(build, "services", "cli", "awqserve")
    tmp = None
    model = a.model
    if a.synth:
        tmp = tempfile.mkdtemp(prefix="awq-bench-model-")
        model = os.path.join(tmp, "model")
        subprocess.run([cli, "model", "synth", "--config", a.synth, "--out", model], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tokenizer = os.path.join(SOURCE, "..", "shared", "assets", "awq-tiny-mistral")
        for f in ("tokenizer.model", "tokenizer_config.json", "generation_config.json"):
            shutil.copy(os.path.join(tokenizer, f), model)
    try:
        with serving_stack.ServingStack(os.path.abspath(model), backend=a.backend,
                                        generation_args=a.generation_arg) as stack:
            cmd = [cli, "bench", "--server", stack.address("gateway"), "--generation", stack.address("generation"),
                   "--concurrency", str(a.concurrency), "--requests", str(a.requests),
                   "--prompt-len", str(a.prompt_len), "--max-tokens", str(a.max_tokens), "--rounds", str(a.rounds)]
            print(f"# {cpu_name()}, {os.cpu_count()} CPUs; model {os.path.basename(os.path.normpath(model)) if a.model else a.synth}"
                  f" on {a.backend}", flush=True)
            print("# " + " ".join(["awqserve bench"] + cmd[2:]), flush=True)
            result = subprocess.run(cmd)
        return result.returncode
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
