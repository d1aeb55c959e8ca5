"""The node's own cgroup root: created beside the machine's cgroups, removed whole at the end.

kubelet (``cgroupDriver: cgroupfs``) puts every Pod under ``cgroupRoot``, and runc creates a
cgroup per container below it, in each hierarchy the machine mounts (these VMs are cgroup v1
with a v2 ``unified`` hierarchy beside: runc writes both). The harness creates that root
itself, at the top of every hierarchy, with a memory cap, so that the Pods can never take
the machine's memory and no existing cgroup is touched (the session's own processes live in a
v1 memory cgroup that must stay as it is). ``remove`` deletes the whole subtree, deepest first,
once its processes are gone.
"""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Iterator

PREFIX = "stigg-localcluster-"  # every root the harness makes: the rest is a digest of its state folder


def hierarchies() -> list[pathlib.Path]:
    """Mount points of every cgroup hierarchy (v1 and v2) this process sees."""
    found: list[pathlib.Path] = []
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fstype = after.split(" ", 1)[0]
        if fstype in {"cgroup", "cgroup2"}:
            found.append(pathlib.Path(before.split(" ")[4]))
    return found


def _controllers(mount: pathlib.Path) -> set[str]:
    return set(mount.name.split(","))


def create(name: str, *, memory_limit_bytes: int) -> list[pathlib.Path]:
    """``/<name>`` in every hierarchy; returns the folders made (an existing one is an error)."""
    made: list[pathlib.Path] = []
    try:
        for mount in hierarchies():
            folder = mount / name
            folder.mkdir()  # FileExistsError: a previous cluster with this name was not removed
            made.append(folder)
            if "cpuset" in _controllers(mount):
                # A v1 cpuset starts empty and admits no task until given CPUs and memory nodes.
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    (folder / knob).write_text((mount / knob).read_text())
            if "memory" in _controllers(mount) and (folder / "memory.limit_in_bytes").exists():
                (folder / "memory.limit_in_bytes").write_text(str(memory_limit_bytes))
            elif (folder / "memory.max").exists():
                (folder / "memory.max").write_text(str(memory_limit_bytes))
    except BaseException:
        remove(name, timeout=5)
        raise
    return made


def existing(name: str) -> list[pathlib.Path]:
    return [mount / name for mount in hierarchies() if (mount / name).is_dir()]


def _deepest_first(root: pathlib.Path) -> Iterator[pathlib.Path]:
    for folder, children, _files in os.walk(root, topdown=False):
        del children
        yield pathlib.Path(folder)


def _has_processes(folder: pathlib.Path) -> bool:
    try:
        return bool((folder / "cgroup.procs").read_text().strip())
    except OSError:
        return False


def remove(name: str, *, timeout: float = 30.0) -> list[pathlib.Path]:
    """Delete ``/<name>`` and everything below it in every hierarchy; returns what is left.

    A cgroup can be removed only once empty of processes; the kernel also keeps a dying one
    busy for a moment after its last process exits, so each is retried until ``timeout``."""
    deadline = time.monotonic() + timeout
    left: list[pathlib.Path] = []
    for root in existing(name):
        for folder in _deepest_first(root):
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        left.append(folder)
                        break
                    time.sleep(0.1 if _has_processes(folder) else 0.02)
    return left
