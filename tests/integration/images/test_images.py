"""The product's images, built for real (stigg_devkit.images: mmdebstrap, then buildah from the
Dockerfiles themselves, with no network): valid OCI archives, non-root, each with its own
entrypoint, each installing only its component, with no compiler, cache or bytecode, and the
installed product runs from the image's own root filesystem (chroot, as uid 65532)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile
import tempfile
import typing
from collections.abc import Iterator

import pytest

from stigg_devkit import images

pytestmark = pytest.mark.slow

SITE = "opt/venv/lib/python3.11/site-packages/"


@dataclasses.dataclass(frozen=True)
class Parsed:
    index: dict[str, typing.Any]
    manifest: dict[str, typing.Any]
    config: dict[str, typing.Any]
    layers: list[tuple[str, bytes]]  # media type, blob
    names: frozenset[str]  # every path in any layer, without "./"


def _blob(tar: tarfile.TarFile, digest: str) -> bytes:
    algorithm, value = digest.split(":", 1)
    member = tar.extractfile(f"blobs/{algorithm}/{value}")
    assert member is not None, f"missing blob {digest}"
    data = member.read()
    assert hashlib.sha256(data).hexdigest() == value, f"blob {digest} does not match its digest"
    return data


def _layer_stream(media_type: str, blob: bytes) -> typing.IO[bytes]:
    raw: typing.IO[bytes] = io.BytesIO(blob)
    return gzip.GzipFile(fileobj=raw) if media_type.endswith("+gzip") else raw


def _parse(archive: pathlib.Path) -> Parsed:
    with tarfile.open(archive) as tar:
        layout = tar.extractfile("oci-layout")
        assert layout is not None
        assert json.load(layout) == {"imageLayoutVersion": "1.0.0"}
        index_file = tar.extractfile("index.json")
        assert index_file is not None
        index = json.load(index_file)
        (descriptor,) = index["manifests"]
        manifest_bytes = _blob(tar, descriptor["digest"])
        assert descriptor["size"] == len(manifest_bytes)
        manifest = json.loads(manifest_bytes)
        config_bytes = _blob(tar, manifest["config"]["digest"])
        assert manifest["config"]["size"] == len(config_bytes)
        config = json.loads(config_bytes)
        layers = []
        for layer in manifest["layers"]:
            blob = _blob(tar, layer["digest"])
            assert layer["size"] == len(blob)
            layers.append((layer["mediaType"], blob))
    names: set[str] = set()
    diff_ids = []
    for media_type, blob in layers:
        stream = _layer_stream(media_type, blob)
        uncompressed = stream.read()
        diff_ids.append(f"sha256:{hashlib.sha256(uncompressed).hexdigest()}")
        with tarfile.open(fileobj=io.BytesIO(uncompressed)) as layer_tar:
            names.update(member.name.removeprefix("./") for member in layer_tar)
    assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
    return Parsed(index, manifest, config, layers, frozenset(names))


@pytest.fixture(scope="module")
def built() -> dict[str, images.Image]:
    return images.ensure_built()


@pytest.fixture(scope="module")
def parsed(built: dict[str, images.Image]) -> dict[str, Parsed]:
    return {name: _parse(image.archive) for name, image in built.items()}


def _unpack(parsed: Parsed, dest: pathlib.Path) -> None:
    """Apply the layers in order, as a runtime would (whiteouts included; device nodes skipped)."""
    for media_type, blob in parsed.layers:
        with tarfile.open(fileobj=io.BytesIO(_layer_stream(media_type, blob).read())) as layer:
            for member in layer:
                path = pathlib.PurePosixPath(member.name.removeprefix("./"))
                if path.name == ".wh..wh..opq":
                    target = dest / path.parent
                    for child in target.iterdir() if target.is_dir() else ():
                        if child.is_dir() and not child.is_symlink():
                            shutil.rmtree(child)
                        else:
                            child.unlink()
                    continue
                if path.name.startswith(".wh."):
                    target = dest / path.parent / path.name.removeprefix(".wh.")
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    elif target.exists() or target.is_symlink():
                        target.unlink()
                    continue
                if member.ischr() or member.isblk() or member.isfifo():
                    continue
                layer.extract(member, dest, filter="tar")
    dest.chmod(0o755)


@pytest.fixture(scope="module")
def sidecar_root(parsed: dict[str, Parsed]) -> Iterator[pathlib.Path]:
    with tempfile.TemporaryDirectory(prefix="sidecar-rootfs-") as root:  # removed after: it is large
        _unpack(parsed["sidecar"], pathlib.Path(root))
        yield pathlib.Path(root)


@pytest.fixture(scope="module")
def operator_root(parsed: dict[str, Parsed]) -> Iterator[pathlib.Path]:
    with tempfile.TemporaryDirectory(prefix="operator-rootfs-") as root:  # removed after: it is large
        _unpack(parsed["operator"], pathlib.Path(root))
        yield pathlib.Path(root)


def _run_in(
    root: pathlib.Path, parsed: Parsed, *command: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command in the unpacked image as its configured user, with its configured
    environment, in a network namespace of its own (no network at all)."""
    user = parsed.config["config"]["User"]
    image_env = dict(item.split("=", 1) for item in parsed.config["config"]["Env"])
    return subprocess.run(
        ["unshare", "--net", "--", "chroot", f"--userspec={user}", str(root), *command],
        env={**image_env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_archives_are_oci_image_layouts_named_for_their_component(
    built: dict[str, images.Image], parsed: dict[str, Parsed]
) -> None:
    for name, image in built.items():
        info = parsed[name]
        (descriptor,) = info.index["manifests"]
        assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        assert descriptor["annotations"]["org.opencontainers.image.ref.name"] == image.ref
        assert image.ref == f"localhost/stigg-entitlements-{name}:dev"
        assert info.manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
        assert info.config["os"] == "linux"
        assert len(info.layers) >= 2  # the base, then the component's venv


def test_the_images_run_as_non_root_with_their_entrypoints(parsed: dict[str, Parsed]) -> None:
    for name, info in parsed.items():
        config = info.config["config"]
        assert config["User"] == "65532:65532"
        assert config["Entrypoint"] == [f"stigg-{name}"]
        assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]
    assert set(parsed["sidecar"].config["config"]["ExposedPorts"]) == {"50051/tcp", "8080/tcp"}
    assert set(parsed["operator"].config["config"]["ExposedPorts"]) == {"9443/tcp", "8080/tcp"}


def test_no_compiler_cache_bytecode_or_package_lists(parsed: dict[str, Parsed]) -> None:
    compilers = {"gcc", "cc", "c++", "g++", "cpp", "x86_64-linux-gnu-gcc-12", "cc1", "ld", "as"}
    for name, info in parsed.items():
        binaries = {
            pathlib.PurePosixPath(path).name for path in info.names if path.startswith(("usr/bin/", "bin/"))
        }
        assert not compilers & binaries, name
        assert not [binary for binary in binaries if binary.startswith(("gcc", "x86_64-linux-gnu-"))], name
        assert not [path for path in info.names if ".cache/pip" in path or path.startswith("root/.cache")], (
            name
        )
        assert not [path for path in info.names if "__pycache__" in path or path.endswith(".pyc")], name
        assert not [
            path
            for path in info.names
            if path.startswith("var/lib/apt/lists/")
            and path.removeprefix("var/lib/apt/lists/").rstrip("/") not in {"", "lock", "partial"}
        ], name
        assert not [
            path for path in info.names if path.startswith("usr/share/doc/") and path != "usr/share/doc/"
        ]
        assert not [
            path
            for path in info.names
            if path.startswith(("usr/share/perl/", "usr/lib/x86_64-linux-gnu/perl/"))
        ], f"{name}: perl"
        # Nothing installs at run time: the venv has no pip.
        assert not [path for path in info.names if path.startswith(SITE + "pip/")], name


def test_each_image_installs_only_its_component(parsed: dict[str, Parsed]) -> None:
    def packages(info: Parsed) -> set[str]:
        return {path.removeprefix(SITE).split("/")[0] for path in info.names if path.startswith(SITE)}

    sidecar, operator = packages(parsed["sidecar"]), packages(parsed["operator"])
    assert {"stigg_sidecar", "stigg_envspec", "grpc", "google", "redis", "aiohttp"} <= sidecar
    assert not {"kopf", "kubernetes", "stigg_operator", "stigg_devkit", "cryptography"} & sidecar
    assert {"stigg_operator", "stigg_envspec", "kopf", "kubernetes", "cryptography"} <= operator
    assert not {"grpc", "grpc_health", "stigg_sidecar", "stigg_devkit", "redis"} & operator


def test_the_sidecar_image_runs_its_product(parsed: dict[str, Parsed], sidecar_root: pathlib.Path) -> None:
    info = parsed["sidecar"]
    imported = _run_in(
        sidecar_root,
        info,
        "/opt/venv/bin/python",
        "-c",
        "import os, sys, grpc, stigg_sidecar.server, stigg_sidecar.v1;"
        " print(os.getuid(), sys.version.split()[0], grpc.__version__)",
    )
    assert imported.returncode == 0, imported.stderr
    uid, version, _ = imported.stdout.split()
    assert uid == "65532"
    assert version.startswith("3.11.")
    entrypoint = info.config["config"]["Entrypoint"]
    usage = _run_in(sidecar_root, info, *entrypoint, "dead-letters", "--help")
    assert usage.returncode == 0, usage.stderr
    assert "dead-letters" in usage.stdout
    refused = _run_in(sidecar_root, info, *entrypoint, env={"GRPC_PORT": "not-a-port"})
    assert refused.returncode == 2, refused.stderr
    assert "invalid configuration" in refused.stderr
    assert "GRPC_PORT" in refused.stderr


def test_the_operator_image_runs_its_product(parsed: dict[str, Parsed], operator_root: pathlib.Path) -> None:
    info = parsed["operator"]
    imported = _run_in(
        operator_root,
        info,
        "/opt/venv/bin/python",
        "-c",
        "import kopf, kubernetes, cryptography, stigg_operator.main",
    )
    assert imported.returncode == 0, imported.stderr
    refused = _run_in(
        operator_root, info, *info.config["config"]["Entrypoint"], env={"STIGG_OPERATOR_WEBHOOK_PORT": "0"}
    )
    assert refused.returncode == 2, refused.stderr
    assert "STIGG_OPERATOR_WEBHOOK_PORT" in refused.stderr


def test_a_second_build_does_nothing(built: dict[str, images.Image]) -> None:
    before = {image.archive: image.archive.stat().st_mtime_ns for image in built.values()}
    reports: list[str] = []
    again = images.ensure_built(reports.append)
    assert again == built
    assert reports == []
    assert {image.archive: image.archive.stat().st_mtime_ns for image in again.values()} == before


def test_a_build_leaves_the_host_as_found(built: dict[str, images.Image]) -> None:
    """A real build of both images into a fresh cache (the base and the wheelhouse reused):
    no file under /var/lib/containers or /run/containers, no mount, no build folder is left."""
    cache = images.cache_root()
    with tempfile.TemporaryDirectory(dir=cache, prefix="test-") as fresh:
        _build_into(pathlib.Path(fresh), cache, built)


def _build_into(tmp_path: pathlib.Path, cache: pathlib.Path, built: dict[str, images.Image]) -> None:
    base = images.base_archive(cache)
    wheels = images.wheelhouse(cache, images.base_python_version(base))
    for source in (base, base.with_suffix(".python")):
        os.link(source, tmp_path / source.name)
    shutil.copytree(wheels, tmp_path / wheels.name, copy_function=os.link)
    host_before = {path: _listing(path) for path in images.HOST_PATHS}
    mounts_before = _mounts()
    reports: list[str] = []
    rebuilt = images.ensure_built(reports.append, cache=tmp_path)
    assert {image.archive.parent for image in rebuilt.values()} == {tmp_path}
    assert all(image.archive.exists() for image in rebuilt.values())
    # The same inputs, the same keys: the images are named by what they are built from.
    assert {name: image.key for name, image in rebuilt.items()} == {
        name: image.key for name, image in built.items()
    }
    assert any("buildah bud" in report for report in reports)
    assert {path: _listing(path) for path in images.HOST_PATHS} == host_before
    assert _mounts() == mounts_before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("build-")]
    assert images.ensure_built(reports.append, cache=tmp_path) == rebuilt


def _listing(top: str) -> list[str]:
    return sorted(os.path.join(d, name) for d, dirs, files in os.walk(top) for name in (*dirs, *files))


def _mounts() -> list[str]:
    return sorted(
        " ".join(line.split()[3:5]) for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()
    )
