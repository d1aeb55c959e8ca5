"""Process 1 of the node's namespaces: sets them up, then reaps orphans until told to stop.

``sandbox.Sandbox`` starts this under ``unshare --net --mount --pid --fork --kill-child
--mount-proc``, with a JSON plan (``sandbox.Plan``). In the fresh mount namespace it

- overlays each folder the node's components write at fixed paths (``/var/lib``, ``/run``, …)
  with a writable layer in the state folder, so the host's folders are read, never written;
- binds files holding the values kubelet wants over the ``/proc/sys`` entries it would set for
  the whole machine (``vm.overcommit_memory``, ``kernel.panic``, ``kernel.panic_on_oops``);

and in the fresh network namespace brings up ``lo`` and a veth pair carrying the node's
address, plus a route for the Service range (so ClusterIPs reach kube-proxy's rules). There is
no default route: nothing leaves the namespace.

Then it writes the ready file and waits. As process 1 it adopts every orphan (containerd's
shims daemonize) and reaps them. On SIGTERM it exits, and the kernel kills every process left
in the PID namespace; the mount and network namespaces go with the last of them.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import types
from collections.abc import Sequence
from typing import Any


def _run(*argv: str) -> None:
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"nsinit: {' '.join(argv)} failed: {completed.stderr.strip()}")


def set_up_mounts(plan: dict[str, Any]) -> None:
    layers = pathlib.Path(plan["layers"])
    for number, folder in enumerate(plan["overlays"]):
        upper, work = layers / f"{number}-upper", layers / f"{number}-work"
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        _run(
            "mount", "-t", "overlay", "overlay",
            "-o", f"lowerdir={folder},upperdir={upper},workdir={work}",
            folder,
        )  # fmt: skip
    for entry, value_file in plan["sysctl_files"].items():
        _run("mount", "--bind", value_file, f"/proc/sys/{entry.replace('.', '/')}")


def set_up_network(plan: dict[str, Any]) -> None:
    net = plan["network"]
    _run("ip", "link", "set", "lo", "up")
    _run("ip", "link", "add", net["node_link"], "type", "veth", "peer", "name", net["peer_link"])
    _run("ip", "addr", "add", f"{net['node_ip']}/{net['prefix']}", "dev", net["node_link"])
    _run("ip", "addr", "add", f"{net['peer_ip']}/{net['prefix']}", "dev", net["peer_link"])
    _run("ip", "link", "set", net["node_link"], "up")
    _run("ip", "link", "set", net["peer_link"], "up")
    _run("ip", "route", "add", net["service_cidr"], "dev", net["node_link"], "src", net["node_ip"])


def _on_signal(signum: int, frame: types.FrameType | None) -> None:
    os._exit(0)  # the kernel then kills everything left in the PID namespace


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    plan = json.loads(pathlib.Path(args[0]).read_text())
    # Process 1 of a PID namespace gets no signal it has no handler for.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    set_up_mounts(plan)
    set_up_network(plan)
    pathlib.Path(plan["ready_file"]).write_text(f"{os.getpid()}\n")
    while True:
        try:
            os.wait()
        except ChildProcessError:  # no child of its own yet: orphans arrive later
            time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
