"""Build the cluster's binaries from the Go module proxy, once, into a cache folder.

The versions are pinned by wrapper Go modules committed beside this package
(``stigg_localcluster/gomod/{kubernetes,etcd,containerd,coredns}``, each with its ``go.sum``):
``k8s.io/kubernetes`` cannot be ``go install``-ed because its ``go.mod`` replaces every staging
module with a ``./staging`` path, so the wrapper requires it and replaces each staging module
with its published ``v0.Y.Z`` release. The ``go.mod`` files are the single source of truth for
the versions; this module reads them back to name the cache folders, so a version bump builds
afresh.

The control plane is etcd, kube-apiserver, kube-controller-manager and kubectl; the node adds
kubelet, kube-scheduler and kube-proxy (the same wrapper), containerd with its runc shim and
``ctr``, and CoreDNS for the cluster's names; runc and the CNI plugins are Debian's. No
registry is reachable, so the Pod sandbox ("pause") image is built here too: Kubernetes' own
``build/pause/linux/pause.c`` from the pinned module, ``gcc -static``, packed as a one-layer OCI
archive beside the binaries.

Binaries land in ``$STIGG_LOCALCLUSTER_CACHE`` (default ``~/.cache/stigg-localcluster``)
under ``k8s-<version>-etcd-<version>/bin`` and are rebuilt only when one is missing. The build
reports progress as ``[compiled/total]`` package counts, since a cold build takes minutes.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from stigg_devkit import images

GOMOD_DIR = pathlib.Path(__file__).resolve().parent / "gomod"

KUBERNETES_COMMANDS = (
    "k8s.io/kubernetes/cmd/kube-apiserver",
    "k8s.io/kubernetes/cmd/kube-controller-manager",
    "k8s.io/kubernetes/cmd/kubectl",
    "k8s.io/kubernetes/cmd/kubelet",
    "k8s.io/kubernetes/cmd/kube-scheduler",
    "k8s.io/kubernetes/cmd/kube-proxy",
)
ETCD_COMMAND = "go.etcd.io/etcd/server/v3"
CONTAINERD_COMMANDS = (
    "github.com/containerd/containerd/v2/cmd/containerd",
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
    "github.com/containerd/containerd/v2/cmd/ctr",
)
COREDNS_COMMAND = "github.com/coredns/coredns"
PAUSE_SOURCE = "build/pause/linux/pause.c"  # in the k8s.io/kubernetes module
# Bumped whenever the way the binaries are built changes (flags, ldflags), so that the cache
# folder changes too and every machine rebuilds instead of running stale binaries.
RECIPE_REVISION = 2

Reporter = Callable[[str], None]


class BuildError(RuntimeError):
    """A binary could not be built; the message carries the tail of the Go output."""


@dataclasses.dataclass(frozen=True)
class Versions:
    """The pinned component versions, as read from the wrapper modules' ``go.mod``."""

    kubernetes: str
    etcd: str
    containerd: str
    coredns: str


@dataclasses.dataclass(frozen=True)
class Binaries:
    """Paths of the built control-plane binaries."""

    etcd: pathlib.Path
    kube_apiserver: pathlib.Path
    kube_controller_manager: pathlib.Path
    kubectl: pathlib.Path
    kubelet: pathlib.Path
    kube_scheduler: pathlib.Path
    kube_proxy: pathlib.Path
    containerd: pathlib.Path
    containerd_shim: pathlib.Path
    ctr: pathlib.Path
    coredns: pathlib.Path
    pause_image: pathlib.Path  # an OCI archive, not an executable

    def control_plane(self) -> tuple[pathlib.Path, ...]:
        return (self.etcd, self.kube_apiserver, self.kube_controller_manager, self.kubectl)

    def node(self) -> tuple[pathlib.Path, ...]:
        return (
            self.kubelet,
            self.kube_scheduler,
            self.kube_proxy,
            self.containerd,
            self.containerd_shim,
            self.ctr,
            self.coredns,
        )

    def all(self) -> tuple[pathlib.Path, ...]:
        return (*self.control_plane(), *self.node())

    def missing(self, *, node: bool = True) -> list[pathlib.Path]:
        wanted = self.all() if node else self.control_plane()
        missing = [path for path in wanted if not os.access(path, os.X_OK)]
        if node and not self.pause_image.is_file():
            missing.append(self.pause_image)
        return missing


def _required_version(gomod: pathlib.Path, module: str) -> str:
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", gomod.read_text(), re.M)
    if match is None:
        raise BuildError(f"{gomod} does not require {module}")
    return match.group(1)


def pinned_versions() -> Versions:
    return Versions(
        kubernetes=_required_version(GOMOD_DIR / "kubernetes" / "go.mod", "k8s.io/kubernetes"),
        etcd=_required_version(GOMOD_DIR / "etcd" / "go.mod", "go.etcd.io/etcd/server/v3"),
        containerd=_required_version(
            GOMOD_DIR / "containerd" / "go.mod", "github.com/containerd/containerd/v2"
        ),
        coredns=_required_version(GOMOD_DIR / "coredns" / "go.mod", "github.com/coredns/coredns"),
    )


def cache_root() -> pathlib.Path:
    configured = os.environ.get("STIGG_LOCALCLUSTER_CACHE")
    if configured:
        return pathlib.Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg).expanduser() if xdg else pathlib.Path.home() / ".cache"
    return base / "stigg-localcluster"


def binaries(versions: Versions | None = None) -> Binaries:
    """Where the binaries for the pinned versions live (built or not)."""
    versions = versions or pinned_versions()
    name = f"k8s-{versions.kubernetes}-etcd-{versions.etcd}-r{RECIPE_REVISION}"
    bindir = cache_root() / name / "bin"
    return Binaries(
        etcd=bindir / "etcd",
        kube_apiserver=bindir / "kube-apiserver",
        kube_controller_manager=bindir / "kube-controller-manager",
        kubectl=bindir / "kubectl",
        kubelet=bindir / "kubelet",
        kube_scheduler=bindir / "kube-scheduler",
        kube_proxy=bindir / "kube-proxy",
        # containerd's version names its own folder beside: a bump rebuilds only containerd.
        containerd=bindir / f"containerd-{versions.containerd}" / "containerd",
        containerd_shim=bindir / f"containerd-{versions.containerd}" / "containerd-shim-runc-v2",
        ctr=bindir / f"containerd-{versions.containerd}" / "ctr",
        coredns=bindir / f"coredns-{versions.coredns}" / "coredns",
        pause_image=bindir / "pause.oci.tar",
    )


def _stderr_reporter(message: str) -> None:
    print(f"[localcluster build] {message}", file=sys.stderr, flush=True)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # Static binaries, no cgo toolchain needed; never fetch another Go toolchain.
    env.update(CGO_ENABLED="0", GOTOOLCHAIN=env.get("GOTOOLCHAIN", "local"), GOFLAGS="-mod=readonly")
    return env


def _kubernetes_ldflags(version: str) -> str:
    """Stamp the release version into the binaries, as Kubernetes' own build does (hack/lib/version.sh);
    without it they report ``v0.0.0-master`` and clients such as ``kubectl version`` fail to parse it."""
    major, minor = version.removeprefix("v").split(".")[:2]
    stamps = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean"}
    flags = [
        f"-X {package}.{name}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for name, value in stamps.items()
    ]
    return " ".join(["-s", "-w", *flags])


def _count_packages(moddir: pathlib.Path, commands: tuple[str, ...]) -> int:
    listed = subprocess.run(
        ["go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", *commands],
        cwd=moddir,
        env=_go_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        raise BuildError(f"go list failed in {moddir}:\n{listed.stderr[-4000:]}")
    return sum(1 for line in listed.stdout.splitlines() if line.strip())


def _go_build(
    moddir: pathlib.Path,
    commands: tuple[str, ...],
    output: str,
    *,
    report: Reporter,
    label: str,
    ldflags: str = "-s -w",
) -> None:
    """``go build -v`` the commands to ``output`` (a file, or a folder ending in a separator)."""
    report(f"{label}: downloading modules (first time only)")
    download = subprocess.run(
        ["go", "mod", "download"], cwd=moddir, env=_go_env(), capture_output=True, text=True, check=False
    )
    if download.returncode != 0:
        raise BuildError(f"go mod download failed in {moddir}:\n{download.stderr[-4000:]}")
    total = _count_packages(moddir, commands)
    report(f"{label}: compiling up to {total} packages")
    started = time.monotonic()
    process = subprocess.Popen(
        ["go", "build", "-v", "-trimpath", f"-ldflags={ldflags}", "-o", output, *commands],
        cwd=moddir,
        env=_go_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if process.stdout is None:  # pragma: no cover -- stdout=PIPE always gives a stream
        raise BuildError("go build gave no output stream")
    tail: list[str] = []
    compiled = 0
    last_report = 0.0
    for line in process.stdout:
        tail = [*tail[-40:], line.rstrip()]
        if line and not line.startswith(("#", " ", "go:")):
            compiled += 1
        now = time.monotonic()
        if now - last_report >= 10:
            last_report = now
            report(f"{label}: [{min(compiled, total)}/{total}] packages, {now - started:.0f}s")
    if process.wait() != 0:
        raise BuildError(f"go build failed for {label}:\n" + "\n".join(tail))
    report(f"{label}: built in {time.monotonic() - started:.0f}s")


def ensure_built(report: Reporter = _stderr_reporter, *, force: bool = False, node: bool = True) -> Binaries:
    """Return the binaries, building whichever are missing (all of them with ``force``).
    ``node=False`` builds only the control plane's four."""
    versions = pinned_versions()
    target = binaries(versions)
    wanted = (*target.all(), target.pause_image) if node else target.control_plane()
    missing = list(wanted) if force else target.missing(node=node)
    if not missing:
        return target
    if shutil.which("go") is None:
        raise BuildError("the Go toolchain is needed to build the local cluster: `go` is not on PATH")
    bindir = target.etcd.parent
    bindir.parent.mkdir(parents=True, exist_ok=True)
    pins = f"Kubernetes {versions.kubernetes}, etcd {versions.etcd}, containerd {versions.containerd}"
    report(f"building {pins}")
    started = time.monotonic()
    # Build into a scratch folder beside the target and move the binaries in only when all
    # built, so an interrupted build never leaves a half-written binary behind.
    with tempfile.TemporaryDirectory(dir=bindir.parent, prefix="build-") as scratch:
        outdir = pathlib.Path(scratch)
        if target.etcd in missing:
            etcd_out = str(outdir / target.etcd.name)
            _go_build(
                GOMOD_DIR / "etcd", (ETCD_COMMAND,), etcd_out, report=report, label=f"etcd {versions.etcd}"
            )
        k8s_paths = (
            target.kube_apiserver,
            target.kube_controller_manager,
            target.kubectl,
            target.kubelet,
            target.kube_scheduler,
            target.kube_proxy,
        )
        wanted_k8s = tuple(
            command for command, path in zip(KUBERNETES_COMMANDS, k8s_paths, strict=True) if path in missing
        )
        if wanted_k8s:
            _go_build(
                GOMOD_DIR / "kubernetes",
                wanted_k8s,
                f"{outdir}{os.sep}",
                report=report,
                label=f"kubernetes {versions.kubernetes}",
                ldflags=_kubernetes_ldflags(versions.kubernetes),
            )
        containerd_paths = (target.containerd, target.containerd_shim, target.ctr)
        containerd_dir = outdir / target.containerd.parent.name
        if any(path in missing for path in containerd_paths):
            containerd_dir.mkdir()
            _go_build(
                GOMOD_DIR / "containerd",
                CONTAINERD_COMMANDS,
                f"{containerd_dir}{os.sep}",
                report=report,
                label=f"containerd {versions.containerd}",
                ldflags=_containerd_ldflags(versions.containerd),
            )
        if target.coredns in missing:
            coredns_dir = outdir / target.coredns.parent.name
            coredns_dir.mkdir()
            _go_build(
                GOMOD_DIR / "coredns",
                (COREDNS_COMMAND,),
                str(coredns_dir / "coredns"),
                report=report,
                label=f"coredns {versions.coredns}",
            )
        if target.pause_image in missing:
            _build_pause(outdir / target.pause_image.name, versions, report)
        bindir.mkdir(exist_ok=True)
        for built in outdir.iterdir():
            destination = bindir / built.name
            if built.is_dir():
                shutil.rmtree(destination, ignore_errors=True)
            built.replace(destination)
    still_missing = target.missing(node=node)
    if still_missing:
        raise BuildError(f"the build finished but these are missing: {', '.join(map(str, still_missing))}")
    report(f"built in {time.monotonic() - started:.0f}s")
    return target


def _containerd_ldflags(version: str) -> str:
    """Stamp the version as containerd's Makefile does (``ctr version`` and the CRI report it)."""
    return f"-s -w -X github.com/containerd/containerd/v2/version.Version={version}"


PAUSE_REF = "localhost/stigg-localcluster/pause:3.10"


def _build_pause(output: pathlib.Path, versions: Versions, report: Reporter) -> None:
    """The Pod sandbox image: Kubernetes' pause.c, statically linked, alone in one layer."""
    if shutil.which("gcc") is None:
        raise BuildError("gcc is needed to build the pause image: it is not on PATH")
    modcache = subprocess.run(
        ["go", "env", "GOMODCACHE"], env=_go_env(), capture_output=True, text=True, check=True
    ).stdout.strip()
    source = pathlib.Path(modcache) / f"k8s.io/kubernetes@{versions.kubernetes}" / PAUSE_SOURCE
    if not source.is_file():
        raise BuildError(f"{source} is missing: run the Kubernetes build first (go mod download)")
    with tempfile.TemporaryDirectory(prefix="pause-") as scratch:
        work = pathlib.Path(scratch)
        binary = work / "pause"
        compiled = subprocess.run(
            ["gcc", "-Os", "-static", "-DVERSION=" + versions.kubernetes, "-o", str(binary), str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if compiled.returncode != 0:
            raise BuildError(f"gcc failed on {source}:\n{compiled.stderr[-4000:]}")
        subprocess.run(["strip", str(binary)], check=False)
        images.pack_executable(
            binary, output, path="pause", ref=PAUSE_REF, history=f"gcc -static {PAUSE_SOURCE}"
        )
    report(f"pause image: {output.stat().st_size / 1e3:.0f} kB")


# -- Tools: Go programs the tests run beside the cluster ------------------------------------------


# Prometheus' module versions are v0.3XY.Z for its releases 3.XY.Z: stamp the release.
_PROMETHEUS = "github.com/prometheus/prometheus"
_PROMETHEUS_STAMP = "github.com/prometheus/common/version.Version"


def _prometheus_release(module_version: str) -> str:
    major_minor, _, patch = module_version.removeprefix("v0.").partition(".")
    return f"{major_minor[0]}.{int(major_minor[1:])}.{patch}"


@dataclasses.dataclass(frozen=True)
class Tool:
    """A Go command built from a wrapper module of ``gomod/`` (its ``go.mod`` pins the version)."""

    name: str
    wrapper: str  # the folder under gomod/
    module: str  # the module the wrapper requires, whose version names the cache folder
    command: str  # the package to build
    version_variable: str | None = None  # a ``-X`` variable stamped with the version

    def version(self) -> str:
        return _required_version(GOMOD_DIR / self.wrapper / "go.mod", self.module)

    def stamped_version(self) -> str:
        """The version the binary reports: the module's, or the release it is for (Prometheus)."""
        version = self.version()
        return _prometheus_release(version) if self.module == _PROMETHEUS else version

    def ldflags(self) -> str:
        if self.version_variable is None:
            return "-s -w"
        return f"-s -w -X {self.version_variable}={self.stamped_version()}"


TOOLS = {
    tool.name: tool
    for tool in (
        Tool(
            "helm",
            "helm",
            "helm.sh/helm/v4",
            "helm.sh/helm/v4/cmd/helm",
            "helm.sh/helm/v4/internal/version.version",
        ),
        Tool("promtool", "prometheus", _PROMETHEUS, f"{_PROMETHEUS}/cmd/promtool", _PROMETHEUS_STAMP),
        Tool("prometheus", "prometheus", _PROMETHEUS, f"{_PROMETHEUS}/cmd/prometheus", _PROMETHEUS_STAMP),
    )
}


def tool_path(name: str) -> pathlib.Path:
    """Where the tool ``name`` (a key of ``TOOLS``) lives for its pinned version, built or not."""
    tool = TOOLS[name]
    return cache_root() / "tools" / f"{tool.name}-{tool.version()}-r{RECIPE_REVISION}" / tool.name


def ensure_tool(name: str, report: Reporter = _stderr_reporter) -> pathlib.Path:
    """The tool's binary, built first if missing (into a scratch file moved in when done)."""
    target = tool_path(name)
    if os.access(target, os.X_OK):
        return target
    if shutil.which("go") is None:
        raise BuildError(f"the Go toolchain is needed to build {name}: `go` is not on PATH")
    tool = TOOLS[name]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix="build-") as scratch:
        built = pathlib.Path(scratch) / name
        _go_build(
            GOMOD_DIR / tool.wrapper,
            (tool.command,),
            str(built),
            report=report,
            label=f"{name} {tool.version()}",
            ldflags=tool.ldflags(),
        )
        built.replace(target)
    return target
