"""A sidecar loads only what its configuration needs (``bench/results/sidecar-memory.md``): a
started sidecar without Redis has not imported Redis's client, nor PyYAML without a YAML
defaults file, nor aiohttp with the real-time stream off, nor ever prometheus_client; with them
configured it has (so the check is not vacuous). Each runs in an interpreter of its own, since a
module once imported stays in ``sys.modules``."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

PROGRAM = """
import asyncio, json, sys
from stigg_sidecar import server, settings

async def main():
    sidecar = server.Sidecar(settings.Settings.from_env(json.loads(sys.argv[1])))
    await sidecar.start()
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    await sidecar.stop()
    print(json.dumps(loaded))

asyncio.run(main())
"""

BASE = {
    "SERVER_API_KEY": "sk-test",
    "API_URL": "http://127.0.0.1:9",
    "EDGE_API_URL": "http://127.0.0.1:9",
    "SIDECAR_BIND_ADDRESS": "127.0.0.1",
    "GRPC_PORT": "0",
    "SIDECAR_HTTP_PORT": "0",
    "SIDECAR_SHUTDOWN_DELAY_SECONDS": "0",
    "LOG_LEVEL": "error",
}
REDIS = {"REDIS_ENVIRONMENT_PREFIX": "test", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "9"}


def _loaded(tmp_path: pathlib.Path, env: dict[str, str]) -> set[str]:
    env = {**BASE, "SIDECAR_STATE_DIR": str(tmp_path / "state"), **env}
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(env)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_without_redis_or_the_stream_neither_client_is_imported(tmp_path: pathlib.Path) -> None:
    loaded = _loaded(tmp_path, {"WS_ENABLED": "false"})
    assert "grpc" in loaded
    assert not loaded & {"redis", "aiohttp", "yaml", "prometheus_client"}


def test_the_stream_loads_aiohttp_for_its_websocket_and_nothing_of_redis(tmp_path: pathlib.Path) -> None:
    loaded = _loaded(tmp_path, {"WS_ENABLED": "true", "WS_URL": "ws://127.0.0.1:9"})
    assert "aiohttp" in loaded
    assert not loaded & {"redis", "yaml", "prometheus_client"}


def test_with_redis_its_client_is_imported(tmp_path: pathlib.Path) -> None:
    assert "redis" in _loaded(tmp_path, {"WS_ENABLED": "false", **REDIS})


def test_json_defaults_need_no_yaml_and_yaml_ones_load_it(tmp_path: pathlib.Path) -> None:
    (tmp_path / "defaults").mkdir()
    (tmp_path / "defaults" / "defaults.json").write_text('{"feature-a": {"hasAccess": true}}')
    env = {"WS_ENABLED": "false", "SIDECAR_DEFAULTS_DIR": str(tmp_path / "defaults")}
    assert "yaml" not in _loaded(tmp_path, env)
    (tmp_path / "defaults" / "more.yaml").write_text("feature-b: {hasAccess: true}\n")
    assert "yaml" in _loaded(tmp_path, env)
