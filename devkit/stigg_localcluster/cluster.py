"""The local control plane's lifecycle: etcd + kube-apiserver + kube-controller-manager.

``LocalCluster`` owns one state folder: ``pki/`` (generated certificates), ``etcd/`` (data),
``logs/`` (one file per component), ``kubeconfig`` (the admin's, in ``system:masters``) and
``state.json`` (ports and process records, so ``stigg-localcluster down`` can stop a cluster
that another process started). All three components listen on free loopback ports only.

Ready means: the apiserver's ``/readyz`` answers ok, the controller-manager's ``/healthz``
answers ok, and the ``default`` ServiceAccount exists in the ``default`` namespace (proof that
the controllers are acting, so Pods can be admitted right away).

Without kubelet and scheduler, Pods stay Pending: that is all this project needs, because its
webhook acts at admission and its controllers act on API objects.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pathlib
import shutil
import ssl
import subprocess
import time
import types
import urllib.request
from collections.abc import Sequence

from stigg_devkit import childproc
from stigg_localcluster import build, kubeconfig, processes
from stigg_operator import pki

CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemonset-controller",
    "job-controller",
    "cronjob-controller",
    "disruption-controller",
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "endpointslice-controller",
)
# A loopback range: the Pod runner's stand-in for kube-proxy listens on a Service's ClusterIP itself.
SERVICE_CLUSTER_IP_RANGE = "127.96.0.0/16"
_STATE_FILE = "state.json"


class ClusterError(RuntimeError):
    """The cluster could not start or be found; the message says which component and why."""


@dataclasses.dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int

    @classmethod
    def pick(cls) -> Ports:
        chosen: set[int] = set()
        while len(chosen) < 4:
            chosen.add(childproc.free_port())
        etcd_client, etcd_peer, apiserver, controller_manager = sorted(chosen)
        return cls(etcd_client, etcd_peer, apiserver, controller_manager)


def _tail(path: str | pathlib.Path, lines: int = 25) -> str:
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class LocalCluster:
    """A real control plane on loopback, rooted in ``state_dir``.

    ``attached=True`` (tests): the processes die with the Python process that started them
    (strictly, with the thread that called ``start()``: call it from a thread that lives as
    long as the cluster should, such as the main thread).
    ``attached=False`` (``up``): they outlive it, until ``stop()`` from any process.
    """

    def __init__(
        self,
        state_dir: pathlib.Path,
        *,
        attached: bool = True,
        binaries: build.Binaries | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.attached = attached
        self._binaries = binaries
        self._children: list[subprocess.Popen[bytes]] = []
        self.records: list[processes.ProcessRecord] = []
        self.ports: Ports | None = None

    # -- paths ------------------------------------------------------------------------------
    @property
    def pki_dir(self) -> pathlib.Path:
        return self.state_dir / "pki"

    @property
    def logs_dir(self) -> pathlib.Path:
        return self.state_dir / "logs"

    @property
    def kubeconfig_path(self) -> pathlib.Path:
        return self.state_dir / "kubeconfig"

    @property
    def ca_file(self) -> pathlib.Path:
        return self.pki_dir / "ca.crt"

    @property
    def started_ports(self) -> Ports:
        if self.ports is None:
            raise ClusterError("the cluster has not been started")
        return self.ports

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.started_ports.apiserver}"

    @property
    def binaries(self) -> build.Binaries:
        if self._binaries is None:
            self._binaries = build.ensure_built()
        return self._binaries

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> None:
        """Generate certificates, start the three components and wait until ready."""
        binaries = self.binaries
        if self.records and any(processes.is_running(record) for record in self.records):
            raise ClusterError(f"a cluster is already running from {self.state_dir}")
        shutil.rmtree(self.state_dir / "etcd", ignore_errors=True)
        for folder in (self.pki_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.ports = Ports.pick()
        self._write_pki()
        deadline = time.monotonic() + timeout
        try:
            self._spawn("etcd", self._etcd_argv(binaries))
            self._spawn("kube-apiserver", self._apiserver_argv(binaries))
            self._save_state()
            self._wait("kube-apiserver /readyz", f"{self.server}/readyz", self._admin_ssl(), deadline)
            # Started only once the apiserver is ready: before its RBAC bootstrap policy exists,
            # the controller-manager cannot read its authentication config and exits.
            self._spawn("kube-controller-manager", self._controller_manager_argv(binaries))
            self._save_state()
            self._wait(
                "kube-controller-manager /healthz",
                f"https://127.0.0.1:{self.started_ports.controller_manager}/healthz",
                _unverified_ssl(),  # its own self-signed serving certificate; /healthz is public
                deadline,
            )
            self._wait(
                "the default ServiceAccount (the controllers at work)",
                f"{self.server}/api/v1/namespaces/default/serviceaccounts/default",
                self._admin_ssl(),
                deadline,
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every component (controller-manager first, etcd last). Idempotent."""
        processes.stop(list(reversed(self.records)), children=self._children)
        self._children.clear()
        self.records.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / _STATE_FILE).unlink()

    def running(self) -> bool:
        return bool(self.records) and all(processes.is_running(record) for record in self.records)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.stop()

    @classmethod
    def load(cls, state_dir: pathlib.Path) -> LocalCluster:
        """The cluster a previous ``start()`` (maybe in another process) left in ``state_dir``."""
        state_path = state_dir / _STATE_FILE
        try:
            state = json.loads(state_path.read_text())
        except FileNotFoundError:
            raise ClusterError(f"no cluster state in {state_dir}") from None
        cluster = cls(state_dir, attached=False)
        cluster.ports = Ports(**state["ports"])
        cluster.records = [
            processes.ProcessRecord(**{**record, "cmdline": tuple(record["cmdline"])})
            for record in state["records"]
        ]
        return cluster

    # -- helpers for users of the cluster -----------------------------------------------------
    def kubectl(self, *args: str, input_text: str | None = None, check: bool = True) -> str:
        """Run the built ``kubectl`` against this cluster and return its stdout."""
        completed = subprocess.run(
            [str(self.binaries.kubectl), f"--kubeconfig={self.kubeconfig_path}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and completed.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {completed.stderr.strip()}")
        return completed.stdout

    def user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> pathlib.Path:
        """A kubeconfig for another user, signed by the cluster CA (for RBAC checks)."""
        ca = pki.CertificateAuthority.load(self.ca_file, self.pki_dir / "ca.key")
        pair = ca.issue_client(user, tuple(groups))
        cert, key = pair.write(self.pki_dir, f"user-{user}")
        return kubeconfig.write(
            self.state_dir / f"kubeconfig-{user}",
            server=self.server,
            ca_file=self.ca_file,
            cert_file=cert,
            key_file=key,
        )

    # -- internals --------------------------------------------------------------------------
    def _write_pki(self) -> None:
        ca = pki.CertificateAuthority.create()
        ca.write(self.pki_dir, "ca")
        hosts = [
            "127.0.0.1",
            "localhost",
            "10.96.0.1",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ]
        ca.issue_serving("kube-apiserver", hosts).write(self.pki_dir, "apiserver")
        pki.service_account_key_pair().write(self.pki_dir, "service-account")
        for user, groups, name in (
            ("kubernetes-admin", ("system:masters",), "admin"),
            ("system:kube-controller-manager", (), "controller-manager"),
        ):
            cert, key = ca.issue_client(user, groups).write(self.pki_dir, name)
            target = self.kubeconfig_path if name == "admin" else self.state_dir / f"kubeconfig-{name}"
            kubeconfig.write(
                target,
                server=self.server,
                ca_file=self.ca_file,
                cert_file=cert,
                key_file=key,
            )

    def _etcd_argv(self, binaries: build.Binaries) -> list[str]:
        ports = self.started_ports
        client = f"http://127.0.0.1:{ports.etcd_client}"
        peer = f"http://127.0.0.1:{ports.etcd_peer}"
        return [
            str(binaries.etcd),
            "--name=local",
            f"--data-dir={self.state_dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=local={peer}",
            "--unsafe-no-fsync",  # a throwaway test store: durability buys nothing, fsync costs seconds
            "--log-level=warn",
        ]

    def _apiserver_argv(self, binaries: build.Binaries) -> list[str]:
        ports = self.started_ports
        pki_dir = self.pki_dir
        return [
            str(binaries.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The lease reconciler refuses a loopback advertise address; nothing in this cluster
            # reaches the apiserver through the `kubernetes` Service anyway.
            "--endpoint-reconciler-type=none",
            f"--secure-port={ports.apiserver}",
            f"--cert-dir={pki_dir}",
            f"--tls-cert-file={pki_dir / 'apiserver.crt'}",
            f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
            f"--client-ca-file={self.ca_file}",
            "--authorization-mode=RBAC",
            "--anonymous-auth=true",  # only /healthz, /readyz, /livez and /version are granted to it
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki_dir / 'service-account.crt'}",
            f"--service-account-signing-key-file={pki_dir / 'service-account.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ]

    def _controller_manager_argv(self, binaries: build.Binaries) -> list[str]:
        ports = self.started_ports
        own_kubeconfig = self.state_dir / "kubeconfig-controller-manager"
        return [
            str(binaries.kube_controller_manager),
            f"--kubeconfig={own_kubeconfig}",
            f"--authentication-kubeconfig={own_kubeconfig}",
            f"--authorization-kubeconfig={own_kubeconfig}",
            f"--controllers={','.join(CONTROLLERS)}",
            f"--service-account-private-key-file={self.pki_dir / 'service-account.key'}",
            f"--root-ca-file={self.ca_file}",
            "--use-service-account-credentials=true",  # each controller acts as its own identity
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports.controller_manager}",
            "--profiling=false",
            "--v=1",
        ]

    def _spawn(self, name: str, argv: list[str]) -> None:
        child, record = processes.start(name, argv, self.logs_dir / f"{name}.log", attached=self.attached)
        self._children.append(child)
        self.records.append(record)

    def _save_state(self) -> None:
        ports = self.started_ports
        state = {
            "ports": dataclasses.asdict(ports),
            "server": self.server,
            "kubeconfig": str(self.kubeconfig_path),
            "records": [dataclasses.asdict(record) for record in self.records],
        }
        (self.state_dir / _STATE_FILE).write_text(json.dumps(state, indent=2))

    def _admin_ssl(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(self.pki_dir / "admin.crt", self.pki_dir / "admin.key")
        return context

    def _wait(self, label: str, url: str, context: ssl.SSLContext, deadline: float) -> None:
        while not _http_ok(url, context):
            self._raise_if_exited()
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out waiting for {label}; logs in {self.logs_dir}")
            time.sleep(0.05)

    def _raise_if_exited(self) -> None:
        for child, record in zip(self._children, self.records, strict=True):
            code = child.poll()
            if code is not None:
                raise ClusterError(f"{record.name} exited with {code}; last log lines:\n{_tail(record.log)}")


def _unverified_ssl() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _http_ok(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:  # noqa: S310 -- https to loopback
            return bool(response.status == 200)
    except OSError:  # refused, reset, TLS not ready, timeout, HTTP error: not ready yet
        return False
