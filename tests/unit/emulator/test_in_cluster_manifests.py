"""The emulator's Pod carries all it runs: its ConfigMap holds the whole package but the
host-only modules, with keys a ConfigMap accepts, within a ConfigMap's size limit; the package
rebuilt from those keys alone imports and parses its command line (no module of it needs
``stigg_devkit``, which the sidecar image lacks); the key is a Secret's, by reference."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

from stigg_emulator import __main__ as cli
from stigg_emulator import in_cluster

CONFIGMAP_KEY = re.compile(r"[-._a-zA-Z0-9]+")
CONFIGMAP_LIMIT = 1024 * 1024


def _by_kind(objects: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(obj["kind"]): obj for obj in objects}


def test_the_configmap_holds_the_package_within_limits() -> None:
    files = in_cluster.package_files()
    assert {"__init__.py", "__main__.py", "app.py", "sample_catalog.yaml"} <= set(files)
    assert not in_cluster.HOST_ONLY & set(files)
    assert all(CONFIGMAP_KEY.fullmatch(key) for key in files)
    objects = _by_kind(in_cluster.manifests(namespace="up", image="img:dev", api_key="k"))
    assert objects["ConfigMap"]["data"] == files
    assert len(json.dumps(objects["ConfigMap"]).encode()) < CONFIGMAP_LIMIT


def test_the_package_from_the_configmap_alone_runs(tmp_path: pathlib.Path) -> None:
    package = tmp_path / "stigg_emulator"
    package.mkdir()
    for name, text in in_cluster.package_files().items():
        (package / name).write_text(text)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import stigg_emulator.__main__ as m; "
        "assert m.__file__.startswith(sys.argv[1]), m.__file__; "
        "assert not [n for n in sys.modules if n.startswith('stigg_devkit')]; "
        "print(m._parser().parse_args(['--host=0.0.0.0', '--port=8080']).port)"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "8080"


def test_the_pod_reads_its_key_from_the_secret_and_runs_restricted() -> None:
    objects = _by_kind(in_cluster.manifests(namespace="up", image="img:dev", api_key="sk-secret"))
    assert objects["Secret"]["stringData"] == {"apiKey": "sk-secret"}
    pod = objects["Pod"]
    assert "sk-secret" not in json.dumps(pod)
    (container,) = pod["spec"]["containers"]  # type: ignore[index]
    env = {e["name"]: e for e in container["env"]}
    assert env[cli.API_KEY_ENV]["valueFrom"]["secretKeyRef"] == {"name": in_cluster.NAME, "key": "apiKey"}
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    service = objects["Service"]
    assert service["spec"]["selector"] == pod["metadata"]["labels"]  # type: ignore[index]
