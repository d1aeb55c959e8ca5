"""Installing Stigg's clients outside git is idempotent: an install runs once per digest of its
pins, a finished one is reused, changed pins install again, and a failed one leaves nothing
that counts as installed (no network here: the install is a stand-in)."""

from __future__ import annotations

import pathlib

import pytest

from stigg_devkit import stigg_sdks


def test_an_install_runs_once_per_digest(tmp_path: pathlib.Path) -> None:
    runs: list[str] = []
    for digest in ("a", "a", "b", "b"):
        stigg_sdks._ensure(tmp_path, digest, lambda d=digest: runs.append(d))
    assert runs == ["a", "b"]


def test_a_failed_install_is_redone_next_time(tmp_path: pathlib.Path) -> None:
    def failing() -> None:
        raise stigg_sdks.PeerInstallError("npm ci failed")

    stigg_sdks._ensure(tmp_path, "a", lambda: None)
    with pytest.raises(stigg_sdks.PeerInstallError):
        stigg_sdks._ensure(tmp_path, "b", failing)
    runs: list[str] = []
    stigg_sdks._ensure(tmp_path, "b", lambda: runs.append("b"))
    assert runs == ["b"]


def test_the_cache_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert stigg_sdks.cache_root() == tmp_path
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert stigg_sdks.cache_root() == pathlib.Path.home() / ".cache"


def test_the_pins_are_exact() -> None:
    """One requirements file pins both Python clients, at the versions the module names, and
    every dependency exactly (it is installed without resolving)."""
    lines = [
        line
        for line in stigg_sdks.PYTHON_REQUIREMENTS.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert f"stigg-sidecar-sdk=={stigg_sdks.PYTHON_SIDECAR_SDK_VERSION}" in lines
    assert f"stigg-api-client-v2=={stigg_sdks.PYTHON_API_CLIENT_VERSION}" in lines
    assert stigg_sdks.PYTHON_SIDECAR_SDK_VERSION == "8.1.0"  # what the docs and the tests' docstrings say
    assert stigg_sdks.PYTHON_API_CLIENT_VERSION == "6.25.0"
    assert all("==" in line and ";" not in line for line in lines)
    names = [line.split("==")[0].lower().replace("_", "-") for line in lines]
    assert len(names) == len(set(names)), "a package is pinned twice"
    assert '"@stigg/node-server-sdk": "3.95.0"' in stigg_sdks.NODE_MANIFESTS[0].read_text()
