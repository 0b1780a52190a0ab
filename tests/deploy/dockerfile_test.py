"""deploy/docker: no Docker engine runs here, so the images cannot be built in CI. This checks what can be checked
without one: the Dockerfiles use the repository's install script and real CMake options, produce the binaries the
Kubernetes manifests run, run as the user the securityContext expects and expose the ports the pod declares.
"""
import os
import re
import subprocess
import unittest

import yaml

SOURCE = os.environ.get("AWQSERVE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOCKER = os.path.join(SOURCE, "deploy", "docker")
KUBECTL = os.environ.get("KUBECTL", "kubectl")


def read(name):
    with open(os.path.join(DOCKER, name)) as f:
        return f.read()


def instructions(text):
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    lines = [l for l in text.splitlines() if not l.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^(\w+)\s+(.*)$", joined, re.M)]


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = subprocess.run([KUBECTL, "kustomize", os.path.join(SOURCE, "deploy", "k8s", "base")], check=True,
                             capture_output=True, text=True).stdout
        dep = next(d for d in yaml.safe_load_all(out) if d and d["kind"] == "Deployment")
        cls.pod = dep["spec"]["template"]["spec"]
        cls.containers = cls.pod["initContainers"] + cls.pod["containers"]
        with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
            cls.cmake_options = set(re.findall(r"\b(?:option|set)\((AWQSERVE_\w+)", f.read()))

    def check(self, name, image, binaries):
        ins = instructions(read(name))
        runs = " ".join(a for k, a in ins if k == "RUN")
        self.assertIn("scripts/install-deps.sh", runs)
        self.assertTrue(os.access(os.path.join(SOURCE, "scripts", "install-deps.sh"), os.X_OK))
        for opt in re.findall(r"-D(AWQSERVE_\w+)=", runs):
            self.assertIn(opt, self.cmake_options, f"{name}: unknown CMake option {opt}")
        self.assertEqual(sum(k == "FROM" for k, _ in ins), 2, f"{name}: a build stage and a runtime stage")
        (user,) = [a for k, a in ins if k == "USER"]
        self.assertEqual(user, f"{self.pod['securityContext']['runAsUser']}:{self.pod['securityContext']['runAsGroup']}")
        exposed = {int(p) for k, a in ins if k == "EXPOSE" for p in a.split()}
        for c in self.containers:
            if c["image"] != image:
                continue
            self.assertIn(c["command"][0], binaries, f"{name}: {c['name']} runs {c['command'][0]}")
            for p in c.get("ports", []):
                self.assertIn(p["containerPort"], exposed, f"{name}: {c['name']} port {p['containerPort']}")
        self.assertTrue(os.path.exists(os.path.join(DOCKER, name + ".dockerignore")))
        return runs

    def test_slim_image(self):
        binaries = ["awqserve-gateway", "awqserve-template", "awqserve-tokenizer", "awqserve-generation"]
        runs = self.check("Dockerfile", "awqserve:0.1.0", binaries)
        self.assertIn("-DAWQSERVE_CUDA=OFF", runs)
        for b in binaries:
            self.assertIn(f"/out/bin/{b}", runs)

    def test_cuda_image(self):
        runs = self.check("Dockerfile.cuda", "awqserve-cuda:0.1.0", ["awqserve-generation"])
        self.assertIn("-DAWQSERVE_CUDA=ON", runs)
        self.assertRegex(read("Dockerfile.cuda"), r"FROM nvidia/cuda:\$\{CUDA_VERSION\}-runtime-")


if __name__ == "__main__":
    unittest.main()
