"""``stigg-localcluster up`` starts a cluster with a node that outlives the command; ``down``,
from another process, stops all of it and leaves nothing on the host."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from stigg_localcluster import audit, build, cgroups, node, sandbox
from tests.integration.localcluster import conftest


@pytest.mark.slow
def test_up_status_down(short_state_dir: pathlib.Path, node_binaries: build.Binaries) -> None:
    state_dir = short_state_dir
    before = audit.HostSnapshot.take()
    try:
        up = conftest.cli("up", "--state-dir", str(state_dir))
        assert up.returncode == 0, up.stderr
        export = up.stdout.strip()
        assert export == f"export KUBECONFIG={state_dir / 'kubeconfig'}"
        assert f"with Node {node.NODE_NAME} Ready" in up.stderr

        # The `up` process has exited; its cluster still serves, and its node is Ready.
        kubeconfig = export.removeprefix("export KUBECONFIG=")
        nodes = subprocess.run(
            [str(node_binaries.kubectl), "get", "nodes", "--no-headers"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "KUBECONFIG": kubeconfig},
        )
        assert nodes.stdout.split()[:2] == [node.NODE_NAME, "Ready"], nodes.stdout
        assert cgroups.existing(sandbox.cgroup_name(state_dir))

        status = conftest.cli("status", "--state-dir", str(state_dir))
        assert status.returncode == 0, status.stdout + status.stderr
        for name in (
            "sandbox",
            "etcd",
            "kube-apiserver",
            "containerd",
            "kubelet",
            "kube-proxy",
            "sandbox-reaper",
        ):
            assert any(
                line.split()[:1] == [name] and " running " in line for line in status.stdout.splitlines()
            ), (
                name,
                status.stdout,
            )
        assert "processes in the sandbox" in status.stdout
        assert " kubelet --config=" in status.stdout  # the node's own processes, by their host pids

        again = conftest.cli("up", "--state-dir", str(state_dir))
        assert again.returncode == 0
        assert "already running" in again.stderr
    finally:
        down = conftest.cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert audit.left_behind(before, state_dir) == []
    assert conftest.cli("status", "--state-dir", str(state_dir)).returncode == 1
