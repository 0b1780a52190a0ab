#!/usr/bin/env python3
"""Full-width check on the GPU machine: a 2-layer checkpoint with the real Mistral-7B shapes (SynthCheckpoint),
our CUDA engine's logits (bench/engine/full_width_logits) against transformers run by
../shared/tools/awq_reference.py in float32, with transformers' own fp16 error as the yardstick
(../shared/tools/README.md): for prompts of 1, 17, 500 and 5000 tokens, at a set of positions, our relative error
against float32 must be at most 1.5x transformers-fp16's (median over the positions and at the last position), or
within the fixed fp16 tolerance (median <= 5e-3, none > 1e-2). Then exactly the same greedy tokens alone and in a batch
of 32. Prints a table; exit status 1 on any failure.

  python3 tests/gpu/full_width_check.py --bin DIR_WITH_full_width_logits --shared .carry/shared --work /tmp/fw
"""
import argparse, os, subprocess, sys
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--shared", required=True)
ap.add_argument("--work", default="/tmp/awqserve-fullwidth")
ap.add_argument("--lengths", default="1,17,500,5000")
ap.add_argument("--qk-scale", default="1.0")
a = ap.parse_args()
sys.path.insert(0, os.path.join(a.shared, "tools"))
import awq_reference as ar  # noqa: E402
import torch  # noqa: E402

os.makedirs(a.work, exist_ok=True)
model_dir = os.path.join(a.work, "model")
base_config = os.path.join(a.shared, "assets/mistral-7b-instruct-v0.1/config.json")
tool = os.path.join(a.bin, "full_width_logits")
# The packed binaries' shared libraries (scripts/device-pack.sh puts them in lib/ beside bin/).
lib = os.path.join(os.path.dirname(os.path.abspath(a.bin)), "lib")
env = dict(os.environ, LD_LIBRARY_PATH=":".join(p for p in [lib, os.environ.get("LD_LIBRARY_PATH", "")] if p))
common = ["--base-config", base_config, "--dir", model_dir, "--qk-scale", a.qk_scale]

cases = []
for L in [int(x) for x in a.lengths.split(",")]:
    rng = np.random.default_rng(L)
    ids = [1] + rng.integers(3, 32000, size=L - 1).tolist()
    step = max(1, L // 20)
    positions = sorted(set(list(range(0, L, step)) + [L - 1]))
    f = os.path.join(a.work, f"ids{L}.txt")
    open(f, "w").write(",".join(map(str, ids)))
    out = os.path.join(a.work, f"ours{L}.npy")
    subprocess.run([tool, *common, "--ids-file", f, "--positions", ",".join(map(str, positions)), "--out", out],
                   check=True, env=env)
    cases.append((L, ids, positions, np.load(out)))

models = {dt: ar.hf_model(model_dir, dt).to("cuda") for dt in ("float32", "float16")}
ok = True
print(f"{'prompt':>6} {'positions':>9} {'ours med':>9} {'hf16 med':>9} {'ours last':>9} {'hf16 last':>9} "
      f"{'argmax=':>7} verdict")
for L, ids, positions, ours in cases:
    with torch.inference_mode():
        t = torch.tensor([ids], device="cuda")
        r32 = models["float32"](t).logits[0, positions].float().cpu().numpy()
        r16 = models["float16"](t).logits[0, positions].float().cpu().numpy()
    rel = lambda x: np.linalg.norm(x - r32, axis=1) / np.linalg.norm(r32, axis=1)
    e_ours, e_16 = rel(ours), rel(r16)
    agree = float(np.mean(ours.argmax(1) == r32.argmax(1)))
    relative_ok = np.median(e_ours) <= 1.5 * np.median(e_16) and e_ours[-1] <= 1.5 * e_16[-1]
    fixed_ok = np.median(e_ours) <= 5e-3 and e_ours.max() <= 1e-2
    good = bool(relative_ok or fixed_ok)
    ok &= good
    print(f"{L:6d} {len(positions):9d} {np.median(e_ours):9.2e} {np.median(e_16):9.2e} {e_ours[-1]:9.2e} "
          f"{e_16[-1]:9.2e} {agree:7.3f} {'PASS' if good else 'FAIL'}"
          f" ({'<=1.5x hf16' if relative_ok else ''}{' fixed' if fixed_ok else ''})", flush=True)

f = os.path.join(a.work, "ids5000.txt")
if os.path.exists(f):
    r = subprocess.run([tool, *common, "--ids-file", f, "--greedy-batch", "32"], env=env)
    ok &= r.returncode == 0
print("full-width check:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
