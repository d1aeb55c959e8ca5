"""Build the Go client commands (tests/go/stiggclient: the test client and the load generator)
against a Stigg-SDK-shaped Go package.

Stigg's Go SDK module (github.com/stiggio/sidecar-sdk-go) is not served by the Go module proxy
on this machine (it answers 403), so the SDK's generated package is stood in for: it is
generated here from our proto, at the SDK's import path and with its package name
(``sidecarv1``, ``NewSidecarServiceClient``), by the official protoc-gen-go and
protoc-gen-go-grpc. The built binary is cached by the hash of its inputs.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys

from stigg_localcluster import build

ROOT = pathlib.Path(__file__).resolve().parents[3]
SOURCE = ROOT / "tests" / "go" / "stiggclient"
PROTO_ROOT = ROOT / "proto"
PROTO = "stigg/sidecar/v1/sidecar.proto"
SDK_MODULE = "github.com/stiggio/sidecar-sdk-go"


def _inputs_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted([*SOURCE.glob("**/*.go"), SOURCE / "go.mod", SOURCE / "go.sum", PROTO_ROOT / PROTO]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _run(argv: list[str], cwd: pathlib.Path) -> None:
    env = {**os.environ, "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"), "GOFLAGS": "-mod=readonly"}
    completed = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{completed.stdout[-2000:]}{completed.stderr[-4000:]}")


def ensure_built(command: str = "stiggclient") -> pathlib.Path:
    """The path of a built command, ``stiggclient`` or ``loadgen`` (all are built on first use)."""
    out_dir = build.cache_root() / f"go-stiggclient-{_inputs_hash()}"
    binary = out_dir / command
    if binary.exists():
        return binary
    work = out_dir.with_name(out_dir.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(SOURCE, work)
    plugins = work / "bin"
    _run(
        ["go", "build", "-o", f"{plugins}{os.sep}", "google.golang.org/protobuf/cmd/protoc-gen-go",
         "google.golang.org/grpc/cmd/protoc-gen-go-grpc"],
        work,
    )  # fmt: skip
    sdk = work / "sdk"
    sdk.mkdir()
    (sdk / "go.mod").write_text(f"module {SDK_MODULE}\n\ngo 1.26.0\n")
    _run(
        [
            sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}",
            f"--plugin=protoc-gen-go={plugins / 'protoc-gen-go'}",
            f"--plugin=protoc-gen-go-grpc={plugins / 'protoc-gen-go-grpc'}",
            f"--go_out={sdk}", f"--go_opt=module={SDK_MODULE}",
            f"--go-grpc_out={sdk}", f"--go-grpc_opt=module={SDK_MODULE}",
            PROTO,
        ],
        PROTO_ROOT,
    )  # fmt: skip
    _run(["go", "build", "-o", str(work / "out" / "stiggclient"), "."], work)
    _run(["go", "build", "-o", str(work / "out" / "loadgen"), "./loadgen"], work)
    out_dir.mkdir(parents=True, exist_ok=True)
    for built in (work / "out").iterdir():
        built.replace(out_dir / built.name)
    shutil.rmtree(work, ignore_errors=True)
    return binary
