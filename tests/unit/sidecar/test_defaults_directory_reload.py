"""A defaults directory (a mounted ConfigMap) is reloaded when it changes, without a restart,
including kubelet's atomic ``..data`` symlink swap; a broken edit keeps the last good table."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib

from stigg_devkit import waiting
from stigg_sidecar import defaults


def _configmap_dir(root: pathlib.Path, files: dict[str, str], version: int) -> None:
    """Lay out files the way kubelet does: ``..<version>/`` targets, ``..data`` link, per-key links."""
    target = root / f"..{version}"
    target.mkdir()
    for name, text in files.items():
        (target / name).write_text(text)
    tmp_link = root / "..data_tmp"
    tmp_link.symlink_to(target.name)
    os.replace(tmp_link, root / "..data")  # the atomic swap
    for name in files:
        link = root / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


async def test_configmap_swap_is_picked_up(tmp_path: pathlib.Path) -> None:
    _configmap_dir(tmp_path, {"defaults.json": json.dumps({"sso": {"hasAccess": False}})}, 1)
    table = defaults.Defaults(
        defaults.parse_env('{"sso": {"hasAccess": true}, "seats": {"value": 3}}'), tmp_path
    )
    table.refresh()
    sso = table.get("sso")
    assert sso is not None
    assert sso.has_access is False, "the directory overrides ENTITLEMENTS_FALLBACK"
    seats = table.get("seats")
    assert seats is not None
    assert seats.value == 3

    watcher = asyncio.create_task(table.watch(interval=0.05))
    try:
        _configmap_dir(tmp_path, {"defaults.json": json.dumps({"sso": {"hasAccess": True}})}, 2)
        await asyncio.to_thread(
            waiting.wait_for,
            lambda: (d := table.get("sso")) is not None and d.has_access,
            timeout=5,
            what="the swapped ConfigMap to be served",
        )
    finally:
        watcher.cancel()


def test_broken_edit_keeps_last_good_table(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.yaml").write_text("tier:\n  enumValues: [basic, pro]\n")
    table = defaults.Defaults({}, tmp_path)
    assert table.refresh()
    assert table.loaded

    (tmp_path / "a.yaml").write_text("tier:\n  enumValues: basic\n")
    assert not table.refresh()
    assert table.last_error is not None
    assert table.last_error.startswith("a.yaml: tier.enumValues: must be a list of strings")
    tier = table.get("tier")
    assert tier is not None
    assert tier.enum_values == ("basic", "pro")
