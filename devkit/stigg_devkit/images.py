"""Build the project's container images for real, without a registry, a daemon or a network.

``ensure_built()`` (``make images``, or ``python -m stigg_devkit.images``) makes, in a cache
folder outside git (``$STIGG_IMAGES_CACHE``, else ``$XDG_CACHE_HOME/stigg-images``, else
``~/.cache/stigg-images``):

1. a **base image**: a Debian bookworm root filesystem with Python 3.11 and its venv module,
   from Debian's packages (``mmdebstrap --mode=root --variant=minbase``, the host's apt
   sources), without documentation, apt lists or bytecode, packed by this module as a
   one-layer OCI archive, ``base-<key>.oci.tar``;
2. a **wheelhouse**: the wheels of the versions ``constraints.txt`` pins for both components
   and of their build backend (``pip download``, the one step that needs the package index);
3. the **images** ``Dockerfile.sidecar`` and ``Dockerfile.operator`` describe, built from
   those Dockerfiles themselves by ``buildah bud --isolation chroot --pull-never`` with
   ``--build-arg BASE=`` the local base, from a build context assembled in the cache (the
   component's sources, ``constraints.txt`` and the wheelhouse as ``wheelhouse/``, so pip
   installs ``--no-index``), the whole run inside ``unshare --net --mount``: no network, and
   every mount dies with it. The result is one OCI archive per component,
   ``<component>-<key>.oci.tar``, whose image is named ``localhost/stigg-entitlements-<component>:dev``.

Each ``<key>`` is a digest of what the artifact is made from (``input_digest``): for an image,
its Dockerfile, the component's source files, ``constraints.txt``, the wheel names, the base
image's manifest digest and this module's ``RECIPE_REVISION``; for the base, its mmdebstrap
recipe and the apt sources. An artifact whose file exists is not built again, so a second
``make images`` does nothing; older archives of a component are removed when it is rebuilt.

buildah's storage (``--root``, ``--runroot``, its ``storage.conf``) and every temporary file
live in the cache folder and are removed after each build; a build checks that nothing new
appeared under ``/var/lib/containers`` or ``/run/containers``. Builds run under an exclusive
lock, so concurrent callers wait for one another. It needs root, ``mmdebstrap``, ``buildah``
and ``unshare`` (Debian's packages of those names and util-linux; ``make system-deps``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import io
import json
import os
import pathlib
import platform
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import typing
from collections.abc import Callable, Mapping, Sequence

from stigg_devkit import locks

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
# Bumped whenever the way images are built changes in a way their inputs do not show.
RECIPE_REVISION = 1

Reporter = Callable[[str], None]


class ImageBuildError(RuntimeError):
    """An image could not be built; the message carries the tail of the tool's output."""


@dataclasses.dataclass(frozen=True)
class Component:
    """One product image: its Dockerfile, what its build context holds, the image's name."""

    name: str
    dockerfile: str
    sources: tuple[str, ...]  # repository paths copied into the build context
    image: str


COMPONENTS = (
    Component(
        "sidecar",
        "Dockerfile.sidecar",
        ("constraints.txt", "envspec", "sidecar"),
        "localhost/stigg-entitlements-sidecar:dev",
    ),
    Component(
        "operator",
        "Dockerfile.operator",
        ("constraints.txt", "envspec", "operator"),
        "localhost/stigg-entitlements-operator:dev",
    ),
)

# The base: Debian's python3 (3.11 in bookworm; not python3-minimal, which lacks json) and
# python3-venv (the Dockerfiles make a venv), nothing else beyond minbase.
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv")
BASE_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")
BASE_HOOKS = (
    'find "$1" -xdev -depth -name __pycache__ -type d -exec rm -rf {} +',
    'rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/cache/debconf/*-old "$1"/var/log/*',
)
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
BASE_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8")
# What pip needs, beyond the pinned dependencies, to build the project's own distributions
# (their [build-system] requires) from the wheelhouse alone.
BUILD_REQUIREMENTS = ("setuptools>=77", "wheel")
# What the pinned dependencies need on the base's Python but not on the host's: pip evaluates
# environment markers with the Python that runs it, and redis requires async-timeout on
# python_full_version < "3.11.3" (bookworm's is 3.11.2). A missing one fails the build, by name.
BASE_PYTHON_REQUIREMENTS = ("async-timeout>=4.0.3",)
WHEELHOUSE_DISTRIBUTIONS = ("envspec", "sidecar", "operator")

# Host paths buildah writes by default: a build must leave them as they were.
HOST_PATHS = ("/var/lib/containers", "/run/containers")
# Folders buildah 1.28 writes whatever its options say (its blob-info cache under
# /var/lib/containers/cache, network configuration under /run/containers): in the build's
# private mount namespace each is overlaid by a writable layer in the build folder, so the
# host's own are read, never written.
OVERLAID = ("/var/lib", "/run", "/var/tmp")  # noqa: S108 -- overlaid, never written

IGNORED_DIRS = frozenset(
    {"__pycache__", "build", "dist", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv"}
)
IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclasses.dataclass(frozen=True)
class Image:
    """A built image: its OCI archive, the name it carries, and the digest of its inputs."""

    component: str
    archive: pathlib.Path
    ref: str
    key: str


# -- pure helpers ------------------------------------------------------------------------------


def input_digest(parts: Mapping[str, bytes]) -> str:
    """A sha256 (hex) of named inputs, independent of their order, never ambiguous: each
    name and content is length-prefixed, so no two different mappings hash alike."""
    digest = hashlib.sha256()
    for name in sorted(parts):
        encoded = name.encode()
        content = parts[name]
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def is_source(relative: pathlib.PurePath) -> bool:
    """Whether a file under a component's folder belongs in its image's inputs: not caches,
    build outputs or egg-info, which a developer's tree holds and the image never needs."""
    if any(part in IGNORED_DIRS or part.endswith(".egg-info") for part in relative.parts[:-1]):
        return False
    return not relative.name.endswith(IGNORED_SUFFIXES)


def source_files(root: pathlib.Path, paths: Sequence[str]) -> dict[str, pathlib.Path]:
    """The files (repository-relative POSIX path to file) that ``paths`` name under ``root``."""
    found: dict[str, pathlib.Path] = {}
    for path in paths:
        top = root / path
        if top.is_file():
            found[path] = top
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS and not d.endswith(".egg-info"))
            for filename in filenames:
                file = pathlib.Path(dirpath) / filename
                relative = file.relative_to(root)
                if is_source(relative):
                    found[relative.as_posix()] = file
    return found


def image_key(
    component: Component, files: Mapping[str, bytes], *, dockerfile: bytes, base: str, wheels: Sequence[str]
) -> str:
    """The digest naming a component's archive: everything its build reads."""
    parts = {f"src/{name}": content for name, content in files.items()}
    parts.update(
        {
            "component": component.name.encode(),
            "image": component.image.encode(),
            "dockerfile": dockerfile,
            "base": base.encode(),
            "wheels": "\n".join(sorted(wheels)).encode(),
            "revision": str(RECIPE_REVISION).encode(),
        }
    )
    return input_digest(parts)


# -- where things live -------------------------------------------------------------------------


def cache_root() -> pathlib.Path:
    configured = os.environ.get("STIGG_IMAGES_CACHE")
    if configured:
        return pathlib.Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg).expanduser() if xdg else pathlib.Path.home() / ".cache"
    return base / "stigg-images"


def _stderr_reporter(message: str) -> None:
    print(f"[images] {message}", file=sys.stderr, flush=True)


def _run(
    command: Sequence[str],
    *,
    label: str,
    env: Mapping[str, str] | None = None,
    cwd: pathlib.Path | None = None,
) -> None:
    completed = subprocess.run(
        list(command),
        env=None if env is None else dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        tail = "\n".join(completed.stdout.splitlines()[-60:])
        raise ImageBuildError(f"{label} failed (exit {completed.returncode}):\n{tail}")


def _require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise ImageBuildError(
            f"building the images needs {', '.join(missing)} on PATH"
            " (Debian's packages: apt-get install mmdebstrap buildah)"
        )
    if os.geteuid() != 0:
        raise ImageBuildError(
            "building the images needs root (mmdebstrap --mode=root, buildah chroot isolation)"
        )


def _host_snapshot() -> dict[str, frozenset[str]]:
    snapshot: dict[str, frozenset[str]] = {}
    for top in HOST_PATHS:
        entries: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(top):
            entries.update(os.path.join(dirpath, name) for name in (*dirnames, *filenames))
        snapshot[top] = frozenset(entries | ({top} if os.path.lexists(top) else set()))
    return snapshot


def _check_host_unchanged(before: Mapping[str, frozenset[str]]) -> None:
    after = _host_snapshot()
    added = sorted(path for top in HOST_PATHS for path in after[top] - before[top])
    if added:
        raise ImageBuildError("the image build left files on the host: " + ", ".join(added[:20]))


# -- the base image ----------------------------------------------------------------------------


def _apt_sources() -> list[pathlib.Path]:
    """The host's apt sources (deb822 ``.sources`` or one-line ``.list`` files): the base image
    comes from the same Debian mirror the machine already uses."""
    candidates = [pathlib.Path("/etc/apt/sources.list")]
    folder = pathlib.Path("/etc/apt/sources.list.d")
    if folder.is_dir():
        candidates += sorted(p for p in folder.iterdir() if p.suffix in {".list", ".sources"})
    return [p for p in candidates if p.is_file() and p.read_text().strip()]


def _mmdebstrap_command(output: pathlib.Path, sources: Sequence[pathlib.Path]) -> list[str]:
    command = ["mmdebstrap", "--mode=root", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES)]
    # /usr merged by mmdebstrap's own hook (usr-is-merged), not by the usrmerge package, which
    # would bring perl (50 MB) into every image.
    command += [f"--hook-dir={MERGED_USR_HOOKS}"]
    command += [f"--dpkgopt=path-exclude={pattern}" for pattern in BASE_EXCLUDES]
    command += [f"--customize-hook={hook}" for hook in BASE_HOOKS]
    return [*command, BASE_SUITE, str(output), *(str(source) for source in sources)]


def base_key() -> str:
    sources = _apt_sources()
    parts = {f"source/{source}": source.read_bytes() for source in sources}
    parts["recipe"] = "\n".join(_mmdebstrap_command(pathlib.Path("OUT"), sources)).encode()
    parts["env"] = "\n".join(BASE_ENV).encode()
    parts["revision"] = str(RECIPE_REVISION).encode()
    return input_digest(parts)


def _architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _sha256_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _add_bytes(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(content))


def pack_oci_archive(
    layer: pathlib.Path,
    output: pathlib.Path,
    *,
    ref: str,
    env: Sequence[str],
    cmd: Sequence[str],
    history: str,
) -> str:
    """Pack one uncompressed layer tarball as a one-image OCI archive (an OCI image layout in a
    tar, as ``oci-archive:`` reads it) whose image is named ``ref``; returns the manifest digest."""
    layer_digest = _sha256_file(layer)
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = json.dumps(
        {
            "created": created,
            "architecture": _architecture(),
            "os": "linux",
            "config": {"Env": list(env), "Cmd": list(cmd)},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
            "history": [{"created": created, "created_by": history}],
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": f"sha256:{hashlib.sha256(config).hexdigest()}",
                "size": len(config),
            },
            "layers": [
                {"mediaType": OCI_LAYER_TAR, "digest": f"sha256:{layer_digest}", "size": layer.stat().st_size}
            ],
        },
        sort_keys=True,
    ).encode()
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": f"sha256:{manifest_digest}",
                    "size": len(manifest),
                    "annotations": {REF_NAME: ref},
                }
            ],
        },
        sort_keys=True,
    ).encode()
    partial = output.with_name(output.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
        _add_bytes(archive, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add_bytes(archive, "index.json", index)
        _add_bytes(archive, f"blobs/sha256/{hashlib.sha256(config).hexdigest()}", config)
        _add_bytes(archive, f"blobs/sha256/{manifest_digest}", manifest)
        info = archive.gettarinfo(layer, arcname=f"blobs/sha256/{layer_digest}")
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o644
        with layer.open("rb") as stream:
            archive.addfile(info, stream)
    partial.replace(output)
    return f"sha256:{manifest_digest}"


def pack_executable(binary: pathlib.Path, output: pathlib.Path, *, path: str, ref: str, history: str) -> str:
    """Pack a one-layer image holding only ``binary`` (a static executable) at ``path``, which
    is its command; returns the manifest digest (the pause image, Prometheus' image)."""
    with tempfile.TemporaryDirectory(prefix="executable-image-") as scratch:
        layer = pathlib.Path(scratch) / "layer.tar"
        with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
            info = tar.gettarinfo(binary, arcname=path)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755
            info.mtime = 0
            with binary.open("rb") as stream:
                tar.addfile(info, stream)
        return pack_oci_archive(layer, output, ref=ref, env=(), cmd=(f"/{path}",), history=history)


def manifest_digest(archive: pathlib.Path) -> str:
    """The digest of the (single) image manifest an OCI archive's ``index.json`` lists."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        if member is None:
            raise ImageBuildError(f"{archive} has no index.json")
        index = json.load(member)
    return str(index["manifests"][0]["digest"])


def base_archive(cache: pathlib.Path) -> pathlib.Path:
    return cache / f"base-{base_key()[:16]}.oci.tar"


def base_python_version(archive: pathlib.Path) -> str:
    """The base image's Python version (``3.11.2``), recorded beside its archive when it was
    built: the wheelhouse is resolved for it (environment markers such as redis's
    ``python_full_version < "3.11.3"`` depend on it)."""
    return archive.with_suffix(".python").read_text().strip()


def _python_version_in(rootfs: pathlib.Path) -> str:
    with tarfile.open(rootfs) as tar:
        status = _member(tar, "./var/lib/dpkg/status").read().decode()
    for stanza in status.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace()
        )
        if fields.get("Package") == "python3.11" and "Version" in fields:
            return fields["Version"].split("-", 1)[0]
    raise ImageBuildError("the base root filesystem has no python3.11 package")


def _base_ref(archive: pathlib.Path) -> str:
    return f"localhost/stigg-base-debian-python:{archive.name.removeprefix('base-').removesuffix('.oci.tar')}"


def _ensure_base(cache: pathlib.Path, report: Reporter) -> pathlib.Path:
    archive = base_archive(cache)
    if archive.exists():
        return archive
    started = time.monotonic()
    report(f"base: mmdebstrap {BASE_SUITE} with {', '.join(BASE_PACKAGES)} (Debian's packages)")
    with tempfile.TemporaryDirectory(dir=cache, prefix="base-") as work:
        rootfs = pathlib.Path(work) / "rootfs.tar"
        env = {**os.environ, "TMPDIR": work}
        # A private mount namespace: the /proc, /sys and /dev mounts of the chroot die with it.
        command = ["unshare", "--mount", "--propagation", "private", "--fork", "--"]
        _run([*command, *_mmdebstrap_command(rootfs, _apt_sources())], label="mmdebstrap", env=env)
        archive.with_suffix(".python").write_text(_python_version_in(rootfs) + "\n")
        pack_oci_archive(
            rootfs,
            archive,
            ref=_base_ref(archive),
            env=BASE_ENV,
            cmd=["/usr/bin/python3"],
            history=f"mmdebstrap --variant=minbase --include={','.join(BASE_PACKAGES)} {BASE_SUITE}",
        )
    for old in cache.glob("base-*"):
        if old not in {archive, archive.with_suffix(".python")}:
            old.unlink()
    report(
        f"base: {archive.name}, {archive.stat().st_size / 1e6:.0f} MB, in {time.monotonic() - started:.0f}s"
    )
    return archive


# -- the wheelhouse ----------------------------------------------------------------------------


def wheelhouse_key(python_version: str, root: pathlib.Path = REPO_ROOT) -> str:
    parts = {name: (root / name / "pyproject.toml").read_bytes() for name in WHEELHOUSE_DISTRIBUTIONS}
    parts["constraints.txt"] = (root / "constraints.txt").read_bytes()
    parts["build"] = "\n".join((*BUILD_REQUIREMENTS, *BASE_PYTHON_REQUIREMENTS)).encode()
    parts["python"] = f"{python_version} {platform.machine()}".encode()
    return input_digest(parts)


def wheelhouse(cache: pathlib.Path, python_version: str) -> pathlib.Path:
    return cache / f"wheelhouse-{wheelhouse_key(python_version)[:16]}"


def _ensure_wheelhouse(cache: pathlib.Path, python_version: str, report: Reporter) -> pathlib.Path:
    folder = wheelhouse(cache, python_version)
    if (folder / ".complete").exists():
        return folder
    if python_version.split(".")[:2] != [str(v) for v in sys.version_info[:2]]:
        raise ImageBuildError(
            f"the wheelhouse is resolved for the images' Python {python_version}: run this with it"
        )
    started = time.monotonic()
    report("wheelhouse: pip download of the pinned dependencies and the build backend")
    shutil.rmtree(folder, ignore_errors=True)
    partial = cache / (folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    scratch = cache / (folder.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    env = {
        **os.environ,
        "PIP_CACHE_DIR": str(cache / "pip-cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "TMPDIR": str(scratch),  # pip's build environments, removed below
    }
    try:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(partial)]
        distributions = [f"./{name}" for name in WHEELHOUSE_DISTRIBUTIONS]
        _run([*pip, "-c", "constraints.txt", *distributions], label="pip download", env=env, cwd=REPO_ROOT)
        extra = [*BUILD_REQUIREMENTS, *BASE_PYTHON_REQUIREMENTS]
        _run(
            [*pip, "--only-binary=:all:", "-c", "constraints.txt", *extra],
            label="pip download",
            env=env,
            cwd=REPO_ROOT,
        )
        not_wheels = sorted(p.name for p in partial.iterdir() if p.suffix != ".whl")
        if not_wheels:
            # A source distribution would need a compiler in the image: refuse rather than ship one.
            raise ImageBuildError(f"no wheel on the package index for: {', '.join(not_wheels)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    (partial / ".complete").write_text("")
    partial.replace(folder)
    for old in cache.glob("wheelhouse-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    count = sum(1 for _ in folder.glob("*.whl"))
    report(f"wheelhouse: {count} wheels in {time.monotonic() - started:.0f}s")
    return folder


# -- the images --------------------------------------------------------------------------------


def _assemble_context(
    context: pathlib.Path, component: Component, files: Mapping[str, pathlib.Path], wheelhouse: pathlib.Path
) -> None:
    for name, source in files.items():
        target = context / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    wheels = context / "wheelhouse"
    wheels.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        os.link(wheel, wheels / wheel.name)


def _buildah_script(
    *,
    work: pathlib.Path,
    storage: pathlib.Path,
    base: pathlib.Path,
    base_ref: str,
    builds: Sequence[tuple[Component, pathlib.Path, pathlib.Path]],
) -> str:
    q = shlex.quote
    buildah = (
        f"buildah --root {q(str(storage / 'root'))} --runroot {q(str(storage / 'run'))} --storage-driver vfs"
    )
    lines = ["set -eu"]
    for number, folder in enumerate(OVERLAID):
        upper, scratch = work / "overlay" / f"{number}-upper", work / "overlay" / f"{number}-work"
        lines += [
            f"mkdir -p {q(str(upper))} {q(str(scratch))}",
            f"mount -t overlay overlay -o lowerdir={folder},upperdir={upper},workdir={scratch} {folder}",
        ]
    lines += [
        f"base=$({buildah} pull --quiet oci-archive:{q(str(base))})",
        f'{buildah} tag "$base" {q(base_ref)}',
    ]
    for component, context, output in builds:
        lines += [
            f"echo '== {component.name}: buildah bud {component.dockerfile}'",
            f"{buildah} bud --isolation chroot --pull-never --layers=false --format oci"
            f" --build-arg BASE={q(base_ref)} -f {q(str(REPO_ROOT / component.dockerfile))}"
            f" -t {q(component.image)} {q(str(context))}",
            f"{buildah} push --quiet {q(component.image)} oci-archive:{q(str(output))}:{q(component.image)}",
        ]
    return "\n".join(lines) + "\n"


def _storage_conf(storage: pathlib.Path) -> str:
    return f'[storage]\ndriver = "vfs"\ngraphroot = "{storage / "root"}"\nrunroot = "{storage / "run"}"\n'


def planned(cache: pathlib.Path | None = None) -> dict[str, Image]:
    """The images as the current inputs name them, whether built or not. Needs the base and
    the wheelhouse (their digests are inputs): call it after ``ensure_built`` or for inspection."""
    cache = cache or cache_root()
    archive = base_archive(cache)
    base = manifest_digest(archive)
    wheels = sorted(p.name for p in wheelhouse(cache, base_python_version(archive)).glob("*.whl"))
    return {component.name: _image(cache, component, base, wheels) for component in COMPONENTS}


def _image(cache: pathlib.Path, component: Component, base: str, wheels: Sequence[str]) -> Image:
    files = source_files(REPO_ROOT, component.sources)
    key = image_key(
        component,
        {name: path.read_bytes() for name, path in files.items()},
        dockerfile=(REPO_ROOT / component.dockerfile).read_bytes(),
        base=base,
        wheels=wheels,
    )
    return Image(component.name, cache / f"{component.name}-{key[:16]}.oci.tar", component.image, key)


def ensure_built(
    report: Reporter = _stderr_reporter, *, cache: pathlib.Path | None = None
) -> dict[str, Image]:
    """The images of every component (by component name), building the base, the wheelhouse
    and whichever image's inputs changed since its archive was made; nothing when none did."""
    cache = cache or cache_root()
    with locks.exclusive(cache):
        archive = base_archive(cache)
        if archive.exists() and (wheelhouse(cache, base_python_version(archive)) / ".complete").exists():
            wanted = planned(cache)
            if all(image.archive.exists() for image in wanted.values()):
                return wanted
        _require_tools("mmdebstrap", "buildah", "unshare")
        before = _host_snapshot()
        base = _ensure_base(cache, report)
        wheels = _ensure_wheelhouse(cache, base_python_version(base), report)
        wanted = planned(cache)
        stale = [c for c in COMPONENTS if not wanted[c.name].archive.exists()]
        if stale:
            _build(cache, base, wheels, [(c, wanted[c.name]) for c in stale], report)
        _check_host_unchanged(before)
        return wanted


def _build(
    cache: pathlib.Path,
    base: pathlib.Path,
    wheelhouse: pathlib.Path,
    stale: Sequence[tuple[Component, Image]],
    report: Reporter,
) -> None:
    started = time.monotonic()
    report("images: buildah bud " + ", ".join(c.dockerfile for c, _ in stale) + " (no network)")
    with tempfile.TemporaryDirectory(dir=cache, prefix="build-") as work_name:
        work = pathlib.Path(work_name)
        storage = work / "storage"
        builds: list[tuple[Component, pathlib.Path, pathlib.Path]] = []
        for component, _image in stale:
            context = work / f"context-{component.name}"
            _assemble_context(context, component, source_files(REPO_ROOT, component.sources), wheelhouse)
            builds.append((component, context, work / f"{component.name}.oci.tar"))
        (work / "tmp").mkdir()
        conf = work / "storage.conf"
        conf.write_text(_storage_conf(storage))
        script = _buildah_script(
            work=work, storage=storage, base=base, base_ref=_base_ref(base), builds=builds
        )
        env = {**os.environ, "TMPDIR": str(work / "tmp"), "CONTAINERS_STORAGE_CONF": str(conf)}
        try:
            # No network during the build (buildah 1.28 refuses --network none with chroot
            # isolation), and a private mount namespace: whatever buildah mounts dies with it.
            _run(
                [
                    "unshare",
                    "--net",
                    "--mount",
                    "--propagation",
                    "private",
                    "--fork",
                    "--",
                    "sh",
                    "-c",
                    script,
                ],
                label="buildah",
                env=env,
            )
            for (component, image), (_, _, output) in zip(stale, builds, strict=True):
                output.replace(image.archive)
                for old in cache.glob(f"{component.name}-*.oci.tar"):
                    if old != image.archive:
                        old.unlink()
                size, unpacked = image.archive.stat().st_size, unpacked_size(image.archive)
                report(f"images: {image.archive.name}: {size / 1e6:.1f} MB, {unpacked / 1e6:.1f} MB unpacked")
        finally:
            shutil.rmtree(storage, ignore_errors=True)
            shutil.rmtree(work / "overlay", ignore_errors=True)
    report(f"images: built in {time.monotonic() - started:.0f}s")


# -- sizes and the command ---------------------------------------------------------------------


def unpacked_size(archive: pathlib.Path) -> int:
    """The bytes of every file of the image's layers, uncompressed (what its root filesystem takes)."""
    total = 0
    with tarfile.open(archive) as tar:
        index = json.load(_member(tar, "index.json"))
        manifest = json.load(_member(tar, _blob(index["manifests"][0]["digest"])))
        for layer in manifest["layers"]:
            # "r|*": a stream, gzip-compressed or not (both media types occur).
            with tarfile.open(fileobj=_member(tar, _blob(layer["digest"])), mode="r|*") as layer_tar:
                total += sum(member.size for member in layer_tar if member.isfile())
    return total


def _blob(digest: str) -> str:
    algorithm, value = digest.split(":", 1)
    return f"blobs/{algorithm}/{value}"


def _member(tar: tarfile.TarFile, name: str) -> typing.IO[bytes]:
    stream = tar.extractfile(name)
    if stream is None:
        raise ImageBuildError(f"{tar.name!r} has no file {name}")
    return stream


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stigg_devkit.images", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes", action="store_true", help="also print each archive's size and unpacked size"
    )
    args = parser.parse_args(argv)
    try:
        images = ensure_built()
    except ImageBuildError as error:
        print(f"images: {error}", file=sys.stderr)
        return 1
    for image in images.values():
        line = f"{image.component}\t{image.ref}\t{image.archive}"
        if args.sizes:
            size, unpacked = image.archive.stat().st_size, unpacked_size(image.archive)
            line += f"\t{size / 1e6:.1f} MB\t{unpacked / 1e6:.1f} MB unpacked"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
