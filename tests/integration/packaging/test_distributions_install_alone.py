"""Each product distribution installs alone, into a fresh virtual environment, from its own
folder and the stdlib-only ``envspec`` (as its image does): the sidecar's pulls no kopf,
kubernetes or cryptography and its ``stigg-sidecar`` starts and answers its probes; the
operator's pulls no gRPC server and no redis, and its modules import. Packages come from PyPI
(pip's cache makes a repeat quick), pinned by the repository's constraints."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import urllib.request

import pytest

from stigg_devkit import childproc, waiting
from tests.unit.packaging import layers

pytestmark = pytest.mark.slow


def _install_alone(folder: str, venv: pathlib.Path) -> set[str]:
    # Copies of the folders (the component and the envspec library it needs), so the build
    # leaves nothing in the checkout, as an image build.
    sources = []
    for name in ("envspec", folder):
        sources.append(venv.parent / f"{name}-source")
        shutil.copytree(
            layers.REPO_ROOT / name,
            sources[-1],
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
        )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "-c", str(layers.REPO_ROOT / "constraints.txt"), *map(str, sources),
        ],
        check=True,
        timeout=600,
    )  # fmt: skip
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {package["name"].lower().replace("_", "-") for package in json.loads(listed.stdout)}


def test_the_sidecar_installs_alone_without_operator_dependencies_and_starts(tmp_path: pathlib.Path) -> None:
    venv = tmp_path / "venv"
    installed = _install_alone("sidecar", venv)
    assert "stigg-entitlements-sidecar" in installed
    assert {"grpcio", "redis", "aiohttp"} <= installed
    assert not installed & {"kopf", "kubernetes", "cryptography", "jsonpatch", "stigg-entitlements-devkit"}

    http_port = childproc.free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OFFLINE": "true",
        "GRPC_PORT": str(childproc.free_port()),
        "SIDECAR_HTTP_PORT": str(http_port),
        "SIDECAR_BIND_ADDRESS": "127.0.0.1",
        "SIDECAR_STATE_DIR": str(tmp_path / "state"),
    }
    log = (tmp_path / "sidecar.log").open("wb")
    process = subprocess.Popen(
        childproc.tied([str(venv / "bin" / "stigg-sidecar")]),
        env=env,
        cwd=tmp_path,
        stderr=log,
    )
    try:

        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "sidecar.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=1) as answer:
                    return bool(json.loads(answer.read())["status"] == "UP")
            except OSError:
                return False

        waiting.wait_for(ready, what="the sidecar installed alone to be ready", timeout=30)
    finally:
        childproc.stop(process, 10)
        log.close()
    assert process.returncode == 0, (tmp_path / "sidecar.log").read_text()


def test_the_operator_installs_alone_without_grpc_or_redis(tmp_path: pathlib.Path) -> None:
    venv = tmp_path / "venv"
    installed = _install_alone("operator", venv)
    assert "stigg-entitlements-operator" in installed
    assert {"kopf", "kubernetes", "cryptography", "jsonpatch", "prometheus-client"} <= installed
    forbidden = {"grpcio", "grpcio-health-checking", "grpcio-reflection", "redis"}
    assert not installed & (forbidden | {"stigg-entitlements-sidecar", "stigg-entitlements-devkit"})
    modules = [
        f"stigg_operator.{path.stem}"
        for path in sorted((layers.REPO_ROOT / "operator" / "stigg_operator").glob("*.py"))
        if path.stem not in {"__init__", "__main__"}
    ]
    program = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    subprocess.run([str(venv / "bin" / "python"), "-c", program], check=True, cwd=tmp_path, timeout=120)
    assert (venv / "bin" / "stigg-operator").exists()
