"""Fixtures for the local cluster's own tests, and ``cli``: ``stigg-localcluster`` run as users run it."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from stigg_localcluster import build


@pytest.fixture
def short_state_dir() -> Iterator[pathlib.Path]:
    """A state folder with a short path, for a cluster with a node: kubelet makes unix sockets
    deep inside it (``node/kubelet/root/pod-resources/<10 digits>``), and a socket path has at
    most 107 bytes, which a pytest ``tmp_path`` named after a long test can exceed."""
    parent = pathlib.Path(tempfile.mkdtemp(prefix="lc-"))
    try:
        yield parent / "c"
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``python -m stigg_localcluster ARGS`` with this cache (its stdout and stderr captured)."""
    return subprocess.run(
        [sys.executable, "-m", "stigg_localcluster", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "STIGG_LOCALCLUSTER_CACHE": str(build.cache_root())},
    )
