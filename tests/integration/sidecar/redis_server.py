"""A real redis-server for the sidecar's tests (installed by .ci/run), and the sidecar
environment that points at it."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from collections.abc import Mapping

import redis

from stigg_devkit import childproc, waiting
from stigg_sidecar import shared_cache


class RedisServer:
    def __init__(self, workdir: pathlib.Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError(
                "redis-server is not installed (.ci/run installs it: apt-get install redis-server)"
            )
        self.binary = binary
        self.workdir = workdir
        self.port = childproc.free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            childproc.tied([self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                            "--appendonly", "no", "--dir", str(self.workdir)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        waiting.wait_for(self._answers, timeout=10, what="redis-server to accept connections")

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.exceptions.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stored(self) -> list[bytes]:
        return sorted(redis.Redis(port=self.port).scan_iter("*"))


def env(base: Mapping[str, str], server: RedisServer) -> dict[str, str]:
    """``base`` (a sidecar's environment) with the shared cache at ``server``."""
    return {
        **base,
        "REDIS_ENVIRONMENT_PREFIX": "test-env",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(server.port),
        "REDIS_KEYS_TTL_IN_SECS": "600",
    }


def stored_usage(server: RedisServer, customer_id: str, feature_id: str) -> float | None:
    """The current usage a shared-cache entry holds for one feature (None: no entry)."""
    raw = redis.Redis(port=server.port).get(f"test-env:stigg-sidecar:v1:entitlements:{customer_id}:")
    if raw is None:
        return None
    entry = shared_cache.decode(raw)
    entitlement = entry.state.entitlements.get(feature_id)
    return None if entitlement is None else entitlement.current_usage
