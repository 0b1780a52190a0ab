"""The flags the Kubernetes manifests pass are flags the binaries know: each server binary's --helpfull lists them
(an unknown flag would stop the container at start, which no schema can catch).

Environment: AWQ_{GATEWAY,TEMPLATE,TOKENIZER,GENERATION}_BIN, AWQSERVE_SOURCE_DIR, KUBECTL.
"""
import os
import re
import shutil
import subprocess
import unittest

import yaml

SOURCE = os.environ.get("AWQSERVE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KUBECTL = os.environ.get("KUBECTL", shutil.which("kubectl") or "kubectl")
PROCESSES = ("gateway", "template", "tokenizer", "generation")


def known_flags(binary):
    proc = subprocess.run([binary, "--helpfull"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"^\s+--(\w+) \(", proc.stdout + proc.stderr, re.M))


class ManifestFlagsTest(unittest.TestCase):
    def test_every_flag_is_known_to_its_binary(self):
        flags = {}
        for p in PROCESSES:
            binary = os.environ.get(f"AWQ_{p.upper()}_BIN")
            self.assertTrue(binary and os.access(binary, os.X_OK), f"AWQ_{p.upper()}_BIN={binary!r}")
            flags[p] = known_flags(binary)
            self.assertIn("listen", flags[p])
            self.assertNotIn("no_such_flag", flags[p])
        checked = 0
        for overlay in ("base", "overlays/gpu", "overlays/cpu"):
            out = subprocess.run([KUBECTL, "kustomize", os.path.join(SOURCE, "deploy", "k8s", overlay)], check=True,
                                 capture_output=True, text=True).stdout
            dep = next(d for d in yaml.safe_load_all(out) if d and d["kind"] == "Deployment")
            spec = dep["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []) + spec["containers"]:
                if c["name"] not in PROCESSES:
                    continue
                self.assertEqual(c["command"], [f"awqserve-{c['name']}"])
                for arg in c.get("args", []):
                    m = re.fullmatch(r"--(\w+)=.*", arg)
                    with self.subTest(overlay=overlay, container=c["name"], arg=arg):
                        self.assertIsNotNone(m, "flags are written --name=value")
                        self.assertIn(m.group(1), flags[c["name"]])
                        checked += 1
        self.assertGreater(checked, 40)


if __name__ == "__main__":
    unittest.main()
