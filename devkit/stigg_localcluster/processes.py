"""Start supervised child processes and stop them, leaving nothing behind.

Every component runs in its own process group (its own session), so stopping it signals the
whole group: nothing it forked survives. Processes started *attached* also get
``PR_SET_PDEATHSIG=SIGKILL``: if the Python process that started them dies in any way, even by
SIGKILL, the kernel kills them too, so an interrupted test run cannot leak a control plane.
Processes started *detached* (``stigg-localcluster up``) outlive their starter by design and
are stopped later by pid, after checking that the pid is still the same process (its start
time, from ``/proc/<pid>/stat``, guards against pid reuse).

A process counts as running until it is a zombie or gone: the kernel releases a process's
memory (and with it ``/proc/<pid>/cmdline``) before its files, so an empty command line does
not yet mean that its listening sockets are closed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence

from stigg_devkit import childproc


@dataclasses.dataclass(frozen=True)
class ProcessRecord:
    """Enough to find a process again from another Python process, and to be sure it is ours."""

    name: str
    pid: int
    start_ticks: int
    cmdline: tuple[str, ...]
    log: str


def start(
    name: str,
    argv: Sequence[str],
    log_path: pathlib.Path,
    *,
    attached: bool,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            childproc.tied(argv) if attached else list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            close_fds=True,
        )
    stat = _read_stat(process.pid)
    start_ticks = stat[1] if stat else -1
    record = ProcessRecord(
        name=name, pid=process.pid, start_ticks=start_ticks, cmdline=tuple(argv), log=str(log_path)
    )
    return process, record


def running(name: str, pid: int) -> ProcessRecord | None:
    """A record of ``pid`` as it runs now (a process this one did not start, such as a
    grandchild), or None if there is no such process."""
    stat, cmdline = _read_stat(pid), _read_cmdline(pid)
    if stat is None or cmdline is None:
        return None
    return ProcessRecord(name=name, pid=pid, start_ticks=stat[1], cmdline=cmdline, log="")


def command_line(pid: int) -> tuple[str, ...] | None:
    """``pid``'s arguments, or None if it is gone or a zombie."""
    return _read_cmdline(pid)


def _read_stat(pid: int) -> tuple[str, int] | None:
    """``(state, start time in clock ticks)`` from ``/proc/<pid>/stat``, or None if there is no such pid."""
    try:
        raw = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[19])


def _read_cmdline(pid: int) -> tuple[str, ...] | None:
    try:
        raw = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if not raw:  # a zombie has an empty command line
        return None
    return tuple(part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0"))


def is_running(record: ProcessRecord) -> bool:
    """True until the recorded process has exited (zombie or gone); False for a reused pid."""
    stat = _read_stat(record.pid)
    return stat is not None and stat[1] == record.start_ticks and stat[0] not in {"Z", "X", "x"}


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)  # the child leads its own session, so its pgid is its pid


def stop(
    records: Sequence[ProcessRecord],
    *,
    children: Sequence[subprocess.Popen[bytes]] = (),
    grace: float = 10.0,
) -> None:
    """Stop each process group in the given order: SIGTERM, then SIGKILL if still alive after ``grace``.

    One at a time, because order matters: an apiserver whose etcd vanished first spends its
    whole grace period retrying. ``children`` are the ``Popen`` objects of those records this
    process started itself; they are polled so that exited children are reaped, not left as
    zombies.
    """
    for record in records:
        if not is_running(record):
            continue
        for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            _signal_group(record.pid, signum)
            deadline = time.monotonic() + wait
            while is_running(record) and time.monotonic() < deadline:
                time.sleep(0.02)
                for child in children:
                    child.poll()
            if not is_running(record):
                break
    for child in children:
        child.poll()


class NotReady(RuntimeError):
    """A child exited, or did not signal readiness in time; the message says which."""


def wait_for_file(child: subprocess.Popen[bytes], path: pathlib.Path, timeout: float) -> None:
    """Wait until ``child`` creates ``path`` (its readiness signal); raise ``NotReady`` if it
    exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            raise NotReady(f"exited with {child.returncode}")
        if time.monotonic() > deadline:
            raise NotReady(f"not ready within {timeout:.0f}s")
        time.sleep(0.02)


def find_referencing(path: pathlib.Path) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Every live process whose command line mentions ``path`` (to prove none was left behind)."""
    needle = str(path)
    own = os.getpid()
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        cmdline = _read_cmdline(int(entry.name))
        if cmdline and any(needle in part for part in cmdline):
            yield int(entry.name), cmdline
