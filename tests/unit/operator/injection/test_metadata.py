"""The injection is recorded on the Pod: the resource and wiring hash in an annotation, and a label."""

from __future__ import annotations

from stigg_operator import keys, model
from stigg_operator.injection import patch
from tests.unit.operator.injection import pods


def test_bare_pod_gets_annotation_and_label_maps() -> None:
    config = pods.config(pods.full_spec())
    patched = pods.inject(pods.bare_pod(), config)

    assert patched["metadata"]["annotations"] == {
        keys.INJECTED_ANNOTATION: f"shop/entitlements@{config.wiring_hash()}"
    }
    assert patched["metadata"]["labels"] == {keys.INJECTED_LABEL: "true"}
    assert patched["metadata"]["generateName"] == "web-7d9f8b-"


def test_existing_keys_with_slashes_and_tildes_are_kept() -> None:
    pod = pods.rich_pod()
    config = pods.config()
    patched = pods.inject(pod, config)

    assert patched["metadata"]["annotations"] == {
        **pod["metadata"]["annotations"],
        keys.INJECTED_ANNOTATION: f"shop/entitlements@{config.wiring_hash()}",
    }
    assert patched["metadata"]["labels"] == {**pod["metadata"]["labels"], keys.INJECTED_LABEL: "true"}


def test_map_keys_are_json_pointer_escaped() -> None:
    ops = patch.build(pods.rich_pod(), pods.config())

    paths = {op["path"] for op in ops if op["path"].startswith("/metadata/")}
    assert paths == {
        "/metadata/annotations/sidecar.stigg.io~1injected",
        "/metadata/labels/sidecar.stigg.io~1injected",
    }


def test_the_hash_changes_with_the_wiring_not_with_the_defaults() -> None:
    base = pods.config(pods.full_spec())
    other_defaults = pods.full_spec()
    other_defaults["defaults"] = {"feature-x": {"hasAccess": False}}
    other_port = pods.full_spec()
    other_port["sidecar"]["grpcPort"] = 50060

    def recorded(config: model.EffectiveConfig) -> str:
        value: str = pods.inject(pods.bare_pod(), config)["metadata"]["annotations"][keys.INJECTED_ANNOTATION]
        return value

    assert recorded(pods.config(other_defaults)) == recorded(base)
    assert recorded(pods.config(other_port)) != recorded(base)


def test_pod_without_metadata_gets_it() -> None:
    pod = pods.bare_pod()
    del pod["metadata"]

    patched = pods.inject(pod, pods.config())

    assert patched["metadata"]["labels"] == {keys.INJECTED_LABEL: "true"}
    assert list(patched["metadata"]["annotations"]) == [keys.INJECTED_ANNOTATION]
