"""Helpers for running our servers as child processes (the launchers of the sidecar, the
upstream emulator and the operator, the Pod runner): a free loopback port, a child that dies
with its parent, and a graceful stop."""

from __future__ import annotations

import ctypes
import functools
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def _die_with_parent(descriptor_limit: int | None) -> None:
    """``preexec_fn``: ask the kernel to SIGKILL the child when the starting thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if descriptor_limit is not None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (descriptor_limit, descriptor_limit))


def die_with_parent(descriptor_limit: int | None = None) -> Callable[[], None] | None:
    """The ``preexec_fn`` that ties a child's life to its parent's (Linux only; else None), and
    with ``descriptor_limit`` sets the child's ``RLIMIT_NOFILE`` (soft and hard).

    The kernel ties it to the *thread* that starts the child: start children from a
    long-lived thread (the main one), not from a short-lived worker.
    """
    if not sys.platform.startswith("linux"):
        return None
    return functools.partial(_die_with_parent, descriptor_limit)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free on ``host`` a moment ago (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; the exit status. Idempotent."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
