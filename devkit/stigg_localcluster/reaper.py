"""Removes a sandbox's cgroup root once the sandbox is gone, however it went.

Ending the sandbox's process 1 ends every process of its PID namespace, and with them its
mounts and its network namespace: the kernel cleans those up by itself. Not the cgroup root
(``cgroups``): a cgroup folder stays until someone removes it. ``Sandbox.stop`` does, but when
the Python process that started a cluster is SIGKILLed, its processes die by
``PR_SET_PDEATHSIG`` (the holder ``unshare`` first, then process 1, then the namespace) and
nobody is left to remove the folders. So ``Sandbox.start`` starts this small watcher beside
it, in a session of its own and not tied to its starter:

    python -m stigg_localcluster.reaper --cgroup stigg-localcluster-<hash> \\
        --process <pid>:<start ticks> [--process ...]

It waits (``pidfd``, no polling) until each given process (the holder and process 1) has
exited, removes the cgroup root, retrying while its last processes are still dying, and exits.
A normal ``stop`` removes the cgroups itself and then finds this process exiting on its own.
It names the cgroup, never the state folder, and holds no namespace: while it waits it keeps
nothing alive.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import select
import signal
import sys
import time
from collections.abc import Sequence

from stigg_localcluster import cgroups, processes

# Seconds to keep trying once the sandbox is gone: a container's cgroup can stay busy for a
# moment after its last process exited, and that exit itself waits for the kernel to kill it.
REMOVAL_TIMEOUT = 120.0


def argv(cgroup: str, watched: Sequence[processes.ProcessRecord]) -> list[str]:
    """The reaper's command line, running the same code as the caller's (the folder this
    package was imported from), whatever the environment of the child says (``python -I``)."""
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    bootstrap = (
        f"import runpy, sys; sys.path.insert(0, {root!r}); "
        "runpy.run_module('stigg_localcluster.reaper', run_name='__main__', alter_sys=True)"
    )
    targets = [f"--process={record.pid}:{record.start_ticks}" for record in watched]
    return [sys.executable, "-I", "-c", bootstrap, f"--cgroup={cgroup}", *targets]


def wait_exited(pid: int, start_ticks: int) -> None:
    """Return once the process ``pid`` that started at ``start_ticks`` has exited (at once if it
    already has, or if ``pid`` is now another process)."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        record = processes.ProcessRecord("watched", pid, start_ticks, (), "")
        if not processes.is_running(record):  # checked after opening: the pidfd pins the pid
            return
        poller = select.poll()
        poller.register(handle, select.POLLIN)
        while not poller.poll():
            pass
    finally:
        os.close(handle)


def reap(cgroup: str, timeout: float = REMOVAL_TIMEOUT) -> list[pathlib.Path]:
    """Remove ``cgroup`` in every hierarchy; returns what is still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    left = cgroups.existing(cgroup)
    while left and time.monotonic() < deadline:
        # Again from the top each round: a component that was still dying may have made a
        # folder after the previous round listed the tree.
        cgroups.remove(cgroup, timeout=max(0.0, min(5.0, deadline - time.monotonic())))
        left = cgroups.existing(cgroup)
    return left


def _watched(text: str) -> tuple[int, int]:
    pid, _, ticks = text.partition(":")
    return int(pid), int(ticks)


def main(args: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stigg_localcluster.reaper")
    parser.add_argument("--cgroup", required=True, help="the cgroup root's name, in every hierarchy")
    parser.add_argument(
        "--process", action="append", type=_watched, default=[], help="PID:START_TICKS to outlive"
    )
    options = parser.parse_args(args)
    if not options.cgroup.startswith(cgroups.PREFIX):
        parser.error("only a local cluster's own cgroup root is removed")
    # Its starter's terminal or session going away is no reason to stop watching.
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    for pid, ticks in options.process:
        wait_exited(pid, ticks)
    left = reap(options.cgroup)
    if left:
        print(f"reaper: still busy after {REMOVAL_TIMEOUT:.0f}s: {[str(p) for p in left]}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
