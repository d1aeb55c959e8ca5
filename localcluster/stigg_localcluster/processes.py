"""Start supervised child processes and stop them, leaving nothing behind.

Every component runs in its own process group (its own session), so stopping it signals the
whole group: nothing it forked survives. Processes started *attached* also get
``PR_SET_PDEATHSIG=SIGKILL``: if the Python process that started them dies in any way, even by
SIGKILL, the kernel kills them too, so an interrupted test run cannot leak a control plane.
Processes started *detached* (``stigg-localcluster up``) outlive their starter by design and
are stopped later by pid, after checking that the pid still runs the same command line.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """``preexec_fn``: ask the kernel to SIGKILL this child when its parent thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


@dataclasses.dataclass(frozen=True)
class ProcessRecord:
    """Enough to find a process again from another Python process, and to be sure it is ours."""

    name: str
    pid: int
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
    preexec: Callable[[], None] | None = _die_with_parent if attached else None
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec,  # noqa: PLW1509 -- prctl only, no locks taken, before exec
            env=env,
            close_fds=True,
        )
    return process, ProcessRecord(name=name, pid=process.pid, cmdline=tuple(argv), log=str(log_path))


def _read_cmdline(pid: int) -> tuple[str, ...] | None:
    try:
        raw = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if not raw:  # a zombie has an empty command line
        return None
    return tuple(part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0"))


def is_running(record: ProcessRecord) -> bool:
    """True while ``record.pid`` is alive and still runs the recorded command line."""
    return _read_cmdline(record.pid) == record.cmdline


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)  # the child leads its own session, so its pgid is its pid


def stop(
    records: Sequence[ProcessRecord],
    *,
    children: Sequence[subprocess.Popen[bytes]] = (),
    grace: float = 10.0,
) -> None:
    """SIGTERM each process group (in the given order), then SIGKILL what is left after ``grace``.

    ``children`` are the ``Popen`` objects of those records this process started itself; they
    are polled so that exited children are reaped rather than left as zombies.
    """

    def _reap() -> None:
        for child in children:
            child.poll()

    live = [record for record in records if is_running(record)]
    for record in live:
        _signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(is_running(record) for record in live):
        _reap()
        time.sleep(0.05)
    for record in live:
        if is_running(record):
            _signal_group(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(is_running(record) for record in live):
        _reap()
        time.sleep(0.05)


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
