"""What a local cluster could leave on the machine: a snapshot before, a comparison after.

A node (``sandbox``, ``node``) does everything that would change the host in namespaces and a
cgroup root of its own. This module checks that claim from the outside, the way a person
would after ``stigg-localcluster down``: ``HostSnapshot.take()`` before the cluster starts
records every channel through which it could leak, and ``before.diff(HostSnapshot.take())``
afterwards lists each difference in words (empty: nothing left). ``leftovers(state_dir)``
adds what belongs to one cluster whatever the snapshot (a process naming its state folder or
cgroup, its cgroup root, the node's fixed host paths); ``left_behind`` is both at once, and
``settle`` waits for it to come out empty (after a SIGKILL, the kernel and the ``reaper`` take
a moment).

What is compared:

- **processes**: the network, mount and PID namespaces of every process (a process in one that
  did not exist before is a leak), and the processes running a node program (containerd, its
  shims, runc, kubelet, kube-proxy, pause) that were not running before;
- **mounts**: the host's ``/proc/self/mountinfo``, line for line;
- **cgroups**: the top-level folders of every hierarchy, but for local clusters' own roots
  (``stigg-localcluster-<digest>``): other clusters come and go, and ``leftovers`` checks
  this one's by name;
- **files**: the top-level entries of the folders kubelet, containerd and the CNI plugins write
  at fixed paths (``sandbox.OVERLAID``), and whether the node's own paths there exist;
- **packet filtering**: ``iptables-save``, ``ip6tables-save`` and ``nft list ruleset`` (comments
  and counters left out);
- **kernel settings**: the three kubelet sets, IP forwarding, the bridge's iptables hook and
  conntrack's table size.

Each difference starts with its kind (``namespace:``, ``process:``, ``mount:``, ``cgroup:``,
``file:``, ``firewall:``, ``sysctl:``). The machine may be shared (another session building
images in namespaces of its own, say), so a process counts only if it descends from the
auditing process or from init (which adopts the orphans of a SIGKILLed starter and the
detached processes of ``up``), not from another process that was already running: a new
process of someone else's shell is not this cluster's. The other channels (mounts, files,
rules, settings) are compared whole: a change there by someone else would show up too.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import time
from collections.abc import Mapping

from stigg_localcluster import cgroups, processes, sandbox

NAMESPACES = ("net", "mnt", "pid")
# What runs in the node only; by program name (argv[0]'s base name, or the kernel's short name).
NODE_PROGRAMS = frozenset(
    {"containerd", "containerd-shim-runc-v2", "containerd-shim", "runc", "kubelet", "kube-proxy", "pause"}
)
FOLDERS = sandbox.OVERLAID
NODE_PATHS = (
    "/var/lib/kubelet",
    "/var/lib/cni",
    "/var/log/containers",
    "/var/log/pods",
    "/run/containerd",
    "/var/lib/containerd",
    "/opt/containerd",
    "/usr/libexec/kubernetes",
)
SYSCTLS = (
    *sandbox.KUBELET_SYSCTLS,
    "net.ipv4.ip_forward",
    "net.netfilter.nf_conntrack_max",
    "net.bridge.bridge-nf-call-iptables",
)
FIREWALL_COMMANDS = (("iptables-save",), ("ip6tables-save",), ("nft", "list", "ruleset"))
_COUNTERS = re.compile(r"\[\d+:\d+\]|counter packets \d+ bytes \d+")


@dataclasses.dataclass(frozen=True)
class ProcessInfo:
    """One process as a snapshot saw it."""

    pid: int
    ppid: int
    start_ticks: int
    command: str  # its command line, or its kernel name if it has none
    program: frozenset[str]  # argv[0]'s base name and the kernel's name for it
    namespaces: tuple[str, ...]  # "net:[4026531840]", … for each of NAMESPACES


@dataclasses.dataclass(frozen=True)
class HostSnapshot:
    """The machine as a cluster could change it, at one moment (see the module's docstring)."""

    auditor: int  # the pid that took it: its descendants are counted, as init's
    processes: Mapping[int, ProcessInfo]
    mounts: frozenset[str]
    cgroups: Mapping[str, frozenset[str]]  # hierarchy -> its top-level folders, clusters' roots aside
    folders: Mapping[str, frozenset[str]]  # folder -> its entries
    node_paths: frozenset[str]  # those of NODE_PATHS that exist
    firewall: Mapping[str, tuple[str, ...]]  # command -> its output, normalized
    sysctls: Mapping[str, str | None]  # None: not in this kernel

    @classmethod
    def take(cls) -> HostSnapshot:
        return cls(
            auditor=os.getpid(),
            processes=_processes(),
            mounts=frozenset(pathlib.Path("/proc/self/mountinfo").read_text().splitlines()),
            cgroups={
                str(mount): frozenset(
                    name for name in _entries(mount, folders_only=True) if not name.startswith(cgroups.PREFIX)
                )
                for mount in cgroups.hierarchies()
            },
            folders={folder: _entries(pathlib.Path(folder)) for folder in FOLDERS},
            node_paths=frozenset(path for path in NODE_PATHS if os.path.lexists(path)),
            firewall={" ".join(argv): _firewall(argv) for argv in FIREWALL_COMMANDS if shutil.which(argv[0])},
            sysctls={name: read_sysctl(name) for name in SYSCTLS},
        )

    def diff(self, later: HostSnapshot) -> list[str]:
        """What ``later`` has that this snapshot had not (and for files, mounts, rules and
        settings, what it lost), one sentence each; empty when the host is as it was."""
        found: list[str] = []
        known = {(info.pid, info.start_ticks) for info in self.processes.values()}
        namespaces = {name for info in self.processes.values() for name in info.namespaces}
        in_new: dict[str, list[ProcessInfo]] = {}
        for info in sorted(later.processes.values(), key=lambda info: info.pid):
            if not self._counts(info, later, known):
                continue
            for name in info.namespaces:
                if name not in namespaces:
                    in_new.setdefault(name, []).append(info)
            if info.program & NODE_PROGRAMS and (info.pid, info.start_ticks) not in known:
                found.append(f"process: pid {info.pid} runs a node program: {info.command}")
        for name, members in sorted(in_new.items()):
            shown = "; ".join(f"pid {info.pid}: {info.command[:120]}" for info in members[:3])
            more = f" and {len(members) - 3} more" if len(members) > 3 else ""
            found.append(f"namespace: {name} did not exist before; {len(members)} in it ({shown}{more})")
        found += [f"mount: new {line}" for line in sorted(later.mounts - self.mounts)]
        found += [f"mount: gone {line}" for line in sorted(self.mounts - later.mounts)]
        for mount in sorted(self.cgroups.keys() | later.cgroups.keys()):
            found += _set_diff(
                "cgroup", mount, self.cgroups.get(mount, frozenset()), later.cgroups.get(mount, frozenset())
            )
        for folder in FOLDERS:
            found += _set_diff("file", folder, self.folders[folder], later.folders[folder])
        found += [f"file: {path} exists" for path in sorted(later.node_paths - self.node_paths)]
        for command in sorted(self.firewall.keys() | later.firewall.keys()):
            before, after = self.firewall.get(command, ()), later.firewall.get(command, ())
            if before != after:
                added = [line for line in after if line not in before]
                removed = [line for line in before if line not in after]
                found.append(f"firewall: {command} changed: added {added}, removed {removed}")
        found += [
            f"sysctl: {name} was {self.sysctls[name]!r}, is {later.sysctls.get(name)!r}"
            for name in SYSCTLS
            if self.sysctls[name] != later.sysctls.get(name)
        ]
        return found

    def _counts(self, info: ProcessInfo, later: HostSnapshot, known: set[tuple[int, int]]) -> bool:
        """Whether ``info`` descends from the auditor or from init rather than from another
        process already running at this snapshot (someone else's)."""
        pid, seen = info.pid, set()
        while pid > 1 and pid not in seen:
            seen.add(pid)
            current = later.processes.get(pid)
            if current is None:
                return True  # an ancestor gone meanwhile: counted, to be safe
            if (pid, current.start_ticks) in known:
                return pid == self.auditor
            pid = current.ppid
        return pid == 1


def leftovers(state_dir: pathlib.Path, *, host_paths: bool = True) -> list[str]:
    """What is left of the cluster of ``state_dir`` whatever came before: processes naming its
    state folder or its cgroup root (the reaper), that cgroup root, and (``host_paths``) the
    node's fixed paths, which exist on no machine without a node of its own."""
    state_dir = state_dir.resolve()
    cgroup = sandbox.cgroup_name(state_dir)
    found = [
        f"process: {' '.join(cmdline)} (pid {pid}) names {state_dir}"
        for pid, cmdline in processes.find_referencing(state_dir)
    ]
    found += [
        f"process: {' '.join(cmdline)} (pid {pid}) names {cgroup}"
        for pid, cmdline in processes.find_referencing(pathlib.Path(cgroup))
    ]
    found += [f"cgroup: {folder} exists" for folder in cgroups.existing(cgroup)]
    if host_paths:
        found += [f"file: {path} exists" for path in NODE_PATHS if os.path.lexists(path)]
    return found


def left_behind(before: HostSnapshot, state_dir: pathlib.Path) -> list[str]:
    """Everything the cluster of ``state_dir`` left since ``before``, duplicates dropped."""
    return list(dict.fromkeys(before.diff(HostSnapshot.take()) + leftovers(state_dir)))


def settle(before: HostSnapshot, state_dir: pathlib.Path, *, timeout: float = 60.0) -> list[str]:
    """``left_behind`` again until it is empty or ``timeout`` passed; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        left = left_behind(before, state_dir)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def read_sysctl(name: str) -> str | None:
    """A kernel setting as this process sees it (its own namespaces), or None if absent."""
    try:
        return pathlib.Path("/proc/sys", *name.split(".")).read_text().strip()
    except FileNotFoundError:
        return None


def _processes() -> dict[int, ProcessInfo]:
    found: dict[int, ProcessInfo] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = (entry / "stat").read_text()
            comm = (entry / "comm").read_text().strip()
            links = tuple(os.readlink(entry / "ns" / kind) for kind in NAMESPACES)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # gone meanwhile, or a zombie: in no namespace any more
        fields = stat[stat.rindex(")") + 2 :].split()
        cmdline = processes.command_line(pid) or (comm,)
        found[pid] = ProcessInfo(
            pid=pid,
            ppid=int(fields[1]),
            start_ticks=int(fields[19]),
            command=" ".join(cmdline),
            program=frozenset({os.path.basename(cmdline[0]), comm}),
            namespaces=links,
        )
    return found


def _entries(folder: pathlib.Path, *, folders_only: bool = False) -> frozenset[str]:
    try:
        return frozenset(
            entry.name
            for entry in os.scandir(folder)
            if not folders_only or entry.is_dir(follow_symlinks=False)
        )
    except FileNotFoundError:
        return frozenset()


def _set_diff(kind: str, where: str, before: frozenset[str], after: frozenset[str]) -> list[str]:
    return [f"{kind}: new {where}/{name}" for name in sorted(after - before)] + [
        f"{kind}: gone {where}/{name}" for name in sorted(before - after)
    ]


def _firewall(argv: tuple[str, ...]) -> tuple[str, ...]:
    completed = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    output = (
        completed.stdout if completed.returncode == 0 else f"exit {completed.returncode}: {completed.stderr}"
    )
    return tuple(
        _COUNTERS.sub("", line).rstrip()
        for line in output.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
