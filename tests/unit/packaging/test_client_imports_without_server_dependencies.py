"""The typed clients are importable with only grpcio and protobuf: a Python process in which the
server's dependencies cannot be imported at all still imports ``stigg_sidecar.client`` and the
mirrored clients (``stigg_sidecar.mirror.client``) and builds them."""

from __future__ import annotations

import subprocess
import sys

SERVER_ONLY = ("aiohttp", "redis", "prometheus_client", "yaml", "grpc_health", "grpc_reflection")

PROGRAM = f"""
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SERVER_ONLY!r}:
            raise ImportError("refused: " + name)
        return None

sys.meta_path.insert(0, Refuse())
from stigg_sidecar import client
from stigg_sidecar.mirror import client as mirrored
with client.SidecarClient("127.0.0.1:1", timeout=0.1) as sidecar:
    assert hasattr(sidecar, "get_boolean_entitlement")
with mirrored.MirroredSidecarClient("127.0.0.1:1", timeout=0.1) as sidecar:
    assert hasattr(sidecar, "get_boolean_entitlement")
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {SERVER_ONLY!r})
print("loaded:", loaded)
"""


def test_the_client_imports_with_the_server_dependencies_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "loaded: []"


def test_the_refusal_is_real_the_server_does_need_them() -> None:
    program = PROGRAM.replace("from stigg_sidecar import client\n", "from stigg_sidecar import server\n")
    result = subprocess.run(
        [sys.executable, "-c", program], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "refused:" in result.stderr
