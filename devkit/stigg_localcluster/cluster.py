"""The local cluster's lifecycle: a control plane, and by default a real node.

``LocalCluster`` owns one state folder: ``pki/`` (generated certificates), ``etcd/`` (data),
``logs/`` (one file per component), ``kubeconfig`` (the admin's, in ``system:masters``) and
``state.json`` (ports and process records, so ``stigg-localcluster down`` can stop a cluster
that another process started).

Two shapes:

- ``node=False``, the control plane alone: etcd, kube-apiserver and kube-controller-manager on
  free loopback ports of the host. Pods stay Pending (no kubelet, no scheduler), which is all
  a test of admission or of a controller needs.
- ``node=True``: the same three plus kube-scheduler, containerd, kubelet and kube-proxy, all
  inside one ``sandbox`` (network, mount and PID namespaces of the harness's own, a cgroup
  root with a memory cap). The apiserver is reached from the host through a forwarder on the
  same loopback port, so the kubeconfig is the same inside and out; Pods reach it through the
  ``kubernetes`` Service. ``expose`` makes a host port reachable from Pods at the node's
  address, ``forward`` a Pod's port reachable from the host.

Ready means: the apiserver's ``/readyz`` answers ok, the ``default`` ServiceAccount exists in
the ``default`` namespace (proof that the controllers are acting), and with a node, the Node
is Ready.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pathlib
import shutil
import ssl
import subprocess
import sys
import time
import types
import urllib.request
from collections.abc import Sequence

from stigg_devkit import childproc
from stigg_localcluster import build, kubeconfig, node, processes, sandbox
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
NODE_CONTROLLERS = (
    "node-lifecycle-controller",
    "taint-eviction-controller",
    "pod-garbage-collector-controller",
    "ttl-controller",
)
# Without a node, ClusterIPs are only allocated, never reached: the node's range serves as well.
SERVICE_CLUSTER_IP_RANGE = sandbox.Network.service_cidr
_STATE_FILE = "state.json"


class ClusterError(RuntimeError):
    """The cluster could not start or be found; the message says which component and why."""


@dataclasses.dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int = 0
    kube_proxy_healthz: int = 0
    kube_proxy_metrics: int = 0
    coredns_ready: int = 0

    @classmethod
    def pick(cls) -> Ports:
        chosen: set[int] = set()
        while len(chosen) < 8:
            chosen.add(childproc.free_port())
        return cls(*sorted(chosen))


# kubelet binds unix sockets deep in its root folder (``pod-resources/`` and a 10-digit name
# beside ``kubelet.sock``); a socket's path holds at most 107 bytes (``sun_path``), and kubelet
# fails to start, with an error far from the cause, on a longer one.
_SOCKET_PATH_MAX = 107
_DEEPEST_SOCKET = ("node", "kubelet", "root", "pod-resources", "0123456789")


def _check_socket_room(state_dir: pathlib.Path) -> None:
    deepest = state_dir.joinpath(*_DEEPEST_SOCKET)
    if len(str(deepest).encode()) > _SOCKET_PATH_MAX:
        room = _SOCKET_PATH_MAX - len(str(deepest).encode()) + len(str(state_dir).encode())
        raise ClusterError(
            f"state folder {state_dir} is too long for a node ({len(str(state_dir).encode())} bytes; "
            f"at most {room}): kubelet's unix sockets under it would exceed {_SOCKET_PATH_MAX} bytes"
        )


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
        node: bool = False,
    ) -> None:
        self.state_dir = state_dir.resolve()
        if node:
            _check_socket_room(self.state_dir)
        self.attached = attached
        self._binaries = binaries
        self._children: list[subprocess.Popen[bytes]] = []
        self.records: list[processes.ProcessRecord] = []
        self.ports: Ports | None = None
        self.sandbox: sandbox.Sandbox | None = (
            sandbox.Sandbox(self.state_dir, attached=attached) if node else None
        )
        self._forwards: dict[tuple[str, int], int] = {}
        # Seconds from the start of ``start()`` to each of its milestones (for benchmarks).
        self.timings: dict[str, float] = {}

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
            self._binaries = build.ensure_built(node=self.sandbox is not None)
        return self._binaries

    @property
    def node_dir(self) -> pathlib.Path:
        return self.state_dir / "node"

    @property
    def network(self) -> sandbox.Network:
        return self._sandbox().network

    def _sandbox(self) -> sandbox.Sandbox:
        if self.sandbox is None:
            raise ClusterError("this cluster has no node")
        return self.sandbox

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> None:
        """Generate certificates, start the three components and wait until ready."""
        binaries = self.binaries
        if self.records and any(processes.is_running(record) for record in self.records):
            raise ClusterError(f"a cluster is already running from {self.state_dir}")
        shutil.rmtree(self.state_dir / "etcd", ignore_errors=True)
        shutil.rmtree(self.node_dir, ignore_errors=True)
        for folder in (self.pki_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.ports = Ports.pick()
        self._write_pki()
        deadline = time.monotonic() + timeout
        began = time.monotonic()
        self.timings = {}

        def mark(milestone: str) -> None:
            self.timings[milestone] = time.monotonic() - began

        try:
            if self.sandbox is not None:
                child, record = self.sandbox.start()
                mark("sandbox")
                self._children.append(child)
                self.records.append(record)
                self._forward_process(
                    "apiserver-forward", "host", "node", "127.0.0.1", self.started_ports.apiserver
                )
            self._spawn("etcd", self._etcd_argv(binaries))
            self._spawn("kube-apiserver", self._apiserver_argv(binaries))
            self._save_state()
            self._wait("kube-apiserver /readyz", f"{self.server}/readyz", self._admin_ssl(), deadline)
            mark("apiserver")
            # Started only once the apiserver is ready: before its RBAC bootstrap policy exists,
            # the controller-manager cannot read its authentication config and exits.
            self._spawn("kube-controller-manager", self._controller_manager_argv(binaries))
            self._save_state()
            if self.sandbox is None:
                self._wait(
                    "kube-controller-manager /healthz",
                    f"https://127.0.0.1:{self.started_ports.controller_manager}/healthz",
                    _unverified_ssl(),  # its own self-signed serving certificate; /healthz is public
                    deadline,
                )
            else:
                self._start_node(binaries, deadline)
                mark("kubelet")
            self._wait(
                "the default ServiceAccount (the controllers at work)",
                f"{self.server}/api/v1/namespaces/default/serviceaccounts/default",
                self._admin_ssl(),
                deadline,
            )
            if self.sandbox is not None:
                self._wait_node_ready(deadline)
            mark("ready")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every component in the reverse order of their start (the node's agents first,
        etcd, then the sandbox, last), remove the node's cgroups and its container storage.
        Idempotent."""
        processes.stop(list(reversed(self.records)), children=self._children)
        self._children.clear()
        self.records.clear()
        self._forwards.clear()
        try:
            if self.sandbox is not None:
                self.sandbox.stop()
        finally:
            # The containers' unpacked layers: hundreds of MB that no later start reuses.
            shutil.rmtree(self.node_dir / "containerd" / "root", ignore_errors=True)
            shutil.rmtree(self.state_dir / "sandbox" / "layers", ignore_errors=True)
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
        if state.get("sandbox"):
            cluster.sandbox = sandbox.Sandbox.from_state(cluster.state_dir, state["sandbox"])
        cluster._forwards = {(host, int(port)): local for host, port, local in state.get("forwards", [])}
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

    # -- the node -------------------------------------------------------------------------
    def import_images(self, archives: Sequence[pathlib.Path]) -> None:
        """Import OCI archives into the node's containerd, where kubelet finds them (no pulls)."""
        for archive in archives:
            self.ctr("images", "import", "--no-unpack", str(archive))

    def ctr(self, *args: str) -> str:
        """Run containerd's ``ctr`` in the sandbox, in Kubernetes' containerd namespace."""
        argv = [
            str(self.binaries.ctr),
            f"--address={node.CONTAINERD_SOCKET}",
            f"--namespace={node.CONTAINERD_NAMESPACE}",
            *args,
        ]
        try:
            return self._sandbox().run(argv, timeout=300).stdout
        except sandbox.SandboxError as error:
            raise ClusterError(str(error)) from None

    def expose(self, port: int) -> str:
        """Make the host's ``127.0.0.1:port`` reachable from Pods, at the node's address and the
        same port; returns that ``host:port`` (for a server of the test, such as the emulator)."""
        self._forward_process(
            f"expose-{port}", "node", "host", "127.0.0.1", port, listen_host=self.network.node_ip
        )
        return f"{self.network.node_ip}:{port}"

    def forward(self, address: str, port: int) -> int:
        """A host loopback port that reaches ``address:port`` inside the sandbox (a Pod's IP, a
        ClusterIP); one forwarder per target, reused."""
        key = (address, port)
        if key not in self._forwards:
            local = childproc.free_port()
            self._forward_process(
                f"forward-{address}-{port}", "host", "node", address, port, listen_port=local
            )
            self._forwards[key] = local
            self._save_state()
        return self._forwards[key]

    def _forward_process(
        self,
        name: str,
        listen_side: str,
        connect_side: str,
        connect_host: str,
        port: int,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int | None = None,
    ) -> None:
        ready = self.state_dir / "sandbox" / f"{name}.ready"
        ready.unlink(missing_ok=True)
        argv = [
            sys.executable,
            "-I",
            "-m",
            "stigg_localcluster.forward",
            f"--netns={self._sandbox().netns_path}",
            f"--listen={listen_side}:{listen_host}:{listen_port or port}",
            f"--connect={connect_side}:{connect_host}:{port}",
            f"--ready-file={ready}",
        ]
        self._spawn(name, argv, host=True)
        try:
            processes.wait_for_file(self._children[-1], ready, timeout=10)
        except processes.NotReady as error:
            raise ClusterError(f"{name} {error}:\n{_tail(self.logs_dir / f'{name}.log')}") from None

    def _start_node(self, binaries: build.Binaries, deadline: float) -> None:
        ports = self.started_ports
        box = self._sandbox()
        configs = node.write_configs(
            self.node_dir,
            network=box.network,
            ca_file=self.ca_file,
            cgroup_root=box.cgroup,
            pause_ref=build.PAUSE_REF,
            kube_proxy_kubeconfig=self.state_dir / "kubeconfig-kube-proxy",
            kube_proxy_ports=(ports.kube_proxy_healthz, ports.kube_proxy_metrics),
            coredns_kubeconfig=self.state_dir / "kubeconfig-coredns",
            coredns_ready_port=ports.coredns_ready,
        )
        for suffix in ("crt", "key"):
            shutil.copy2(
                self.pki_dir / f"kubelet-serving.{suffix}", self.node_dir / "kubelet" / f"serving.{suffix}"
            )
        rbac = {"apiVersion": "v1", "kind": "List", "items": node.node_rbac()}
        self.kubectl("apply", "-f", "-", input_text=json.dumps(rbac))
        scheduler_kubeconfig = self.state_dir / "kubeconfig-scheduler"
        self._spawn(
            "kube-scheduler",
            [
                str(binaries.kube_scheduler),
                f"--kubeconfig={scheduler_kubeconfig}",
                f"--authentication-kubeconfig={scheduler_kubeconfig}",
                f"--authorization-kubeconfig={scheduler_kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={ports.scheduler}",
                "--profiling=false",
                "--v=1",
            ],
        )
        self._spawn(
            "containerd",
            [str(binaries.containerd), f"--config={configs['containerd']}", "--log-level=warn"],
        )
        self._save_state()
        while True:
            try:
                self.ctr("version")
                break
            except ClusterError:
                self._raise_if_exited()
                if time.monotonic() > deadline:
                    raise ClusterError(f"containerd did not answer; logs in {self.logs_dir}") from None
                time.sleep(0.05)
        self.import_images([binaries.pause_image])
        self._spawn(
            "kubelet",
            [
                str(binaries.kubelet),
                f"--config={configs['kubelet']}",
                f"--kubeconfig={self.state_dir / 'kubeconfig-kubelet'}",
                f"--root-dir={self.node_dir / 'kubelet' / 'root'}",
                f"--cert-dir={self.node_dir / 'kubelet' / 'pki'}",
                f"--hostname-override={node.NODE_NAME}",
                f"--node-ip={box.network.node_ip}",
                "--v=1",
            ],
        )
        self._spawn("kube-proxy", [str(binaries.kube_proxy), f"--config={configs['kube-proxy']}", "--v=1"])
        self._spawn("coredns", [str(binaries.coredns), "-conf", str(configs["coredns"])])
        self._save_state()

    def _wait_node_ready(self, deadline: float) -> None:
        url = f"{self.server}/api/v1/nodes/{node.NODE_NAME}"
        context = self._admin_ssl()
        while not _node_ready(url, context):
            self._raise_if_exited()
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"timed out waiting for Node {node.NODE_NAME} to be Ready; logs in {self.logs_dir}"
                )
            time.sleep(0.1)

    # -- internals --------------------------------------------------------------------------
    def _write_pki(self) -> None:
        ca = pki.CertificateAuthority.create()
        ca.write(self.pki_dir, "ca")
        hosts = [
            "127.0.0.1",
            "localhost",
            "10.96.0.1",
            sandbox.Network.node_ip,
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ]
        ca.issue_serving("kube-apiserver", hosts).write(self.pki_dir, "apiserver")
        pki.service_account_key_pair().write(self.pki_dir, "service-account")
        users = [
            ("kubernetes-admin", ("system:masters",), "admin"),
            ("system:kube-controller-manager", (), "controller-manager"),
        ]
        if self.sandbox is not None:
            users += [
                ("system:kube-scheduler", (), "scheduler"),
                (f"system:node:{node.NODE_NAME}", ("system:nodes",), "kubelet"),
                ("system:kube-proxy", (), "kube-proxy"),
                ("kube-apiserver-kubelet-client", (), "apiserver-kubelet-client"),
                (node.COREDNS_USER, (), "coredns"),
            ]
            ca.issue_serving(node.NODE_NAME, [self.network.node_ip, node.NODE_NAME]).write(
                self.pki_dir, "kubelet-serving"
            )
        for user, groups, name in users:
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
        if self.sandbox is None:
            where = [
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                # The lease reconciler refuses a loopback advertise address; without a node,
                # nothing reaches the apiserver through the `kubernetes` Service anyway.
                "--endpoint-reconciler-type=none",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            ]
        else:
            # Every address of the sandbox (loopback for the components and the host's
            # forwarder, the node's for Pods through the `kubernetes` Service); none outside it.
            where = [
                "--bind-address=0.0.0.0",
                f"--advertise-address={self.network.node_ip}",
                f"--service-cluster-ip-range={self.network.service_cidr}",
                f"--kubelet-client-certificate={pki_dir / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki_dir / 'apiserver-kubelet-client.key'}",
                f"--kubelet-certificate-authority={self.ca_file}",
                "--kubelet-preferred-address-types=InternalIP",
            ]
        return [
            str(binaries.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
            *where,
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
            f"--controllers={','.join(CONTROLLERS + (NODE_CONTROLLERS if self.sandbox else ()))}",
            f"--service-account-private-key-file={self.pki_dir / 'service-account.key'}",
            f"--root-ca-file={self.ca_file}",
            "--use-service-account-credentials=true",  # each controller acts as its own identity
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports.controller_manager}",
            "--profiling=false",
            "--v=1",
        ]

    def _spawn(self, name: str, argv: list[str], *, host: bool = False) -> None:
        """Start a component: inside the sandbox when there is one, unless ``host``."""
        if self.sandbox is not None and not host:
            argv = self.sandbox.enter(argv)
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
            "sandbox": self.sandbox.to_state() if self.sandbox is not None else None,
            "forwards": [[host, port, local] for (host, port), local in self._forwards.items()],
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


def _node_ready(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:  # noqa: S310 -- https to loopback
            body = json.load(response)
    except OSError:
        return False
    conditions = body.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
