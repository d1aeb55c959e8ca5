"""Sockets in another network namespace, from a process that stays in its own.

A socket belongs to the network namespace its creator was in when it called ``socket()``, for
its whole life, whatever namespace the process is in later. So a single-threaded process can
make a socket in the node's namespace by entering it (``setns``), creating the socket and
going back. Python 3.11 has no ``os.setns``; libc's is called through ctypes. Entering a
network namespace needs CAP_SYS_ADMIN (the harness runs as root).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import socket
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


@contextlib.contextmanager
def entered(path: str) -> Iterator[None]:
    """Be in the network namespace at ``path`` (``/proc/<pid>/ns/net``) inside the block only."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(path, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def tcp_socket(path: str | None) -> socket.socket:
    """A TCP/IPv4 socket in the namespace at ``path``, or in the caller's own for None."""
    if path is None:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with entered(path):
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
