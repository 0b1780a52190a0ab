#!/usr/bin/env python3
"""Writes reference outputs of shared/tools/awq_reference.py on seeded random data, for awq_format_test.

  awq_reference_cases.py SHARED_TOOLS_DIR OUT.safetensors

Per case c (shape K x N, group G): c.q (uint4 values as int32), c.packed = pack_awq(q), c.rand_packed (random
words), c.rand_unpacked = unpack_awq(rand_packed), c.w (float32 [K, N]), c.qweight/c.qzeros/c.scales =
quantize_rtn(w, G), c.dequant = dequant(qweight, qzeros, scales, G). Plus f16.in (float32) and f16.out =
f16.in.astype(float16) for the half-precision rounding the quantizer depends on.
"""
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
import awq_reference as ref  # noqa: E402

CASES = [(128, 64, 32), (256, 8, 128), (64, 192, 64), (384, 128, 128)]


def main():
    rng = np.random.default_rng(20261128)
    out = {}
    for c, (K, N, G) in enumerate(CASES):
        q = rng.integers(0, 16, size=(K, N), dtype=np.uint32)
        out[f"{c}.q"] = q.astype(np.int32)
        out[f"{c}.packed"] = ref.pack_awq(q)
        rp = rng.integers(0, 2**32, size=(K, N // 8), dtype=np.uint64).astype(np.uint32).view(np.int32)
        out[f"{c}.rand_packed"] = rp
        out[f"{c}.rand_unpacked"] = ref.unpack_awq(rp).astype(np.int32)
        w = (rng.standard_normal((K, N)) * rng.choice([0.02, 1.0, 30.0])).astype(np.float32)
        w[:G, 0] = 0.25           # a constant group: the 1e-5 scale floor
        w[:G, 1] = np.linspace(-1, 1, G, dtype=np.float32)  # ties at .5 after scaling
        w[G:2 * G, 2] = np.abs(w[G:2 * G, 2])               # all-positive group: zero point clips to 0
        out[f"{c}.w"] = w
        qw, qz, s = ref.quantize_rtn(w, G)
        out[f"{c}.qweight"], out[f"{c}.qzeros"], out[f"{c}.scales"] = qw, qz, s
        out[f"{c}.dequant"] = ref.dequant(qw, qz, s, G).astype(np.float32)
    bits = rng.integers(0, 2**32, size=20000, dtype=np.uint64).astype(np.uint32)
    f = bits.view(np.float32)
    f = f[np.isfinite(f)]
    specials = np.array([0.0, -0.0, 65504, 65519.99, 65520, 1e-8, 2.9802322e-08, 2.98023224e-08, 5.96e-8,
                         6.1035156e-05, 6.1e-05, 1 / 3, -2.5, 1.0009765625, 1.00048828125, np.inf, -np.inf],
                        dtype=np.float32)
    scaled = (rng.standard_normal(20000) * np.exp(rng.uniform(-20, 12, 20000))).astype(np.float32)
    f = np.concatenate([specials, f, scaled]).astype(np.float32)
    with np.errstate(over="ignore"):
        out["f16.in"], out["f16.out"] = f, f.astype(np.float16)
    ref.write_safetensors(sys.argv[2], out)


if __name__ == "__main__":
    main()
