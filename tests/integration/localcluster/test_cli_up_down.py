"""``stigg-localcluster up`` starts a cluster that outlives the command; ``down`` stops all of it."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from stigg_localcluster import build, processes


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stigg_localcluster", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "STIGG_LOCALCLUSTER_CACHE": str(build.cache_root())},
    )


@pytest.mark.slow
def test_up_status_down(tmp_path: pathlib.Path, control_plane_binaries: build.Binaries) -> None:
    state_dir = tmp_path / "by-hand"
    try:
        up = _cli("up", "--state-dir", str(state_dir))
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == f"export KUBECONFIG={state_dir / 'kubeconfig'}"
        assert "ready at https://127.0.0.1:" in up.stderr

        # The `up` process has exited; its cluster still serves.
        kubectl = [str(control_plane_binaries.kubectl), f"--kubeconfig={state_dir / 'kubeconfig'}"]
        namespaces = subprocess.run(
            [*kubectl, "get", "namespaces", "-o", "name"], capture_output=True, text=True, check=True
        )
        assert "namespace/kube-system" in namespaces.stdout.split()

        status = _cli("status", "--state-dir", str(state_dir))
        assert status.returncode == 0
        assert status.stdout.count("running") == 3

        again = _cli("up", "--state-dir", str(state_dir))
        assert again.returncode == 0
        assert "already running" in again.stderr
    finally:
        down = _cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert list(processes.find_referencing(state_dir)) == []
    assert _cli("status", "--state-dir", str(state_dir)).returncode == 1
