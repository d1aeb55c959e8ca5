"""A stand-in for the kubelet, for one container at a time: run a Pod's container from its spec.

There is no kubelet (and no container engine) here, so Pods stay Pending. To prove that what
the webhook injected is wired correctly, ``PodRunner`` takes a Pod as stored by the apiserver
and runs one of its containers as a local process, the way the Pod spec says:

* **env**: literal values; ``secretKeyRef`` and ``configMapKeyRef`` read through the API;
  ``fieldRef`` for the Pod's name, namespace and IP. A missing optional reference is skipped,
  a missing required one is an error (as the kubelet would refuse to start the container).
* **volumes**: each mounted ``configMap`` (or ``secret``) volume is written as files, with the
  kubelet's layout (``..<timestamp>/`` data folders and an atomically swapped ``..data`` link),
  and refreshed when the object changes; ``emptyDir`` is an empty folder. Mount paths are
  mapped into the runner's folder: any env value that starts with a mount path is rewritten
  to the local folder.
* **network**: each Pod gets its own loopback address (127.0.0.N) standing in for its Pod IP;
  an env value ``0.0.0.0`` (listen everywhere in the Pod) becomes that address.
* **image**: no images here; ``images`` maps an image to the local command that plays it.
* **probes**: ``httpGet`` and ``tcpSocket`` probes run against the Pod IP and the (named)
  container port, with the spec's period and failure threshold.
* **Services**: ``expose`` stands in for kube-proxy (its old userspace mode): it listens on a
  Service's ClusterIP (the local control plane allocates them from a loopback range) and each
  port, and forwards every connection to a ready container the runner runs whose Pod the
  Service selects, at the ``targetPort`` (a number or a container port's name), round robin.

These rewrites are the emulation of a Pod's filesystem and network namespace; everything else
(names, keys, ports, paths within the mounts, probe paths) is used exactly as the spec gives it.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import itertools
import os
import pathlib
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes import client

from stigg_devkit import childproc

_ADDRESSES = itertools.count(2)


class PodRunnerError(RuntimeError):
    """The container cannot be started as its spec says (the kubelet would not start it either)."""


@dataclasses.dataclass
class _Projection:
    """One mounted configMap/secret volume kept in sync with its object."""

    kind: str  # "configMap" or "secret"
    name: str
    optional: bool
    directory: pathlib.Path
    version: str | None = None


class RunningContainer:
    def __init__(
        self,
        runner: PodRunner,
        pod: Mapping[str, Any],
        container: Mapping[str, Any],
        pod_ip: str,
        root: pathlib.Path,
    ) -> None:
        self.runner = runner
        self.pod = pod
        self.container = container
        self.pod_ip = pod_ip
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None
        self.projections: list[_Projection] = []
        self._stop = threading.Event()
        self._sync: threading.Thread | None = None
        self.log_path = root / "container.log"

    @property
    def ports(self) -> dict[str, int]:
        declared = self.container.get("ports") or []
        return {p["name"]: int(p["containerPort"]) for p in declared if p.get("name")}

    def address(self, port_name: str) -> str:
        return f"{self.pod_ip}:{self.ports[port_name]}"

    def _port(self, port: int | str) -> int:
        return int(port) if isinstance(port, int) or str(port).isdigit() else self.ports[str(port)]

    def probe_once(self, kind: str) -> bool:
        """Run the container's ``kind`` probe (startupProbe, readinessProbe, livenessProbe) once."""
        probe = self.container.get(kind)
        if probe is None:
            raise PodRunnerError(f"container {self.container['name']} declares no {kind}")
        timeout = float(probe.get("timeoutSeconds", 1))
        if "httpGet" in probe:
            action = probe["httpGet"]
            scheme = str(action.get("scheme", "HTTP")).lower()
            url = f"{scheme}://{self.pod_ip}:{self._port(action['port'])}{action.get('path', '/')}"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 -- loopback
                    status: int = response.status
                    return 200 <= status < 400
            except (urllib.error.URLError, OSError):
                return False
        if "tcpSocket" in probe:
            with socket.socket() as sock:
                sock.settimeout(timeout)
                return sock.connect_ex((self.pod_ip, self._port(probe["tcpSocket"]["port"]))) == 0
        raise PodRunnerError(f"{kind}: only httpGet and tcpSocket probes are supported by the runner")

    def wait_probe(self, kind: str) -> float:
        """Probe as the kubelet would (period, failure threshold); seconds until success."""
        probe = self.container.get(kind) or {}
        period = float(probe.get("periodSeconds", 10))
        attempts = int(probe.get("failureThreshold", 3))
        started = time.monotonic()
        time.sleep(float(probe.get("initialDelaySeconds", 0)))
        for _ in range(attempts):
            if self.process is not None and self.process.poll() is not None:
                code = self.process.returncode
                raise PodRunnerError(f"the container exited with {code}:\n{self.log()[-3000:]}")
            if self.probe_once(kind):
                return time.monotonic() - started
            time.sleep(period)
        raise PodRunnerError(f"{kind} failed {attempts} times:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        self._stop.set()
        if self._sync is not None:
            self._sync.join(5)
        if self.process is not None:
            childproc.stop(self.process, 15)

    # -- volumes ---------------------------------------------------------------------------------
    def _read(self, projection: _Projection) -> tuple[str | None, dict[str, bytes] | None]:
        core = client.CoreV1Api(self.runner.api)
        namespace = self.pod["metadata"]["namespace"]
        try:
            if projection.kind == "configMap":
                obj = core.read_namespaced_config_map(projection.name, namespace)
                files = {k: v.encode() for k, v in (obj.data or {}).items()}
            else:
                obj = core.read_namespaced_secret(projection.name, namespace)
                files = {k: base64.b64decode(v) for k, v in (obj.data or {}).items()}
        except client.ApiException as error:
            if error.status == 404 and projection.optional:
                return None, None
            raise
        return obj.metadata.resource_version, files

    def _write(self, projection: _Projection, files: Mapping[str, bytes]) -> None:
        """The kubelet's atomic update: a new data folder, then swap the ``..data`` link."""
        directory = projection.directory
        stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
        target = directory / stamp
        target.mkdir()
        for name, content in files.items():
            (target / name).write_bytes(content)
        link = directory / "..data_tmp"
        link.symlink_to(stamp)
        old = (directory / "..data").resolve() if (directory / "..data").exists() else None
        os.replace(link, directory / "..data")
        for name in files:
            if not (directory / name).is_symlink():
                (directory / name).symlink_to(f"..data/{name}")
        if old is not None and old != target:
            shutil.rmtree(old, ignore_errors=True)

    def _refresh(self) -> bool:
        changed = False
        for projection in self.projections:
            version, files = self._read(projection)
            if version != projection.version and files is not None:
                self._write(projection, files)
                projection.version = version
                changed = True
        return changed

    def _sync_forever(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._refresh()
            except Exception:  # noqa: S112 -- a transient API error: the next round retries
                continue


class PodRunner:
    """Runs containers of Pods read from the API; see the module docstring."""

    def __init__(
        self,
        api: client.ApiClient,
        images: Mapping[str, Sequence[str]],
        workdir: pathlib.Path,
        *,
        sync_interval: float = 0.5,
    ) -> None:
        self.api = api
        self.images = images
        self.workdir = workdir
        self.sync_interval = sync_interval
        self.running: list[RunningContainer] = []
        self.proxies: list[ServiceProxy] = []

    def _resolve_env(
        self, pod: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str
    ) -> dict[str, str]:
        core = client.CoreV1Api(self.api)
        namespace = pod["metadata"]["namespace"]
        env: dict[str, str] = {}
        for item in container.get("env") or []:
            name = item["name"]
            if "value" in item:
                env[name] = str(item["value"])
                continue
            source = item.get("valueFrom") or {}
            if "secretKeyRef" in source or "configMapKeyRef" in source:
                kind = "secretKeyRef" if "secretKeyRef" in source else "configMapKeyRef"
                ref = source[kind]
                try:
                    if kind == "secretKeyRef":
                        data = core.read_namespaced_secret(ref["name"], namespace).data or {}
                        value = base64.b64decode(data[ref["key"]]).decode() if ref["key"] in data else None
                    else:
                        found = core.read_namespaced_config_map(ref["name"], namespace)
                        value = (found.data or {}).get(ref["key"])
                except client.ApiException as error:
                    if error.status != 404:
                        raise
                    value = None
                if value is None:
                    if ref.get("optional"):
                        continue
                    where = f"{namespace}/{ref['name']} key {ref['key']!r}"
                    raise PodRunnerError(f"env {name}: {kind} {where} not found")
                env[name] = value
            elif "fieldRef" in source:
                path = source["fieldRef"]["fieldPath"]
                values = {
                    "metadata.name": pod["metadata"]["name"],
                    "metadata.namespace": namespace,
                    "status.podIP": pod_ip,
                }
                if path not in values:
                    raise PodRunnerError(f"env {name}: fieldRef {path} is not supported by the runner")
                env[name] = values[path]
        return env

    def run(self, pod: Mapping[str, Any], container_name: str) -> RunningContainer:
        """Start ``container_name`` of ``pod`` (a Pod as the API returns it, as a plain dict)."""
        spec = pod["spec"]
        containers = [*(spec.get("initContainers") or []), *spec["containers"]]
        container = next((c for c in containers if c["name"] == container_name), None)
        if container is None:
            raise PodRunnerError(f"Pod {pod['metadata']['name']} has no container {container_name}")
        pod_ip = f"127.0.0.{next(_ADDRESSES)}"
        root = self.workdir / f"{pod['metadata']['name']}-{container_name}"
        root.mkdir(parents=True)
        running = RunningContainer(self, pod, container, pod_ip, root)

        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        mounts: dict[str, pathlib.Path] = {}
        for mount in container.get("volumeMounts") or []:
            if mount.get("subPath"):
                raise PodRunnerError(f"volumeMount {mount['name']}: subPath mounts are not supported")
            volume = volumes[mount["name"]]
            local = root / "volumes" / mount["name"]
            local.mkdir(parents=True)
            if "configMap" in volume or "secret" in volume:
                kind = "configMap" if "configMap" in volume else "secret"
                source = volume[kind]
                name = source["name"] if kind == "configMap" else source["secretName"]
                running.projections.append(_Projection(kind, name, bool(source.get("optional")), local))
            elif "emptyDir" not in volume:
                continue  # e.g. the service-account token projection: not needed by the runner
            mounts[mount["mountPath"].rstrip("/")] = local
        running._refresh()

        env = self._resolve_env(pod, container, pod_ip)
        for name, value in list(env.items()):
            if value == "0.0.0.0":  # noqa: S104 -- "everywhere in the Pod": its Pod IP here
                env[name] = pod_ip
            for mount_path, local in mounts.items():
                if value == mount_path or value.startswith(mount_path + "/"):
                    env[name] = str(local) + value[len(mount_path) :]
        command = container.get("command") or self.images.get(container["image"], ())
        argv = [*command, *(container.get("args") or [])]
        if not argv:
            raise PodRunnerError(f"image {container['image']}: no local command is registered for it")
        with running.log_path.open("ab") as log:
            running.process = subprocess.Popen(
                childproc.tied(argv),
                env={"PATH": os.environ.get("PATH", ""), **env},
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        running._sync = threading.Thread(
            target=running._sync_forever, args=(self.sync_interval,), daemon=True
        )
        running._sync.start()
        self.running.append(running)
        return running

    def expose(self, service: Mapping[str, Any]) -> ServiceProxy:
        """Serve ``service`` (as the API returns it, a plain dict) at its ClusterIP; see the docstring."""
        proxy = ServiceProxy(self, service)
        proxy.start()
        self.proxies.append(proxy)
        return proxy

    def stop_all(self) -> None:
        for proxy in self.proxies:
            proxy.stop()
        self.proxies.clear()
        for running in self.running:
            running.stop()
        self.running.clear()


class ServiceProxy:
    """A stand-in for kube-proxy for one Service: TCP forwarding from ClusterIP:port to its Pods."""

    def __init__(self, runner: PodRunner, service: Mapping[str, Any]) -> None:
        self.runner = runner
        self.service = service
        self.cluster_ip = str(service["spec"]["clusterIP"])
        self.namespace = str(service["metadata"]["namespace"])
        self.selector: Mapping[str, str] = service["spec"].get("selector") or {}
        self._listeners: list[socket.socket] = []
        self._stop = threading.Event()
        self._turn = itertools.count()
        self.connections = 0

    def start(self) -> None:
        for port in self.service["spec"]["ports"]:
            listener = socket.create_server((self.cluster_ip, int(port["port"])))
            listener.settimeout(0.2)
            self._listeners.append(listener)
            threading.Thread(target=self._accept, args=(listener, port["targetPort"]), daemon=True).start()

    def backends(self, target_port: int | str) -> list[tuple[str, int]]:
        """(Pod IP, port) of the running, ready containers this Service selects."""
        found = []
        for running in self.runner.running:
            labels = running.pod["metadata"].get("labels") or {}
            if running.pod["metadata"]["namespace"] != self.namespace:
                continue
            if not self.selector or any(labels.get(k) != v for k, v in self.selector.items()):
                continue
            if running.process is None or running.process.poll() is not None:
                continue
            if (
                isinstance(target_port, str)
                and not target_port.isdigit()
                and target_port not in running.ports
            ):
                continue
            if running.container.get("readinessProbe") and not running.probe_once("readinessProbe"):
                continue
            found.append((running.pod_ip, running._port(target_port)))
        return found

    def _accept(self, listener: socket.socket, target_port: int | str) -> None:
        while not self._stop.is_set():
            try:
                downstream, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            backends = self.backends(target_port)
            if not backends:
                downstream.close()  # no ready endpoint: the connection is refused, as by kube-proxy
                continue
            self.connections += 1
            backend = backends[next(self._turn) % len(backends)]
            try:
                upstream = socket.create_connection(backend, timeout=5)
            except OSError:
                downstream.close()
                continue
            upstream.settimeout(None)
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        for listener in self._listeners:
            listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes one way until either side closes, then close both."""
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
