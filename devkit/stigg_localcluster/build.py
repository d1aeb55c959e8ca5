"""Build the control-plane binaries from the Go module proxy, once, into a cache folder.

The versions are pinned by two wrapper Go modules committed beside this package
(``stigg_localcluster/gomod/{kubernetes,etcd}``, with their ``go.sum``): ``k8s.io/kubernetes`` cannot
be ``go install``-ed because its ``go.mod`` replaces every staging module with a ``./staging``
path, so the wrapper requires it and replaces each staging module with its published
``v0.Y.Z`` release. The ``go.mod`` files are the single source of truth for the versions;
this module reads them back to name the cache folder, so a version bump builds afresh.

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

GOMOD_DIR = pathlib.Path(__file__).resolve().parent / "gomod"

KUBERNETES_COMMANDS = (
    "k8s.io/kubernetes/cmd/kube-apiserver",
    "k8s.io/kubernetes/cmd/kube-controller-manager",
    "k8s.io/kubernetes/cmd/kubectl",
)
ETCD_COMMAND = "go.etcd.io/etcd/server/v3"
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


@dataclasses.dataclass(frozen=True)
class Binaries:
    """Paths of the built control-plane binaries."""

    etcd: pathlib.Path
    kube_apiserver: pathlib.Path
    kube_controller_manager: pathlib.Path
    kubectl: pathlib.Path

    def all(self) -> tuple[pathlib.Path, ...]:
        return (self.etcd, self.kube_apiserver, self.kube_controller_manager, self.kubectl)

    def missing(self) -> list[pathlib.Path]:
        return [path for path in self.all() if not os.access(path, os.X_OK)]


def _required_version(gomod: pathlib.Path, module: str) -> str:
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", gomod.read_text(), re.M)
    if match is None:
        raise BuildError(f"{gomod} does not require {module}")
    return match.group(1)


def pinned_versions() -> Versions:
    return Versions(
        kubernetes=_required_version(GOMOD_DIR / "kubernetes" / "go.mod", "k8s.io/kubernetes"),
        etcd=_required_version(GOMOD_DIR / "etcd" / "go.mod", "go.etcd.io/etcd/server/v3"),
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


def ensure_built(report: Reporter = _stderr_reporter, *, force: bool = False) -> Binaries:
    """Return the binaries, building whichever are missing (all of them with ``force``)."""
    versions = pinned_versions()
    target = binaries(versions)
    missing = target.all() if force else target.missing()
    if not missing:
        return target
    if shutil.which("go") is None:
        raise BuildError("the Go toolchain is needed to build the local control plane: `go` is not on PATH")
    bindir = target.etcd.parent
    bindir.parent.mkdir(parents=True, exist_ok=True)
    report(f"building Kubernetes {versions.kubernetes} and etcd {versions.etcd} into {bindir}")
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
        wanted_k8s = tuple(
            command
            for command, path in zip(
                KUBERNETES_COMMANDS,
                (target.kube_apiserver, target.kube_controller_manager, target.kubectl),
                strict=True,
            )
            if path in missing
        )
        if wanted_k8s:
            label = f"kubernetes {versions.kubernetes}"
            ldflags = _kubernetes_ldflags(versions.kubernetes)
            _go_build(
                GOMOD_DIR / "kubernetes",
                wanted_k8s,
                f"{outdir}{os.sep}",
                report=report,
                label=label,
                ldflags=ldflags,
            )
        bindir.mkdir(exist_ok=True)
        for built in outdir.iterdir():
            built.replace(bindir / built.name)
    still_missing = target.missing()
    if still_missing:
        raise BuildError(f"the build finished but these are missing: {', '.join(map(str, still_missing))}")
    report(f"control plane built in {time.monotonic() - started:.0f}s")
    return target
