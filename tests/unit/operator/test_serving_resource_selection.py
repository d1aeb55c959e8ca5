"""Which StiggEntitlements serves a Pod (``model.select``), and what each caller makes of the
answer: the webhook admits with the patch or denies saying why; the drift scan counts and
reports only Pods some resource serves, and skips the others. Pure: no cluster (the drift
scan's Kubernetes calls are replaced by recorders)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import kopf
import pytest
from kubernetes import client

from stigg_operator import keys, model, settings, upkeep
from stigg_operator.adapters import webhook
from stigg_operator.kube import events, pods
from tests.unit.operator.injection import pods as injector_pods

CONFIG = settings.Settings(namespace="stigg-system")
DEFAULT_KEY = ("stigg-system", keys.CLUSTER_DEFAULT_NAME)
KEY = {"apiKeySecretRef": {"name": "stigg-api-key"}}


def _index(resources: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """kopf's ``entitlements`` index as the handlers see it: (namespace, name) → [entry]."""
    return {key: [{"spec": spec, "uid": f"uid-{key[1]}"}] for key, spec in resources.items()}


def _pod(namespace: str = "shop", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    pod = injector_pods.bare_pod()
    pod["metadata"]["namespace"] = namespace
    if annotations is not None:
        pod["metadata"]["annotations"] = annotations
    return pod


def _admit(
    pod: dict[str, Any],
    entitlements: dict[Any, Any],
    namespace: str = "shop",
    in_api: dict[Any, Any] | None = None,
) -> tuple[kopf.Patch, list[str]]:
    """Admit ``pod`` with kopf's index holding ``entitlements``; ``in_api`` stands in for what the
    API lists on an index miss (named as such: the real lister is tested against an apiserver)."""
    patch, warnings = kopf.Patch(), []

    def list_serving(_: str) -> dict[Any, Any]:
        return in_api if in_api is not None else entitlements

    webhook.inject(
        body=kopf.Body(pod),
        namespace=namespace,
        patch=patch,
        warnings=warnings,
        config=CONFIG,
        list_serving=list_serving,
        entitlements=entitlements,
    )
    return patch, warnings


# --- the rule ---------------------------------------------------------------------------------


def test_the_namespaces_only_resource_serves_it_with_cluster_default_merged_in() -> None:
    index = _index(
        {
            ("shop", "billing"): {"sidecar": {"logLevel": "debug"}},
            DEFAULT_KEY: {**KEY, "sidecar": {"logLevel": "warn", "grpcPort": 50052}},
        }
    )
    chosen = model.select("stigg-system", "shop", {}, index)
    assert (chosen.namespace, chosen.name) == ("shop", "billing")
    assert chosen.spec == {**KEY, "sidecar": {"logLevel": "debug", "grpcPort": 50052}}


def test_the_annotation_picks_one_of_several() -> None:
    index = _index({("shop", "a"): KEY, ("shop", "b"): {"offline": True}})
    chosen = model.select("stigg-system", "shop", {keys.CONFIG_ANNOTATION: "b"}, index)
    assert (chosen.namespace, chosen.name, chosen.spec) == ("shop", "b", {"offline": True})


def test_cluster_default_serves_a_namespace_without_its_own_but_never_counts_in_its_own() -> None:
    index = _index({DEFAULT_KEY: KEY, ("stigg-system", "ops"): {"offline": True}})
    assert (model.select("stigg-system", "shop", {}, index).name) == keys.CLUSTER_DEFAULT_NAME
    own = model.select("stigg-system", "stigg-system", {}, index)
    assert own.name == "ops"
    assert own.spec == {**KEY, "offline": True}, "cluster-default is still inherited"


def test_cluster_default_itself_inherits_nothing() -> None:
    index = _index({DEFAULT_KEY: KEY})
    assert model.inherited_spec("stigg-system", DEFAULT_KEY, {"offline": True}, index) == {"offline": True}
    assert model.inherited_spec("stigg-system", ("shop", "x"), {"offline": True}, index) == {
        **KEY,
        "offline": True,
    }


NO_SERVING = [
    pytest.param(
        {keys.CONFIG_ANNOTATION: "missing"},
        {("shop", "a"): KEY},
        f"annotation {keys.CONFIG_ANNOTATION}: no StiggEntitlements shop/missing",
        id="named-but-absent",
    ),
    pytest.param(
        {},
        {("shop", "a"): KEY, ("shop", "b"): KEY},
        f"namespace shop has several StiggEntitlements (a, b): choose one with the annotation "
        f"{keys.CONFIG_ANNOTATION}",
        id="several",
    ),
    pytest.param(
        {},
        {("elsewhere", "a"): KEY},
        f"no StiggEntitlements in namespace shop and no {keys.CLUSTER_DEFAULT_NAME} in stigg-system: "
        "create one to configure the sidecar, or opt the Pod out with the label "
        f"{keys.POD_INJECT_LABEL}=false",
        id="none",
    ),
]


@pytest.mark.parametrize(("annotations", "resources", "message"), NO_SERVING)
def test_no_serving_resource_is_a_domain_error_saying_what_to_do(
    annotations: dict[str, str], resources: dict[tuple[str, str], Any], message: str
) -> None:
    with pytest.raises(model.NoServingResource) as raised:
        model.select("stigg-system", "shop", annotations, _index(resources))
    assert str(raised.value) == message
    assert not isinstance(raised.value, kopf.AdmissionError), "the model knows nothing of admission"


# --- the webhook ------------------------------------------------------------------------------


@pytest.mark.parametrize(("annotations", "resources", "message"), NO_SERVING)
def test_the_webhook_denies_a_pod_no_resource_serves_with_the_reason(
    annotations: dict[str, str], resources: dict[tuple[str, str], Any], message: str
) -> None:
    with pytest.raises(kopf.AdmissionError) as raised:
        _admit(_pod(annotations=annotations), _index(resources))
    assert (str(raised.value), raised.value.code) == (message, 400)


def test_the_webhook_denies_an_unusable_resource_naming_it() -> None:
    with pytest.raises(kopf.AdmissionError) as raised:
        _admit(_pod(), _index({("shop", "billing"): {"sidecar": {"logLevel": "debug"}}}))
    assert raised.value.code == 400
    assert str(raised.value) == (
        "StiggEntitlements shop/billing: spec.apiKeySecretRef: required here or in cluster-default "
        "(unless spec.offline is true)"
    )


def test_the_webhook_denies_a_bad_override_with_the_patchers_message() -> None:
    pod = _pod(annotations={keys.LOG_LEVEL_ANNOTATION: "loud"})
    with pytest.raises(kopf.AdmissionError) as raised:
        _admit(pod, _index({("shop", "billing"): KEY}))
    assert raised.value.code == 400
    assert str(raised.value).startswith(f"annotation {keys.LOG_LEVEL_ANNOTATION}: must be one of")


def test_the_webhook_patches_with_the_chosen_resource() -> None:
    pod = _pod()
    patch, warnings = _admit(pod, _index({("shop", "billing"): KEY}))
    assert warnings == []
    assert dict(patch) == {}, "the whole change is one JSON Patch function"
    (apply,) = patch.fns
    patched = copy.deepcopy(pod)
    apply(patched)
    assert patched["metadata"]["annotations"][keys.INJECTED_ANNOTATION].startswith("shop/billing@")
    assert patched["spec"]["initContainers"][0]["name"] == keys.SIDECAR_CONTAINER
    assert pod == _pod(), "the admitted body is left as it came"


def test_an_index_miss_is_confirmed_from_the_api_and_served_by_what_it_lists() -> None:
    """Just after a start kopf may still be filling its index: the API's answer serves the Pod."""
    pod = _pod()
    patch, _ = _admit(pod, _index({}), in_api=_index({("shop", "billing"): KEY}))
    (apply,) = patch.fns
    patched = copy.deepcopy(pod)
    apply(patched)
    assert patched["metadata"]["annotations"][keys.INJECTED_ANNOTATION].startswith("shop/billing@")


def test_an_index_hit_never_asks_the_api() -> None:
    asked: list[str] = []

    def list_serving(namespace: str) -> dict[Any, Any]:
        asked.append(namespace)
        return {}

    webhook.inject(
        body=kopf.Body(_pod()),
        namespace="shop",
        patch=kopf.Patch(),
        warnings=[],
        config=CONFIG,
        list_serving=list_serving,
        entitlements=_index({("shop", "billing"): KEY}),
    )
    assert asked == []


def test_the_webhook_admits_a_skipped_pod_unchanged_before_choosing_any_resource() -> None:
    injected = _pod(annotations={keys.INJECTED_ANNOTATION: "other/res@abc"})
    patch, warnings = _admit(injected, {})  # no resource at all: still no denial
    assert warnings == [f"{keys.SIDECAR_CONTAINER} not injected: already injected"]
    assert (dict(patch), patch.fns) == ({}, [])


# --- the drift scan ---------------------------------------------------------------------------


def _opted_pod(namespace: str, name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    pod = _pod(namespace, annotations)
    pod["metadata"].update(name=name, uid=f"uid-{namespace}-{name}")
    return pod


def test_the_drift_scan_skips_pods_no_resource_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    candidates = [
        _opted_pod("shop", "served"),
        _opted_pod("shop", "named-absent", {keys.CONFIG_ANNOTATION: "missing"}),
        _opted_pod("lonely", "unserved"),
    ]
    posted: list[tuple[str, str]] = []

    def opted_in(api: client.ApiClient, skipped: Iterable[str]) -> tuple[set[str], list[dict[str, Any]]]:
        assert set(skipped) == keys.SYSTEM_NAMESPACES | {"stigg-system"}
        return {"shop", "lonely"}, candidates

    def post(api: client.ApiClient, target: dict[str, Any], *, reason: str, message: str, **_: Any) -> None:
        posted.append((target["metadata"]["name"], reason))

    monkeypatch.setattr(pods, "opted_in", opted_in)
    monkeypatch.setattr(events, "post", post)
    ledger = upkeep.Ledger()
    index = _index({("shop", "billing"): KEY})

    found = upkeep.find_missing(client.ApiClient(), CONFIG, index, ledger)

    assert found == {("shop", "billing"): [candidates[0]]}
    assert posted == [("served", keys.MISSING_SIDECAR_REASON)]
    assert upkeep.find_missing(client.ApiClient(), CONFIG, index, ledger) == found
    assert posted == [("served", keys.MISSING_SIDECAR_REASON)], "each Pod is reported once"
