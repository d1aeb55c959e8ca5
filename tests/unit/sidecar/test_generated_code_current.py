"""The committed generated code is exactly what ``make proto`` produces from ``proto/``."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_regeneration_changes_nothing() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "proto" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "generated code is current"


def test_check_detects_a_hand_edit(tmp_path: pathlib.Path) -> None:
    sys.path.insert(0, str(ROOT / "proto"))
    try:
        import generate  # noqa: PLC0415 -- the generator script, imported for its functions
    finally:
        sys.path.pop(0)
    committed = tmp_path / "v1"
    generate.generate(committed)
    assert generate.differences(committed) == []
    stub = committed / "sidecar_pb2_grpc.py"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    (committed / "leftover_pb2.py").write_text("")
    assert generate.differences(committed) == ["leftover_pb2.py", "sidecar_pb2_grpc.py"]
