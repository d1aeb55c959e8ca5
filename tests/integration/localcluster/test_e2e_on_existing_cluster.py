"""The end-to-end suite runs against an existing cluster given by ``STIGG_E2E_KUBECONFIG``, as a
user's kind or k3d cluster: here one started by ``stigg-localcluster up`` in another process
plays that part, its images loaded by ``stigg-localcluster load-images`` (what
``kind load image-archive`` does for kind). The suite then starts no cluster of its own, finds
the images already there, and at its end removes what it installed: its namespaces, the
emulator, the operator, the webhook configuration and the CRDs."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from stigg_devkit import images
from stigg_localcluster import build
from tests.integration.localcluster import conftest

ROOT = pathlib.Path(__file__).resolve().parents[3]
# Two tests of the suite: the operator as a Pod, and an injected Pod checking through the
# emulator's Pod; every other test uses the same fixtures.
SELECTED = "tests/integration/node/test_injected_pod.py"


@pytest.mark.slow
def test_the_suite_runs_on_a_cluster_it_did_not_start(
    short_state_dir: pathlib.Path, node_binaries: build.Binaries
) -> None:
    archives = [str(image.archive) for image in images.ensure_built().values()]
    kubeconfig = short_state_dir / "kubeconfig"
    try:
        up = conftest.cli("up", "--state-dir", str(short_state_dir))
        assert up.returncode == 0, up.stderr
        loaded = conftest.cli("load-images", "--state-dir", str(short_state_dir), *archives)
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stderr.count("imported ") == len(archives)

        suite = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", SELECTED],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=ROOT,
            env={
                **os.environ,
                "STIGG_E2E_KUBECONFIG": str(kubeconfig),
                "KUBECTL": str(node_binaries.kubectl),
            },
        )
        report = suite.stdout + suite.stderr
        assert suite.returncode == 0, report[-4000:]
        assert f"end-to-end suite (tests/integration/node) on the existing cluster of {kubeconfig}" in report
        assert "2 passed" in report

        # What the suite installed is gone; the cluster's own objects are left.
        def names(*args: str) -> set[str]:
            listed = subprocess.run(
                [str(node_binaries.kubectl), f"--kubeconfig={kubeconfig}", "get", *args, "-o", "json"],
                capture_output=True,
                text=True,
                check=True,
            )
            return {item["metadata"]["name"] for item in json.loads(listed.stdout)["items"]}

        assert names("namespaces") == {"default", "kube-node-lease", "kube-public", "kube-system"}
        assert names("customresourcedefinitions") == set()
        assert names("mutatingwebhookconfigurations") == set()
        assert not {name for name in names("clusterroles") if name.startswith("stigg-operator")}
    finally:
        down = conftest.cli("down", "--state-dir", str(short_state_dir))
    assert down.returncode == 0, down.stderr
