"""The node's namespaces, seen from the host: start them, run processes in them, remove them.

A ``Sandbox`` is one network namespace, one mount namespace and one PID namespace, held by
``nsinit`` as their process 1 (under ``unshare``), plus a cgroup root of the harness's own
(``cgroups``). The whole cluster runs inside: etcd, the apiserver and the controllers as well
as containerd, kubelet and kube-proxy, each started by ``nsenter`` into the three namespaces.
Pod and Service addresses exist only in there; the host reaches the apiserver and Pods
through ``forward`` processes on its loopback.

What the node would change on the host, it changes only inside: the folders it writes at
fixed paths are overlaid (``OVERLAID``), the three kernel settings kubelet sets are bound
over by files (``KUBELET_SYSCTLS``), kube-proxy's iptables rules live in the namespace. Ending
process 1 kills every process of the PID namespace, and with them the mounts and the network
namespace; ``stop`` then removes the cgroup root. When the starter dies without a ``stop``
(SIGKILL: its tied processes die with it), nobody would: a ``reaper`` started beside the
sandbox, and outliving its starter, removes the cgroup root once the sandbox is gone. A start
removes what an earlier run of the same state folder left (its cgroup root, its overlay
layers). ``audit`` lists whatever is left on the host.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence

from stigg_localcluster import cgroups, processes, reaper

# Folders kubelet, containerd, runc and the CNI plugins write at fixed paths whatever their
# options say (device-plugin and pod-resources sockets, /var/log/containers links, CNI
# caches, shim sockets under /run/containerd, /opt/containerd, /usr/libexec/kubernetes).
OVERLAID = ("/var/lib", "/var/log", "/run", "/etc", "/opt", "/usr/libexec")
# What kubelet sets for the whole machine when the values differ (and wants to read back).
KUBELET_SYSCTLS = {"vm.overcommit_memory": "1", "kernel.panic": "10", "kernel.panic_on_oops": "1"}
DEFAULT_MEMORY_LIMIT = 8 * 1024**3
_NS_GET_PARENT = 0xB702  # ioctl on a namespace file: a file of the namespace it is nested in


class SandboxError(RuntimeError):
    """The namespaces could not be made or entered; the message says which step."""


@dataclasses.dataclass(frozen=True)
class Network:
    """The addresses inside the namespace. None of them is routed anywhere outside it."""

    node_ip: str = "10.200.0.2"
    peer_ip: str = "10.200.0.1"
    prefix: int = 30
    node_link: str = "node0"
    peer_link: str = "node1"
    pod_cidr: str = "10.244.0.0/24"
    service_cidr: str = "10.96.0.0/16"
    kubernetes_service_ip: str = "10.96.0.1"


def cgroup_name(state_dir: pathlib.Path) -> str:
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
    return f"{cgroups.PREFIX}{digest}"


class Sandbox:
    """The namespaces of one cluster, rooted in ``state_dir / "sandbox"``."""

    def __init__(
        self,
        state_dir: pathlib.Path,
        *,
        attached: bool,
        network: Network | None = None,
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.attached = attached
        self.network = network or Network()
        self.memory_limit_bytes = memory_limit_bytes
        self.cgroup = cgroup_name(self.state_dir)
        self.holder: processes.ProcessRecord | None = None
        self.init_pid: int | None = None
        self.reaper: processes.ProcessRecord | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._reaper_child: subprocess.Popen[bytes] | None = None

    @property
    def folder(self) -> pathlib.Path:
        return self.state_dir / "sandbox"

    @property
    def netns_path(self) -> str:
        return f"/proc/{self._init_pid()}/ns/net"

    def _init_pid(self) -> int:
        if self.init_pid is None:
            raise SandboxError("the sandbox is not running")
        return self.init_pid

    def enter(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespaces (as a child of process 1's namespaces, not of it)."""
        return [
            "nsenter",
            f"--target={self._init_pid()}",
            "--mount",
            "--net",
            "--pid",
            "--",
            *argv,
        ]

    def run(self, argv: Sequence[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside to completion; raises with its output when it fails."""
        completed = subprocess.run(
            self.enter(argv), capture_output=True, text=True, check=False, timeout=timeout
        )
        if completed.returncode != 0:
            raise SandboxError(f"{' '.join(argv)} failed in the sandbox: {completed.stderr.strip()}")
        return completed

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], processes.ProcessRecord]:
        """Make the namespaces, the reaper and the cgroup root; returns the holder's process and
        record. Whatever an earlier run of this state folder left (a crash) is removed first."""
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        leftover = cgroups.remove(self.cgroup, timeout=5)
        if leftover:
            raise SandboxError(f"cgroups of an earlier run are still busy: {leftover}")
        # An earlier run's layers would show its /run/containerd, /var/lib/kubelet, … in this one.
        shutil.rmtree(folder / "layers", ignore_errors=True)
        ready = folder / "ready"
        ready.unlink(missing_ok=True)
        plan = self._plan(ready)
        plan_path = folder / "plan.json"
        plan_path.write_text(json.dumps(plan, indent=2))
        argv = [
            "unshare",
            "--net",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            "--",
            sys.executable,
            "-I",
            "-m",
            "stigg_localcluster.nsinit",
            str(plan_path),
        ]
        log = self.state_dir / "logs" / "sandbox.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        child, record = processes.start("sandbox", argv, log, attached=self.attached)
        self._child, self.holder = child, record
        try:
            try:
                processes.wait_for_file(child, ready, timeout)
            except processes.NotReady as error:
                raise SandboxError(f"the sandbox {error}; {log}:\n{log.read_text()[-2000:]}") from None
            self.init_pid = _only_child(record.pid)
            # The cgroup root is made only once its reaper watches the holder and process 1: a
            # starter killed at any point leaves no cgroup that nobody will remove.
            self._start_reaper()
            cgroups.create(self.cgroup, memory_limit_bytes=self.memory_limit_bytes)
        except BaseException:
            self.stop()
            raise
        return child, record

    def _start_reaper(self) -> None:
        init = processes.running("sandbox-init", self._init_pid())
        if self.holder is None or init is None:
            raise SandboxError("the sandbox ended as it started")
        log = self.state_dir / "logs" / "sandbox-reaper.log"
        # Never attached: it must outlive a starter that dies without stopping the sandbox.
        self._reaper_child, self.reaper = processes.start(
            "sandbox-reaper", reaper.argv(self.cgroup, [self.holder, init]), log, attached=False
        )

    def stop(self) -> None:
        """End the namespaces (every process in them dies) and remove the cgroup root."""
        if self.holder is not None:
            processes.stop([self.holder], children=[self._child] if self._child else [], grace=5)
        self.holder, self.init_pid, self._child = None, None, None
        left = cgroups.remove(self.cgroup)
        if left:  # the reaper, if there is one, keeps trying
            raise SandboxError(f"cgroups still busy after the sandbox ended: {left}")
        if self.reaper is not None:
            # It exits by itself once the holder and process 1 are gone and the cgroups with them.
            children = [self._reaper_child] if self._reaper_child else []
            deadline = time.monotonic() + 10
            while processes.is_running(self.reaper) and time.monotonic() < deadline:
                time.sleep(0.02)
                for child in children:
                    child.poll()
            processes.stop([self.reaper], children=children, grace=2)
        self.reaper, self._reaper_child = None, None

    def members(self) -> list[tuple[int, tuple[str, ...]]]:
        """Every process in the sandbox's PID namespace or one nested in it (host pids and
        command lines): process 1, the components, containerd's shims, and the Pods' pause and
        containers (runc gives each container a PID namespace of its own, inside)."""
        try:
            own = os.stat(f"/proc/{self._init_pid()}/ns/pid").st_ino
        except FileNotFoundError:
            return []
        found: list[tuple[int, tuple[str, ...]]] = []
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                inside = own in _pid_namespaces(entry / "ns" / "pid")
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            cmdline = processes.command_line(int(entry.name)) if inside else None
            if cmdline:
                found.append((int(entry.name), cmdline))
        return sorted(found)

    # -- state ------------------------------------------------------------------------------
    def to_state(self) -> dict[str, object]:
        return {
            "holder": dataclasses.asdict(self.holder) if self.holder else None,
            "init_pid": self.init_pid,
            "reaper": dataclasses.asdict(self.reaper) if self.reaper else None,
            "network": dataclasses.asdict(self.network),
        }

    @classmethod
    def from_state(cls, state_dir: pathlib.Path, state: dict[str, object]) -> Sandbox:
        network = state.get("network")
        sandbox = cls(
            state_dir,
            attached=False,
            network=Network(**network) if isinstance(network, dict) else None,
        )
        holder, reaper_record = state.get("holder"), state.get("reaper")
        if isinstance(holder, dict):
            sandbox.holder = processes.ProcessRecord(**{**holder, "cmdline": tuple(holder["cmdline"])})
        if isinstance(reaper_record, dict):
            sandbox.reaper = processes.ProcessRecord(
                **{**reaper_record, "cmdline": tuple(reaper_record["cmdline"])}
            )
        init_pid = state.get("init_pid")
        sandbox.init_pid = init_pid if isinstance(init_pid, int) else None
        return sandbox

    def _plan(self, ready: pathlib.Path) -> dict[str, object]:
        values = self.folder / "sysctl"
        values.mkdir(exist_ok=True)
        files: dict[str, str] = {}
        for entry, value in KUBELET_SYSCTLS.items():
            path = values / entry
            path.write_text(f"{value}\n")
            files[entry] = str(path)
        net = self.network
        return {
            "layers": str(self.folder / "layers"),
            "overlays": list(OVERLAID),
            "sysctl_files": files,
            "network": {
                "node_ip": net.node_ip,
                "peer_ip": net.peer_ip,
                "prefix": net.prefix,
                "node_link": net.node_link,
                "peer_link": net.peer_link,
                "service_cidr": net.service_cidr,
            },
            "ready_file": str(ready),
        }


def _pid_namespaces(link: pathlib.Path) -> list[int]:
    """The inodes of the PID namespace at ``link`` (``/proc/<pid>/ns/pid``) and of each one it is
    nested in, up to this process's own."""
    inodes: list[int] = []
    handle = os.open(link, os.O_RDONLY)
    try:
        while True:
            inodes.append(os.fstat(handle).st_ino)
            try:
                parent = fcntl.ioctl(handle, _NS_GET_PARENT)
            except OSError:  # EPERM: the namespace's parent is beyond this process's own
                return inodes
            os.close(handle)
            handle = parent
    finally:
        os.close(handle)


def _only_child(pid: int, timeout: float = 5.0) -> int:
    """The one child of ``pid`` (unshare's: process 1 of the new PID namespace), by host pid."""
    deadline = time.monotonic() + timeout
    path = pathlib.Path(f"/proc/{pid}/task/{pid}/children")
    while time.monotonic() < deadline:
        children = path.read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.01)
    raise SandboxError(f"process {pid} has no child")
