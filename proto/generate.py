"""Regenerate the Python code for the gRPC contract: ``make proto`` (or ``python proto/generate.py``).

Compiles ``proto/stigg/sidecar/v1/sidecar.proto`` with ``grpc_tools.protoc`` (messages, gRPC
stubs, and mypy-protobuf type stubs) into ``sidecar/stigg_sidecar/v1/``, the one folder that
holds generated code. The descriptor keeps its upstream file name
(``stigg/sidecar/v1/sidecar.proto``) so that reflection and descriptor pools agree with Stigg's
SDKs; only the Python import path is rewritten from ``stigg.sidecar.v1`` to
``stigg_sidecar.v1``. ``--check`` regenerates into a scratch folder and fails if anything
differs from what is committed.
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
SOURCES = ("stigg/sidecar/v1/sidecar.proto",)
TARGET = ROOT / "sidecar" / "stigg_sidecar" / "v1"
INIT = '''"""GENERATED CODE: do not edit. Regenerate with ``make proto`` from ``proto/stigg/sidecar/v1``.

The Stigg-compatible wire contract (proto package ``stigg.sidecar.v1``): ``sidecar_pb2`` holds
the messages, ``sidecar_pb2_grpc`` the service stubs; the ``.pyi`` files type both.
"""
'''


def _rewrite_imports(path: pathlib.Path) -> None:
    text = path.read_text()
    text = text.replace("from stigg.sidecar.v1 import ", "from stigg_sidecar.v1 import ")
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
        generated = pathlib.Path(scratch) / "stigg" / "sidecar" / "v1"
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.iterdir():
            if stale.is_file():
                stale.unlink()
        for path in sorted(generated.iterdir()):
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
