"""The real helm (v4, built by ``stigg_localcluster.build.ensure_tool``) on the chart, and the
objects it renders, for the chart's tests (unit: no cluster; integration: ``helm`` against one)."""

from __future__ import annotations

import copy
import json
import os
import pathlib
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from stigg_localcluster import build

ROOT = pathlib.Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "stigg-entitlements"
RELEASE = "stigg-entitlements"
NAMESPACE = "stigg-system"
# Helm's own, on every object it renders (test_chart_matches_manifests compares the rest with manifests/).
BOOKKEEPING_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
)
# Helm's configuration, cache and data (repositories, plugins) in a folder of our own, never ~.
_HOME = pathlib.Path(tempfile.gettempdir()) / f"stigg-chart-tests-helm-{os.getuid()}"


def binary() -> pathlib.Path:
    return build.ensure_tool("helm")


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "HELM_CONFIG_HOME": str(_HOME / "config"),
        "HELM_CACHE_HOME": str(_HOME / "cache"),
        "HELM_DATA_HOME": str(_HOME / "data"),
    }
    return {**env, **(extra or {})}


def run(
    *args: str, check: bool = True, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``helm ARGS``: its result (stdout, stderr), raising with both if it fails and ``check``."""
    done = subprocess.run(
        [str(binary()), *args], capture_output=True, text=True, env=environment(env), timeout=600, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({done.returncode}):\n{done.stderr}{done.stdout}")
    return done


def set_args(values: Mapping[str, Any] | None) -> list[str]:
    """``--set-json key=value`` for each dotted key (the value as JSON: types kept exactly)."""
    return [
        arg for key, value in (values or {}).items() for arg in ("--set-json", f"{key}={json.dumps(value)}")
    ]


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render(values: Mapping[str, Any] | None = None, *extra: str) -> list[dict[str, Any]]:
    """The objects ``helm template`` renders (CRDs included) with ``values`` set."""
    done = run(
        "template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--include-crds", *set_args(values), *extra
    )
    return documents(done.stdout)


Key = tuple[str, str, str | None, str]


def key(obj: Mapping[str, Any]) -> Key:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])


def by_key(objects: Iterable[Mapping[str, Any]]) -> dict[Key, dict[str, Any]]:
    found: dict[Key, dict[str, Any]] = {}
    for obj in objects:
        assert key(obj) not in found, f"rendered twice: {key(obj)}"
        found[key(obj)] = dict(obj)
    return found


def without_bookkeeping(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` without Helm's bookkeeping labels (on the object and on a Pod template)."""
    stripped: dict[str, Any] = copy.deepcopy(dict(obj))
    holders = [
        stripped.get("metadata") or {},
        ((stripped.get("spec") or {}).get("template") or {}).get("metadata") or {},
    ]
    for meta in holders:
        labels = meta.get("labels")
        if isinstance(labels, dict):
            for label in BOOKKEEPING_LABELS:
                labels.pop(label, None)
            if not labels:
                meta.pop("labels")
    return stripped
