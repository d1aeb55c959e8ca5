"""Fixtures for the local cluster's own tests."""

from __future__ import annotations

import pathlib
import shutil
import tempfile
from collections.abc import Iterator

import pytest


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
