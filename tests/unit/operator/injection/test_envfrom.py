"""An app's ``envFrom`` value of ``STIGG_SIDECAR_*`` is never silently overridden.

An ``env`` entry wins over ``envFrom``, so the injector adds one only where no ``envFrom``
source sets the variable: a ConfigMap the webhook read that sets it is honoured (no entry);
a source it cannot see through (a Secret, never read; a ConfigMap missing or not read in
time) gets the entry and an admission warning naming the container, the variable, the source
and the fix. Pure (the ConfigMap reads are replaced by what they found), except the bounded
reader itself, whose API calls are replaced by a stand-in that is slow or refuses.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import jsonpatch
import kopf
import pytest
import urllib3
from kubernetes import client

from stigg_operator import keys, settings
from stigg_operator.adapters import webhook
from stigg_operator.injection import envfrom, patch, shape
from stigg_operator.kube import configmaps, rest
from tests.unit.operator.injection import pods

HOST, PORT = keys.APP_HOST_ENV, keys.APP_PORT_ENV


def _pod(*env_from: dict[str, Any], env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    pod = pods.bare_pod()
    pod["spec"]["containers"][0]["envFrom"] = list(env_from)
    if env is not None:
        pod["spec"]["containers"][0]["env"] = env
    return pod


def _cm(name: str, prefix: str | None = None, optional: bool | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name}
    if optional is not None:
        ref["optional"] = optional
    return {"configMapRef": ref} | ({"prefix": prefix} if prefix is not None else {})


def _secret(name: str, prefix: str | None = None) -> dict[str, Any]:
    return {"secretRef": {"name": name}} | ({"prefix": prefix} if prefix is not None else {})


def _inject(
    pod: dict[str, Any], lookups: envfrom.Lookups, spec: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    ops = patch.assemble(pod, pods.config(spec), configmaps=lookups, warnings=warnings)
    patched: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(pod), ops)
    return patched, warnings


def _app_env(patched: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in patched["spec"]["containers"][0].get("env", [])}


# --- honoured: a ConfigMap the webhook read sets it -------------------------------------------


def test_a_configmap_setting_the_port_is_honoured_and_only_the_host_is_added() -> None:
    pod = _pod(_cm("checkout-env"))
    patched, warnings = _inject(pod, {"checkout-env": envfrom.Lookup(data={PORT: "50099", "LOG": "x"})})

    assert _app_env(patched) == {HOST: "localhost"}, "no STIGG_SIDECAR_PORT entry to win over the app's"
    assert warnings == []


def test_a_prefix_that_produces_the_name_is_honoured_too() -> None:
    pod = _pod(_cm("stigg", prefix="STIGG_"))
    patched, warnings = _inject(
        pod, {"stigg": envfrom.Lookup(data={"SIDECAR_HOST": "10.0.0.7", "SIDECAR_PORT": "7000"})}
    )

    assert "env" not in patched["spec"]["containers"][0], "both set by the ConfigMap: nothing added"
    assert warnings == []


def test_the_last_source_need_not_be_known_once_a_read_configmap_sets_it() -> None:
    # Set by the ConfigMap whatever the Secret holds: the app has its own value either way.
    pod = _pod(_cm("checkout-env"), _secret("checkout-secrets"))
    patched, warnings = _inject(pod, {"checkout-env": envfrom.Lookup(data={PORT: "6000", HOST: "h"})})

    assert "env" not in patched["spec"]["containers"][0]
    assert warnings == []


# --- nothing can set it: added, silently -----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "lookups"),
    [
        (_cm("checkout-env"), {"checkout-env": envfrom.Lookup(data={"DATABASE_URL": "postgres://db"})}),
        (_cm("checkout-env", prefix="APP_"), {}),
        (_cm("checkout-env", optional=True), {"checkout-env": envfrom.Lookup(missing=True)}),
        (_secret("db-credentials", prefix="DB_"), {}),
    ],
    ids=["configmap-without-the-key", "prefix-cannot-produce-it", "optional-and-missing", "secret-prefix"],
)
def test_a_source_that_cannot_set_it_changes_nothing(
    source: dict[str, Any], lookups: envfrom.Lookups
) -> None:
    patched, warnings = _inject(_pod(source), lookups)

    assert _app_env(patched) == {HOST: "localhost", PORT: "50051"}
    assert warnings == []


def test_env_still_wins_over_everything() -> None:
    user_env = [{"name": HOST, "value": "10.0.0.1"}, {"name": PORT, "value": "1"}]
    patched, warnings = _inject(_pod(_secret("app-secrets"), env=list(user_env)), {})

    assert patched["spec"]["containers"][0]["env"] == user_env
    assert warnings == [], "set in env: no envFrom can matter"


# --- unknowable: added, with a warning saying what and how to fix ----------------------------


def test_a_secret_gets_the_entries_and_a_warning_naming_it_the_variables_and_the_fix() -> None:
    patched, warnings = _inject(_pod(_secret("checkout-secrets")), {})

    assert _app_env(patched) == {HOST: "localhost", PORT: "50051"}
    assert warnings == [
        "container 'web': injected env STIGG_SIDECAR_HOST=localhost, STIGG_SIDECAR_PORT=50051 overrides "
        "envFrom Secret 'checkout-secrets' (Secrets are not read) if it sets them; "
        "to keep your value, set it in env"
    ]
    assert len(warnings[0]) <= 256, "the apiserver may truncate a warning over 256 characters"


def test_a_secret_prefix_that_can_produce_only_one_name_warns_of_that_one() -> None:
    # "STIGG_SIDECAR_P" can make STIGG_SIDECAR_PORT (key "ORT"), never STIGG_SIDECAR_HOST.
    _, warnings = _inject(_pod(_secret("odd", prefix="STIGG_SIDECAR_P")), {})

    assert warnings == [
        "container 'web': injected env STIGG_SIDECAR_PORT=50051 overrides envFrom Secret 'odd' "
        "(Secrets are not read) if it sets it; to keep your value, set it in env"
    ]


@pytest.mark.parametrize(
    ("lookup", "why"),
    [
        (envfrom.Lookup(missing=True), "not found"),
        (envfrom.Lookup(problem="not read within 1 s"), "not read within 1 s"),
        (envfrom.Lookup(problem="not read: 403"), "not read: 403"),
    ],
)
def test_a_configmap_that_was_not_seen_warns_with_the_reason(lookup: envfrom.Lookup, why: str) -> None:
    patched, warnings = _inject(_pod(_cm("checkout-env")), {"checkout-env": lookup})

    assert _app_env(patched) == {HOST: "localhost", PORT: "50051"}
    assert warnings == [
        f"container 'web': injected env STIGG_SIDECAR_HOST=localhost, STIGG_SIDECAR_PORT=50051 overrides "
        f"envFrom ConfigMap 'checkout-env' ({why}) if it sets them; to keep your value, set it in env"
    ]


def test_init_containers_and_standalone_mode_are_treated_alike() -> None:
    pod = pods.rich_pod()
    pod["spec"]["initContainers"][0]["envFrom"] = [_secret("migrate-secrets")]
    pod["spec"]["initContainers"][1]["envFrom"] = [_cm("warm-env")]
    lookups = {"warm-env": envfrom.Lookup(data={HOST: "cache-warmer-proxy"})}
    for spec in (pods.full_spec(), {**pods.full_spec(), "mode": "Standalone"}):
        patched, warnings = _inject(pod, lookups, spec)
        init = {c["name"]: c for c in patched["spec"]["initContainers"]}
        assert HOST not in pods.env_of(init["warm-cache"]), "honoured"
        assert pods.env_of(init["migrate"])[HOST], "added"
        assert len(warnings) == 1
        assert warnings[0].startswith("init container 'migrate': injected env STIGG_SIDECAR_HOST=")


# --- which ConfigMaps are worth reading --------------------------------------------------------


def test_only_configmaps_whose_prefix_can_produce_an_unset_name_are_read_once_each() -> None:
    containers = [
        {"name": "a", "envFrom": [_cm("shared"), _cm("app-only", prefix="APP_"), _secret("creds")]},
        {"name": "b", "envFrom": [_cm("shared"), _cm("stigg", prefix="STIGG_SIDECAR_")]},
        {
            "name": "c",
            "envFrom": [_cm("covered")],
            "env": [{"name": HOST, "value": "h"}, {"name": PORT, "value": "1"}],
        },
    ]
    assert envfrom.configmaps_to_read(containers) == ["shared", "stigg"]


# --- the webhook: reads in the Pod's namespace, passes the warnings on -----------------------


def _admit(pod: dict[str, Any], found: envfrom.Lookups) -> tuple[list[Any], list[str], dict[str, Any]]:
    asked: list[Any] = []

    def read(namespace: str, names: Any) -> envfrom.Lookups:
        asked.append((namespace, list(names)))
        return found

    patch_, warnings = kopf.Patch(), []
    webhook.inject(
        body=kopf.Body(pod),
        namespace="shop",
        patch=patch_,
        warnings=warnings,
        config=settings.Settings(namespace="stigg-system"),
        list_serving=lambda _: {},
        read_configmaps=read,
        entitlements={("shop", "entitlements"): [{"spec": pods.minimal_spec(), "uid": "u"}]},
    )
    patched = copy.deepcopy(pod)
    for fn in patch_.fns:
        fn(patched)
    return asked, warnings, patched


def test_the_webhook_reads_the_named_configmaps_in_the_pods_namespace_and_honours_them() -> None:
    asked, warnings, patched = _admit(
        _pod(_cm("checkout-env"), _secret("s", prefix="DB_")),
        {"checkout-env": envfrom.Lookup(data={PORT: "7"})},
    )
    assert asked == [("shop", ["checkout-env"])]
    assert _app_env(patched) == {HOST: "localhost"}
    assert warnings == []


def test_the_webhook_reads_nothing_for_a_pod_without_envfrom_and_warns_of_a_secret() -> None:
    asked, _, _ = _admit(pods.bare_pod(), {})
    assert asked == []
    asked, warnings, _ = _admit(_pod(_secret("checkout-secrets")), {})
    assert asked == [], "a Secret is never read"
    assert [w for w in warnings if "checkout-secrets" in w], warnings


def test_a_malformed_envfrom_is_denied_in_words() -> None:
    assert shape.problem(_pod({"secretRef": "app"})) == (
        "spec.containers[0].envFrom[0].secretRef: must be an object, got a string"
    )
    assert shape.problem(_pod({"configMapRef": {"name": "a"}, "prefix": 3})) == (
        "spec.containers[0].envFrom[0].prefix: must be a string, got a number"
    )


# --- the reader's bounds -----------------------------------------------------------------------


def test_the_reader_stops_at_its_budget_and_its_count_and_never_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, float | None]] = []

    def slow_get(_api: Any, _v: str, _p: str, _ns: str, name: str, *, timeout: float | None = None) -> Any:
        calls.append((name, timeout))
        if name == "forbidden":
            raise client.ApiException(status=403, reason="Forbidden")
        if name == "gone":
            return None
        if timeout is not None and timeout < 0.2:  # as urllib3 does with a read timeout
            time.sleep(timeout)
            raise urllib3.exceptions.ReadTimeoutError(None, "/api/v1", "read timed out")  # type: ignore[arg-type]
        time.sleep(0.2)
        return {"data": {PORT: "1"}}

    monkeypatch.setattr(rest, "get", slow_get)
    names = ["forbidden", "gone", "a", "b", "c", "d"]
    started = time.monotonic()
    found = configmaps.read_for_env(client.ApiClient(), "shop", names, budget_seconds=0.5, most=5)
    elapsed = time.monotonic() - started

    assert elapsed < 0.7, "the last read is bounded by what was left of the budget"
    assert found["forbidden"] == envfrom.Lookup(problem="not read: 403")
    assert found["gone"] == envfrom.Lookup(missing=True)
    assert found["a"].data == {PORT: "1"}
    assert found["d"] == envfrom.Lookup(problem="not read: over 5 ConfigMaps")
    assert "within 0.5 s" in found["c"].problem, found
    assert all(timeout is not None and 0 < timeout <= 0.5 for _, timeout in calls), calls
