"""Run the sidecar as a real process (``python -m stigg_sidecar``) on free loopback ports.

The process is started with the localcluster's supervised-process helper (own session, dies
with the test process) and is ready when ``/readyz`` answers 200.
"""

from __future__ import annotations

import dataclasses
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

from stigg_localcluster import cluster, processes


@dataclasses.dataclass
class RunningSidecar:
    process: subprocess.Popen[bytes]
    record: processes.ProcessRecord
    grpc_target: str
    http_url: str
    log_path: pathlib.Path

    def http_json(self, path: str) -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(f"{self.http_url}{path}", timeout=5) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.http_url}/metrics", timeout=5) as response:  # noqa: S310
            text: str = response.read().decode()
            return text

    def metric(self, name: str, labels: str = "") -> float:
        """One sample's value: ``metric("sidecar_checks_total", 'method="X",outcome="granted"')``."""
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in self.metrics().splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return 0.0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> int | None:
        processes.stop([self.record], children=[self.process])
        return self.process.returncode


def start(env: Mapping[str, str], log_path: pathlib.Path, *, timeout: float = 20.0) -> RunningSidecar:
    grpc_port, http_port = cluster.free_port(), cluster.free_port()
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "SIDECAR_BIND_ADDRESS": "127.0.0.1",
        "GRPC_PORT": str(grpc_port),
        "SIDECAR_HTTP_PORT": str(http_port),
        "LOG_LEVEL": "debug",
        **env,
    }
    child, record = processes.start(
        "stigg-sidecar", [sys.executable, "-m", "stigg_sidecar"], log_path, attached=True, env=full_env
    )
    running = RunningSidecar(
        child, record, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{http_port}", log_path
    )
    deadline = time.monotonic() + timeout
    while True:
        if child.poll() is not None:
            raise RuntimeError(f"the sidecar exited with {child.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if running.http_json("/readyz")[0] == 200:
                return running
        except OSError:
            pass
        if time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(
                f"the sidecar was not ready within {timeout:.0f}s:\n{log_path.read_text()[-3000:]}"
            )
        time.sleep(0.05)
