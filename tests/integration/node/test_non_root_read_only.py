"""The injected sidecar and the operator run, on the real kubelet and runc, as the non-root uid
65532 on a read-only root filesystem: their Pod specs ask for it, and from inside each running
container (``kubectl exec``) the process's uid and gid are 65532, creating a file at ``/``
fails with EROFS (a read-only mount, not a permission error), the one writable volume is
writable, no capability is effective and privilege escalation is off (``no_new_privs``); the
kubelet's container status reports the same uid."""

from __future__ import annotations

import errno
import json
from typing import Any

from stigg_devkit import kube
from stigg_operator import keys
from tests.integration.node import conftest

UID = 65532

# Run inside a container: what the process is, and what it may write. ``argv[1]``: a directory
# of a writable volume of that container.
PROBE = """
import json, os, sys, uuid

def attempt(folder):
    path = os.path.join(folder, f"probe-{uuid.uuid4().hex}")
    try:
        with open(path, "w") as handle:
            handle.write("x")
    except OSError as error:
        return error.errno
    os.unlink(path)
    return 0

lines = open("/proc/self/status").read().splitlines()
status = dict(line.split(":\\t", 1) for line in lines if ":\\t" in line)
print(json.dumps({
    "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "root": attempt("/"), "writable": attempt(sys.argv[1]),
    "CapEff": status["CapEff"].strip(), "NoNewPrivs": status["NoNewPrivs"].strip(),
}))
"""


def _probe(local: kube.Cluster, namespace: str, pod: str, container: str, writable: str) -> Any:
    """``PROBE``'s findings in ``container`` of ``pod``, ``writable`` its writable folder."""
    out = local.kubectl("-n", namespace, "exec", pod, "-c", container, "--", "python", "-c", PROBE, writable)
    return json.loads(out.strip().splitlines()[-1])


def _assert_confined(seen: dict[str, Any]) -> None:
    assert (seen["uid"], seen["euid"], seen["gid"]) == (UID, UID, UID), seen
    assert 0 not in seen["groups"], seen
    assert seen["root"] == errno.EROFS, (errno.errorcode.get(seen["root"]), seen)
    assert seen["writable"] == 0, (errno.errorcode.get(seen["writable"]), seen)
    assert int(seen["CapEff"], 16) == 0, seen
    assert seen["NoNewPrivs"] == "1", seen


def test_the_injected_sidecar_runs_as_non_root_on_a_read_only_root(
    deployed: kube.Cluster, app_namespace: str, image_refs: dict[str, str]
) -> None:
    local, ns = deployed, app_namespace
    live = conftest.run_pod(local, ns, conftest.app_pod("shop", image_refs["sidecar"]))
    (sidecar,) = live["spec"]["initContainers"]
    assert sidecar["name"] == keys.SIDECAR_CONTAINER
    context = sidecar["securityContext"]
    assert context["runAsUser"] == UID
    assert context["runAsGroup"] == UID
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    (state_mount,) = [m for m in sidecar["volumeMounts"] if m["name"] == keys.STATE_VOLUME]
    assert state_mount["mountPath"] == keys.STATE_MOUNT_PATH

    _assert_confined(_probe(local, ns, "shop", keys.SIDECAR_CONTAINER, keys.STATE_MOUNT_PATH))
    (status,) = live["status"]["initContainerStatuses"]
    assert status["user"]["linux"]["uid"] == UID, status  # as the kubelet reports it too


def test_the_operator_runs_as_non_root_on_a_read_only_root(deployed: kube.Cluster) -> None:
    local, ns = deployed, conftest.OPERATOR_NAMESPACE
    pods = [
        p
        for p in local.get("-n", ns, "pods", "-l", "app.kubernetes.io/name=stigg-operator")["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]
    assert len(pods) == 2, "both replicas"
    for pod in pods:
        pod_context = pod["spec"]["securityContext"]
        assert pod_context["runAsUser"] == UID
        assert pod_context["runAsGroup"] == UID
        assert pod_context["runAsNonRoot"] is True
        (operator,) = pod["spec"]["containers"]
        context = operator["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        (tmp,) = [m for m in operator["volumeMounts"] if m["name"] == "tmp"]
        assert tmp["mountPath"] == "/tmp"  # noqa: S108 -- the operator's one writable path, an emptyDir

        _assert_confined(_probe(local, ns, pod["metadata"]["name"], operator["name"], "/tmp"))  # noqa: S108
        (status,) = pod["status"]["containerStatuses"]
        assert status["user"]["linux"]["uid"] == UID, status  # as the kubelet reports it too
