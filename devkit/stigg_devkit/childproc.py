"""Helpers for running our servers as child processes (the launchers of the sidecar, the
upstream emulator and the operator, the local cluster's components): a free loopback port, a
child that dies with its parent, and a graceful stop.

``first_line`` reads the one line a child announces itself with (the emulator's address, the
port ``kubectl port-forward`` chose), within a deadline.

A child is tied to its parent by ``tied(argv)``, a command line that runs ``argv`` through
``stigg_devkit.tie`` (which asks the kernel for ``PR_SET_PDEATHSIG`` and then execs it), never
by a ``preexec_fn``: with one, Python must fork() instead of vfork(), which runs the fork
handlers of the libraries loaded in the parent in the child too, and gRPC's restart its poller
there, which dies on EBADF once ``close_fds`` has run (grpc/grpc#43055). In a test process
making gRPC calls, up to a third of such children crashed before exec.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Sequence


class NoAnnouncement(RuntimeError):
    """A child exited, or stayed silent past its deadline, before writing its first line."""


def tied(argv: Sequence[str], *, descriptor_limit: int | None = None) -> list[str]:
    """``argv`` as a command that dies with this process's current thread (Linux; elsewhere
    ``argv`` itself), with ``descriptor_limit`` as its ``RLIMIT_NOFILE`` (soft and hard).

    The kernel ties it to the *thread* that starts the child: start children from a
    long-lived thread (the main one), not from a short-lived worker.
    """
    if not sys.platform.startswith("linux"):
        return list(argv)
    limit = [] if descriptor_limit is None else ["--nofile", str(descriptor_limit)]
    return [sys.executable, "-I", "-m", "stigg_devkit.tie", str(os.getpid()), *limit, "--", *argv]


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


def first_line(process: subprocess.Popen[bytes], timeout: float, what: str) -> str:
    """The first line ``process`` writes to its stdout (a pipe), within ``timeout`` seconds;
    ``NoAnnouncement`` naming ``what`` if it exits or stays silent. Bytes after the line stay
    unread in the pipe's buffer, which the caller may keep reading."""
    assert process.stdout is not None  # noqa: S101 -- started with stdout=PIPE
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    received = b""
    while b"\n" not in received:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NoAnnouncement(f"{what} did not announce itself within {timeout:.0f}s")
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
            raise NoAnnouncement(f"{what} exited (status {process.returncode}) before announcing itself")
        received += chunk
    return received.split(b"\n", 1)[0].decode()
