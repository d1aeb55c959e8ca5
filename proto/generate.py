"""Regenerate the Python code for the gRPC contract: ``make proto`` (or ``python proto/generate.py``).

Compiles ``proto/stigg/sidecar/v1/sidecar.proto`` (Stigg's contract) and
``proto/stigg_sidecar/mirror/v1/mirror.proto`` (this project's mirror protocol) with
``grpc_tools.protoc`` (messages, gRPC stubs, and mypy-protobuf type stubs) into
``sidecar/stigg_sidecar/v1/``, the one folder that holds generated code. The descriptors keep
their file names (``stigg/sidecar/v1/sidecar.proto``) so that reflection and descriptor pools
agree with Stigg's SDKs; only the Python import paths are rewritten, from ``stigg.sidecar.v1``
and ``stigg_sidecar.mirror.v1`` to ``stigg_sidecar.v1``. ``--check`` regenerates into a
scratch folder and fails if anything differs from what is committed.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
SOURCES = ("stigg/sidecar/v1/sidecar.proto", "stigg_sidecar/mirror/v1/mirror.proto")
GENERATED = ("stigg/sidecar/v1", "stigg_sidecar/mirror/v1")  # protoc's output folders
TARGET = ROOT / "sidecar" / "stigg_sidecar" / "v1"
INIT = '''"""GENERATED CODE: do not edit. Regenerate with ``make proto`` from ``proto/``.

The wire contracts: Stigg's (proto package ``stigg.sidecar.v1``: ``sidecar_pb2`` holds the
messages, ``sidecar_pb2_grpc`` the service stubs) and this project's mirror protocol (package
``stigg_sidecar.mirror.v1``: ``mirror_pb2``, ``mirror_pb2_grpc``); the ``.pyi`` files type them.
"""
'''


def _rewrite_imports(path: pathlib.Path) -> None:
    text = path.read_text()
    for package in ("stigg.sidecar.v1", "stigg_sidecar.mirror.v1"):
        text = text.replace(f"from {package} import ", "from stigg_sidecar.v1 import ")
        text = text.replace(f"import {package}.", "import stigg_sidecar.v1.")
        text = text.replace(f"{package}.sidecar_pb2.", "stigg_sidecar.v1.sidecar_pb2.")
    path.write_text(text)


def generate(out_dir: pathlib.Path) -> None:
    """Write the generated package (flat: ``__init__.py`` and the four generated files) to ``out_dir``."""
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ)
        # protoc finds the mypy plugins (protoc-gen-mypy, protoc-gen-mypy_grpc) on PATH.
        env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTO_ROOT}",
                f"--python_out={scratch}",
                f"--grpc_python_out={scratch}",
                f"--mypy_out={scratch}",
                f"--mypy_grpc_out={scratch}",
                *SOURCES,
            ],
            cwd=PROTO_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.iterdir():
            if stale.is_file():
                stale.unlink()
        for folder in GENERATED:
            for path in sorted((pathlib.Path(scratch) / folder).iterdir()):
                _rewrite_imports(path)
                shutil.copyfile(path, out_dir / path.name)
        (out_dir / "__init__.py").write_text(INIT)


def differences(committed: pathlib.Path = TARGET) -> list[str]:
    """Files that regeneration would change, add or remove (empty when up to date)."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = pathlib.Path(scratch) / "v1"
        generate(fresh)
        names = {p.name for p in fresh.iterdir()} | {
            p.name for p in committed.iterdir() if p.is_file() and p.suffix in {".py", ".pyi"}
        }
        return sorted(
            name
            for name in names
            if not (committed / name).is_file()
            or not (fresh / name).is_file()
            or not filecmp.cmp(committed / name, fresh / name, shallow=False)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed code is not current")
    args = parser.parse_args()
    if args.check:
        changed = differences()
        if changed:
            print(f"generated code is stale, run `make proto`: {', '.join(changed)}", file=sys.stderr)
            return 1
        print("generated code is current")
        return 0
    generate(TARGET)
    print(f"generated {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
