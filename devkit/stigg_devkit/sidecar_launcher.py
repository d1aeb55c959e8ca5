"""Run the sidecar as a child process (``python -m stigg_sidecar``), for tests, benchmarks and the demo.

``start`` picks free loopback ports for gRPC and HTTP, starts the sidecar in a session of its
own with the given environment (and nothing else from the parent's, but ``PATH`` and
``PYTHONPATH``, so that a checkout run with its own ``PYTHONPATH`` runs its own sidecar), logs to a
file, and returns once ``/readyz`` answers 200. The child dies with its parent
(``childproc.tied``), so an interrupted run cannot leak it. ``RunningSidecar``
reads probes and metrics, and stops the process with SIGTERM (SIGKILL after a grace period).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from stigg_devkit import childproc


class SidecarStartError(RuntimeError):
    """The sidecar exited, or was not ready in time; the message ends with its log."""


@dataclasses.dataclass
class RunningSidecar:
    process: subprocess.Popen[bytes]
    grpc_target: str
    http_url: str
    log_path: pathlib.Path

    def http_json(self, path: str) -> tuple[int, dict[str, object]]:
        """GET ``path`` on the HTTP port: (status, JSON body)."""
        try:
            with urllib.request.urlopen(f"{self.http_url}{path}", timeout=5) as response:  # noqa: S310 -- loopback
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.http_url}/metrics", timeout=5) as response:  # noqa: S310 -- loopback
            text: str = response.read().decode()
            return text

    def metric(self, name: str, labels: str = "") -> float:
        """One sample's value (0 if absent), e.g. ``metric("sidecar_checks_total", 'outcome="granted"')``."""
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in self.metrics().splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return 0.0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        """Send SIGTERM and return at once (the sidecar drains, then exits)."""
        self.process.send_signal(signal.SIGTERM)

    def stop(self, grace: float = 15.0) -> int:
        """SIGTERM, wait up to ``grace`` seconds (then SIGKILL); the exit status."""
        return childproc.stop(self.process, grace)


def start(
    env: Mapping[str, str],
    log_path: pathlib.Path,
    *,
    timeout: float = 20.0,
    descriptor_limit: int | None = None,
) -> RunningSidecar:
    """Start a sidecar with ``env`` (ports and bind address are chosen here) and wait until ready;
    ``descriptor_limit`` sets its soft and hard ``RLIMIT_NOFILE``."""
    grpc_port, http_port = childproc.free_port(), childproc.free_port()
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
        "SIDECAR_BIND_ADDRESS": "127.0.0.1",
        "GRPC_PORT": str(grpc_port),
        "SIDECAR_HTTP_PORT": str(http_port),
        "SIDECAR_STATE_DIR": str(log_path.parent / f"state-{grpc_port}"),
        "SIDECAR_SHUTDOWN_DELAY_SECONDS": "0",  # tests stop many sidecars; the ones about shutdown set it
        **env,
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            childproc.tied([sys.executable, "-m", "stigg_sidecar"], descriptor_limit=descriptor_limit),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
        )
    running = RunningSidecar(process, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}", log_path)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SidecarStartError(f"the sidecar exited with {process.returncode}:\n{running.log()[-3000:]}")
        try:
            if running.http_json("/readyz")[0] == 200:
                return running
        except (OSError, ValueError, http.client.HTTPException):  # not listening (yet), or not HTTP
            pass
        if time.monotonic() > deadline:
            running.stop()
            raise SidecarStartError(
                f"the sidecar was not ready within {timeout:.0f}s:\n{running.log()[-3000:]}"
            )
        time.sleep(0.05)
