"""Run the upstream emulator as a child process, for tests, benchmarks and the demo.

``start`` launches ``python -m stigg_emulator`` with the given options, passes the API
key in the environment (never on the command line, which every local user can read), waits
for its one stdout line ``listening on http://HOST:PORT`` within a deadline, and returns a
``RunningEmulator`` holding the base URL. ``RunningEmulator.stop`` sends SIGTERM and waits,
and kills only if the emulator does not exit in time; it is also a context manager.

On Linux the child gets ``PR_SET_PDEATHSIG=SIGKILL`` (``childproc.tied``), so an interrupted
test run cannot leak it. The kernel ties that to the *thread* that started the child: start it
from a long-lived thread (the main one), not from a short-lived worker.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys
from types import TracebackType
from typing import IO

from stigg_devkit import childproc
from stigg_emulator import __main__ as cli

LISTENING_PREFIX = "listening on "


class EmulatorStartError(RuntimeError):
    """The emulator exited or stayed silent instead of announcing its address."""


@dataclasses.dataclass
class RunningEmulator:
    process: subprocess.Popen[bytes]
    base_url: str
    api_key: str

    @property
    def admin_url(self) -> str:
        return f"{self.base_url}/_emulator"

    @property
    def ws_url(self) -> str:
        """The stream's base URL, as ``WS_URL`` takes it (the sidecar appends ``/graphql``)."""
        return "ws" + self.base_url.removeprefix("http")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait up to ``timeout`` seconds (then SIGKILL); the exit status."""
        code = childproc.stop(self.process, timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def start(
    *,
    catalog_path: pathlib.Path | None = None,
    api_key: str = cli.DEFAULT_API_KEY,
    latency_ms: float | None = None,
    jitter_ms: float | None = None,
    error_rate: float | None = None,
    seed: int | None = None,
    legacy_only: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    timeout: float = 30.0,
    stderr: IO[bytes] | int | None = None,
    die_with_parent: bool = True,
) -> RunningEmulator:
    """Start an emulator and return once it listens; options left None take the CLI's defaults."""
    argv = [sys.executable, "-m", "stigg_emulator", "--host", host, "--port", str(port)]
    options = {
        "--catalog": catalog_path,
        "--latency-ms": latency_ms,
        "--jitter-ms": jitter_ms,
        "--error-rate": error_rate,
        "--seed": seed,
    }
    for flag, value in options.items():
        if value is not None:
            argv += [flag, str(value)]
    if legacy_only:
        argv.append("--legacy-only")
    env = {**os.environ, cli.API_KEY_ENV: api_key}
    process = subprocess.Popen(
        childproc.tied(argv) if die_with_parent else argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
        close_fds=True,
    )
    try:
        base_url = _read_address(process, timeout)
    except BaseException:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
        raise
    return RunningEmulator(process=process, base_url=base_url, api_key=api_key)


def _read_address(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The base URL of the emulator's first stdout line, within ``timeout``."""
    try:
        line = childproc.first_line(process, timeout, "the emulator")
    except childproc.NoAnnouncement as error:
        raise EmulatorStartError(str(error)) from None
    if not line.startswith(LISTENING_PREFIX):
        raise EmulatorStartError(f"unexpected first line from the emulator: {line!r}")
    return line.removeprefix(LISTENING_PREFIX)
