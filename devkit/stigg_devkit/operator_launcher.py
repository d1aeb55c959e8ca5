"""Run the operator as a child process (``python -m stigg_operator``), for tests, benchmarks and
the demo against a local control plane: its webhook listens on a free loopback port and the
apiserver reaches it by URL; its ``/metrics`` on another (``metrics_url``), so that replicas
started side by side never contend for the default port. ``start`` returns once the webhook
configuration points at this process (the last one started, of several) and the webhook port
accepts connections; ``stop`` sends SIGTERM (SIGKILL after a grace).
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time
from collections.abc import Mapping

from kubernetes import client

from stigg_devkit import childproc


class OperatorStartError(RuntimeError):
    """The operator exited or did not register its webhook in time; the message ends with its log."""


class RunningOperator:
    def __init__(
        self,
        kubeconfig: pathlib.Path,
        log_path: pathlib.Path,
        *,
        namespace: str = "stigg-system",
        webhook_config: str = "stigg-sidecar-injector",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.log_path = log_path
        self.port = childproc.free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.metrics_port = childproc.free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.webhook_config = webhook_config
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            # The caller's import path: from a git worktree, the worktree's operator, not the
            # checkout the virtualenv's editable install points at.
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
            "KUBECONFIG": str(kubeconfig),
            "STIGG_OPERATOR_NAMESPACE": namespace,
            "STIGG_OPERATOR_WEBHOOK_ADDRESS": "127.0.0.1",
            "STIGG_OPERATOR_WEBHOOK_PORT": str(self.port),
            "STIGG_OPERATOR_WEBHOOK_URL": self.url,
            "STIGG_OPERATOR_WEBHOOK_CONFIG": webhook_config,
            "STIGG_OPERATOR_METRICS_ADDRESS": "127.0.0.1",
            "STIGG_OPERATOR_METRICS_PORT": str(self.metrics_port),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, api: client.ApiClient, timeout: float = 60.0) -> None:
        """Start the process; return once its webhook listens and the configuration points at it."""
        self.launch()
        self.wait_up(api, timeout)

    def launch(self) -> None:
        """Start the process and return at once (from the thread that will outlive it: the child
        is tied to its parent thread)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                childproc.tied([sys.executable, "-m", "stigg_operator"]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    def wait_up(self, api: client.ApiClient, timeout: float = 60.0, *, pointed: bool = True) -> None:
        """Wait until the webhook listens and the configuration exists (and, if ``pointed``,
        points at this process; of replicas started together, only the last one's does)."""
        if self.process is None:
            raise OperatorStartError("wait_up() before launch()")
        admission = client.AdmissionregistrationV1Api(api)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise OperatorStartError(f"the operator exited:\n{self.log()[-3000:]}")
            try:
                registered = admission.read_mutating_webhook_configuration(self.webhook_config)
                urls = {hook.client_config.url for hook in registered.webhooks or []}
                url = self.env.get("STIGG_OPERATOR_WEBHOOK_URL")
                if (url is None or not pointed or urls == {f"{url}/inject"}) and self._port_open():
                    return
            except client.ApiException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise OperatorStartError(
                    f"the webhook was not up within {timeout:.0f}s:\n{self.log()[-3000:]}"
                )
            time.sleep(0.1)

    def _port_open(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self, grace: float = 20.0) -> None:
        if self.process is not None:
            childproc.stop(self.process, grace)

    def remove_webhook(self, api: client.ApiClient) -> None:
        remove_webhook(api, self.webhook_config)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def remove_webhook(api: client.ApiClient, name: str) -> None:
    """A stale Fail-policy webhook blocks every later Pod creation: remove it on the way out."""
    try:
        client.AdmissionregistrationV1Api(api).delete_mutating_webhook_configuration(name)
    except client.ApiException as error:
        if error.status != 404:
            raise
