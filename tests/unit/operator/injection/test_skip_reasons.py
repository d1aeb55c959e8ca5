"""Pods the injector leaves alone, each for a reason a person can read: opted out by the
annotation as well as by the label (the label never reaches the webhook: its selector excludes
it), and Windows Pods (the sidecar image is Linux-only); anything else is injected."""

from __future__ import annotations

from typing import Any

import pytest

from stigg_operator import keys
from stigg_operator.injection import patch
from tests.unit.operator.injection import pods


def _with(**changes: Any) -> dict[str, Any]:
    pod = pods.bare_pod()
    for path, value in changes.items():
        section, field = path.split("__")
        pod.setdefault(section, {})[field] = value
    return pod


@pytest.mark.parametrize("value", ["false", "False", " false "])
def test_the_opt_out_annotation_is_honoured(value: str) -> None:
    pod = _with(metadata__annotations={keys.POD_INJECT_LABEL: value})
    assert patch.skip_reason(pod) == patch.SKIP_OPTED_OUT
    assert keys.POD_INJECT_LABEL in patch.SKIP_OPTED_OUT
    assert patch.build(pod, pods.config()) == []


@pytest.mark.parametrize("value", ["true", "", "no"])
def test_other_annotation_values_do_not_opt_out(value: str) -> None:
    pod = _with(metadata__annotations={keys.POD_INJECT_LABEL: value})
    assert patch.skip_reason(pod) is None
    assert pods.sidecar_of(pods.inject(pod, pods.config())) is not None


def test_a_windows_pod_by_its_os_field_is_skipped() -> None:
    pod = _with(spec__os={"name": "windows"})
    assert patch.skip_reason(pod) == patch.SKIP_WINDOWS
    assert patch.build(pod, pods.config()) == []


def test_a_windows_pod_by_its_node_selector_is_skipped() -> None:
    pod = _with(spec__nodeSelector={patch.OS_NODE_LABEL: "windows"})
    assert patch.skip_reason(pod) == patch.SKIP_WINDOWS


def test_a_linux_pod_is_injected() -> None:
    pod = _with(spec__os={"name": "linux"}, spec__nodeSelector={patch.OS_NODE_LABEL: "linux"})
    assert patch.skip_reason(pod) is None
