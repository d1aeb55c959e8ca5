"""A cluster with a node leaves nothing on the machine: after ``stop()``, and after its starter
was SIGKILLed.

Each test runs a real Pod first (the sidecar image, offline), so that everything a node makes
exists when it ends: containerd's shims, the Pod's pause and container processes, their
cgroups, the CNI bridge and IP allocations, kube-proxy's iptables rules. ``audit`` then
compares the host with a snapshot taken before the start: processes and their namespaces,
mounts, cgroups, the folders at the node's fixed paths, the packet-filtering rules and the
kernel settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import pytest

from stigg_devkit import images
from stigg_localcluster import audit, build, cgroups, cluster, sandbox

POD = "teardown"


def _pod(image: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "sidecar",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "env": [{"name": "OFFLINE", "value": "true"}],
                }
            ]
        },
    }


STARTER = textwrap.dedent(
    """
    import json, pathlib, sys, time
    from stigg_localcluster import cluster
    local = cluster.LocalCluster(pathlib.Path(sys.argv[1]), node=True)
    local.start(timeout=180)
    local.import_images([pathlib.Path(sys.argv[2])])
    local.kubectl("apply", "-f", "-", input_text=sys.argv[3])
    name = json.loads(sys.argv[3])["metadata"]["name"]
    local.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s")
    members = [" ".join(cmdline) for _, cmdline in local.sandbox.members()]
    print(json.dumps({"members": members}), flush=True)
    time.sleep(600)
    """
)


@pytest.fixture(scope="module")
def sidecar_image() -> images.Image:
    return images.ensure_built()["sidecar"]


def _programs(members: list[str]) -> set[str]:
    return {os.path.basename(command.split(" ", 1)[0]) for command in members}


def _kinds(differences: list[str]) -> set[str]:
    return {difference.split(":", 1)[0] for difference in differences}


@pytest.mark.slow
def test_stop_leaves_nothing_on_the_host(
    short_state_dir: pathlib.Path, node_binaries: build.Binaries, sidecar_image: images.Image
) -> None:
    before = audit.HostSnapshot.take()
    local = cluster.LocalCluster(short_state_dir, binaries=node_binaries, node=True)
    try:
        local.start(timeout=180)
        box = local.sandbox
        assert box is not None
        local.import_images([sidecar_image.archive])
        local.kubectl("apply", "-f", "-", input_text=json.dumps(_pod(sidecar_image.ref)))
        local.kubectl("wait", "--for=condition=Ready", f"pod/{POD}", "--timeout=120s")

        # Everything a node makes exists now: shims, the Pod's processes, its rules.
        members = [" ".join(cmdline) for _, cmdline in box.members()]
        assert {"containerd-shim-runc-v2", "pause", "kubelet", "kube-proxy"} <= _programs(members), members
        assert "KUBE-SERVICES" in box.run(["iptables-save"]).stdout
        assert cgroups.existing(box.cgroup)

        # Inside, kubelet finds the kernel settings it wants (bound over by files); the host
        # keeps its own.
        inside = {
            name: box.run(["cat", f"/proc/sys/{name.replace('.', '/')}"]).stdout.strip()
            for name in sandbox.KUBELET_SYSCTLS
        }
        assert inside == sandbox.KUBELET_SYSCTLS
        assert {name: audit.read_sysctl(name) for name in sandbox.KUBELET_SYSCTLS} == {
            name: before.sysctls[name] for name in sandbox.KUBELET_SYSCTLS
        }

        # The audit sees the running node (so that its empty answer below means something),
        # and even now only as processes, namespaces and the cgroup root: the host's mounts,
        # files, rules and settings are untouched while it runs, not only after.
        during = audit.left_behind(before, local.state_dir)
        assert {"namespace", "process", "cgroup"} <= _kinds(during), during
        assert _kinds(during) <= {"namespace", "process", "cgroup"}, during
    finally:
        local.stop()

    assert audit.left_behind(before, local.state_dir) == []


@pytest.mark.slow
def test_sigkilled_starter_leaves_nothing_on_the_host(
    short_state_dir: pathlib.Path, node_binaries: build.Binaries, sidecar_image: images.Image
) -> None:
    """No ``stop()`` runs: the kernel ends the tied processes, the PID namespace and with it
    the mounts and the network namespace; the reaper removes the cgroup root."""
    state_dir = short_state_dir.resolve()
    before = audit.HostSnapshot.take()
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            STARTER,
            str(state_dir),
            str(sidecar_image.archive),
            json.dumps(_pod(sidecar_image.ref)),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "STIGG_LOCALCLUSTER_CACHE": str(build.cache_root())},
    )
    try:
        assert starter.stdout is not None
        line = starter.stdout.readline()
        assert line, "the starter exited before its Pod was Ready"
        members = json.loads(line)["members"]
        assert {"containerd-shim-runc-v2", "pause", "kubelet"} <= _programs(members)
        assert cgroups.existing(sandbox.cgroup_name(state_dir))
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait()

    try:
        assert audit.settle(before, state_dir, timeout=60) == []
        assert (state_dir / "state.json").exists()  # nobody ran stop(): only the state folder knows

        # A new sandbox on the same state folder starts clean: the earlier run's overlay
        # layers (its /run/containerd, /var/lib/kubelet) are gone from its view.
        assert (state_dir / "sandbox" / "layers").exists()
        box = sandbox.Sandbox(state_dir, attached=True)
        box.start()
        try:
            for path in ("/run/containerd", "/var/lib/kubelet"):
                box.run(["test", "!", "-e", path])  # raises if it exists
        finally:
            box.stop()
    finally:
        with contextlib.suppress(cluster.ClusterError):  # whatever the assertions found
            cluster.LocalCluster.load(state_dir).stop()
    assert audit.left_behind(before, state_dir) == []
