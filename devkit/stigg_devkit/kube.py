"""A Kubernetes cluster as the end-to-end suite drives it: ``kubectl`` with one kubeconfig, and
port-forwards from the host's loopback to Pods, through the apiserver and the kubelet.

The suite (``tests/integration/node``) reaches every cluster this way, the local cluster it
starts itself and an existing one given by ``STIGG_E2E_KUBECONFIG`` (kind, k3d, any), so both
run the same code: nothing assumes a route into the cluster's Pod or Service networks, only
the apiserver's address in the kubeconfig.

* ``Cluster.kubectl`` runs ``kubectl --kubeconfig=…`` and returns stdout (``KubectlError``
  with its stderr on failure); ``get`` parses ``-o json``; ``apply`` sends objects as a List.
* ``Cluster.port_forward(namespace, pod, port)`` runs ``kubectl port-forward`` to a free
  loopback port, reads the port kubectl announces, and keeps one forward per target while it
  lives (a dead one is restarted); ``close`` stops them all. The processes die with the test
  process (``childproc.tied``).
* ``Cluster.pod_trouble`` says why a Pod is not Ready, in a line (a waiting reason such as
  ``ErrImageNeverPull`` with its message, or the last warning event), for errors that name
  the cause instead of "timed out".
* ``kubectl_binary()`` picks the client: ``$KUBECTL``, else ``kubectl`` on ``PATH``.
* ``restricted_security_context()``: a container's securityContext that passes Pod Security
  ``restricted`` and runs the project's images as their non-root user on a read-only root.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

from stigg_devkit import childproc

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) ->")
NONROOT_UID = 65532  # the images' "nonroot" user


def restricted_security_context() -> dict[str, Any]:
    """A fresh container securityContext within Pod Security ``restricted``, read-only root."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": NONROOT_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


class KubectlError(RuntimeError):
    """kubectl failed; the message carries the command and its stderr."""


def kubectl_binary() -> str | None:
    """The kubectl to use for an existing cluster: ``$KUBECTL``, else the one on ``PATH``."""
    return os.environ.get("KUBECTL") or shutil.which("kubectl")


@dataclasses.dataclass
class _Forward:
    process: subprocess.Popen[bytes]
    port: int


@dataclasses.dataclass
class Cluster:
    """One cluster, through ``kubectl`` and a kubeconfig (its current context)."""

    kubeconfig: pathlib.Path
    kubectl_path: str = "kubectl"
    _forwards: dict[tuple[str, str, int], _Forward] = dataclasses.field(default_factory=dict, repr=False)

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True, timeout: float = 120
    ) -> str:
        """Run kubectl with ``args`` and return its stdout."""
        completed = subprocess.run(
            [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and completed.returncode != 0:
            raise KubectlError(f"kubectl {' '.join(args)} failed: {completed.stderr.strip()}")
        return completed.stdout

    def get(self, *args: str) -> Any:
        """``kubectl get ARGS -o json``, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def apply(self, *objects: Mapping[str, Any]) -> None:
        """Apply ``objects`` in one call (as a List)."""
        items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        self.kubectl("apply", "-f", "-", input_text=json.dumps(items))

    def port_forward(self, namespace: str, pod: str, port: int, timeout: float = 30) -> int:
        """A loopback port of this host that reaches ``port`` of Pod ``namespace/pod``."""
        key = (namespace, pod, port)
        forward = self._forwards.get(key)
        if forward is not None and forward.process.poll() is None:
            return forward.port
        argv = [
            self.kubectl_path, f"--kubeconfig={self.kubeconfig}", "-n", namespace,
            "port-forward", "--address=127.0.0.1", f"pod/{pod}", f":{port}",
        ]  # fmt: skip
        process = subprocess.Popen(
            childproc.tied(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        try:
            line = childproc.first_line(process, timeout, f"kubectl port-forward to {namespace}/{pod}:{port}")
            match = FORWARDING.match(line)
            if match is None:
                raise KubectlError(f"unexpected first line from kubectl port-forward: {line!r}")
        except BaseException:
            childproc.stop(process, 5)
            raise
        self._forwards[key] = _Forward(process, int(match.group(1)))
        return self._forwards[key].port

    def close(self) -> None:
        """Stop every port-forward this object started."""
        for forward in self._forwards.values():
            childproc.stop(forward.process, 5)
            if forward.process.stdout is not None:
                forward.process.stdout.close()
        self._forwards.clear()

    def pod_trouble(self, namespace: str, pod: str) -> str:
        """Why Pod ``namespace/pod`` is not Ready, in one line ('' if nothing is known)."""
        listed = self.kubectl(
            "-n", namespace, "get", "pod", pod, "-o", "json", "--ignore-not-found", check=False
        )
        if not listed.strip():
            return f"pod {namespace}/{pod} does not exist"
        live = json.loads(listed)
        status = live.get("status") or {}
        for entry in (*status.get("initContainerStatuses", ()), *status.get("containerStatuses", ())):
            waiting = (entry.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
                return (
                    f"container {entry['name']}: {waiting['reason']}: {waiting.get('message', '')}".rstrip()
                )
        events = self.kubectl(
            "-n", namespace, "get", "events", f"--field-selector=involvedObject.name={pod},type=Warning",
            "-o", "json", check=False,
        )  # fmt: skip
        items = json.loads(events).get("items", []) if events.strip() else []
        if items:
            last = items[-1]
            return f"{last.get('reason')}: {last.get('message', '')}".rstrip()
        return f"phase {status.get('phase', 'unknown')}"
