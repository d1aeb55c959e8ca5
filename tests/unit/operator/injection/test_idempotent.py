"""A Pod is injected once: an injected Pod, or a hostNetwork one, gets an empty patch and a reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stigg_operator import keys
from stigg_operator.injection import patch
from tests.unit.operator.injection import pods


@pytest.mark.parametrize("make_pod", [pods.bare_pod, pods.rich_pod])
def test_patching_the_patched_pod_gives_an_empty_patch(make_pod: Callable[[], dict[str, Any]]) -> None:
    config = pods.config(pods.full_spec())
    patched = pods.inject(make_pod(), config)

    assert patch.is_injected(patched)
    assert patch.skip_reason(patched) == "already injected"
    assert patch.build(patched, config) == []


def test_fresh_pod_is_not_injected_and_has_no_skip_reason() -> None:
    assert not patch.is_injected(pods.rich_pod())
    assert patch.skip_reason(pods.rich_pod()) is None


def test_sidecar_container_name_marks_the_pod_injected() -> None:
    in_init = pods.bare_pod()
    in_init["spec"]["initContainers"] = [{"name": keys.SIDECAR_CONTAINER, "image": "x"}]
    in_containers = pods.bare_pod()
    in_containers["spec"]["containers"].append({"name": keys.SIDECAR_CONTAINER, "image": "x"})

    for pod in (in_init, in_containers):
        assert patch.is_injected(pod)
        assert patch.build(pod, pods.config()) == []


def test_injected_annotation_alone_marks_the_pod_injected() -> None:
    pod = pods.pod_with_annotations({keys.INJECTED_ANNOTATION: "other/res@abc"})

    assert patch.is_injected(pod)
    assert patch.build(pod, pods.config()) == []


def test_injected_pod_with_bad_annotations_is_skipped_not_denied() -> None:
    pod = pods.pod_with_annotations({keys.INJECTED_ANNOTATION: "x", keys.LOG_LEVEL_ANNOTATION: "loud"})

    assert patch.build(pod, pods.config()) == []


def test_host_network_pod_is_skipped_with_its_reason() -> None:
    pod = pods.rich_pod()
    pod["spec"]["hostNetwork"] = True

    assert not patch.is_injected(pod)
    assert patch.skip_reason(pod) == "hostNetwork Pod"
    assert patch.build(pod, pods.config()) == []


def test_host_network_false_is_injected() -> None:
    pod = pods.bare_pod()
    pod["spec"]["hostNetwork"] = False

    assert patch.skip_reason(pod) is None
    assert pods.sidecar_of(pods.inject(pod, pods.config()))["name"] == keys.SIDECAR_CONTAINER
