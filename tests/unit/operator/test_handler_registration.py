"""``adapters.register`` installs exactly the operator's handlers on a fresh kopf registry: the
expected ids, resources, causes and filters, each a plain module-level function of
``adapters`` with the settings (and the shared ledger) bound in. Pure: nothing runs."""

from __future__ import annotations

import functools
from typing import Any

import kopf
import pytest

from stigg_operator import adapters, keys, opt_in, settings, upkeep
from stigg_operator.adapters import indexes, lifecycle, resources, webhook, workload_events

CONFIG = settings.Settings(namespace="ops-system")


@pytest.fixture
def registry() -> kopf.OperatorRegistry:
    fresh = kopf.OperatorRegistry()
    adapters.register(fresh, CONFIG)
    return fresh


def _handlers(registry: kopf.OperatorRegistry, kind: str) -> list[Any]:
    registries = {
        "activities": registry._activities,
        "indexing": registry._indexing,
        "watching": registry._watching,
        "changing": registry._changing,
        "webhooks": registry._webhooks,
    }
    return list(registries[kind].get_all_handlers())


def _resource(handler: Any) -> tuple[str | None, str | None, str | None]:
    selector = handler.selector
    return selector.group, selector.version, selector.any_name


def _target(handler: Any) -> Any:
    """The module-level function behind a handler (unwrapping the partial that binds settings)."""
    fn = handler.fn
    return fn.func if isinstance(fn, functools.partial) else fn


def _bound(handler: Any) -> dict[str, Any]:
    return dict(handler.fn.keywords) if isinstance(handler.fn, functools.partial) else {}


SE = (keys.GROUP, keys.VERSION, keys.PLURAL)


def test_the_admission_handler_is_inject_on_pod_creation(registry: kopf.OperatorRegistry) -> None:
    (handler,) = _handlers(registry, "webhooks")
    assert handler.id == "inject", "the id is the webhook's path: /inject in webhookconfig"
    assert _resource(handler) == ("", "v1", "pods")
    assert handler.operations == frozenset({"CREATE"})
    assert str(handler.reason) == "mutating"
    assert _target(handler) is webhook.inject
    bound = _bound(handler)
    assert set(bound) == {"config", "list_serving"}
    assert bound["config"] == CONFIG
    assert bound["list_serving"].__qualname__ == "api_lister.<locals>.listed", "the API, on an index miss"


def test_the_two_indexes(registry: kopf.OperatorRegistry) -> None:
    by_id = {h.id: h for h in _handlers(registry, "indexing")}
    assert set(by_id) == {"entitlements", "injected"}
    assert _resource(by_id["entitlements"]) == SE
    assert _target(by_id["entitlements"]) is indexes.entitlements
    assert _resource(by_id["injected"]) == ("", "v1", "pods")
    assert by_id["injected"].labels == {keys.INJECTED_LABEL: "true"}
    assert _target(by_id["injected"]) is indexes.injected


def test_the_reconciler_on_create_spec_update_and_resume(registry: kopf.OperatorRegistry) -> None:
    changing = _handlers(registry, "changing")
    assert sorted((h.id, str(h.reason), h.field) for h in changing) == sorted(
        [
            ("reconcile_resource", str(kopf.Reason.CREATE), None),
            ("reconcile_resource/spec", str(kopf.Reason.UPDATE), ("spec",)),
            ("reconcile_resource", "None", None),
        ]
    )
    resume = next(h for h in changing if h.reason is None)
    assert resume.initial is True, "resume: every existing resource once at start"
    ledgers = set()
    for handler in changing:
        assert _resource(handler) == SE
        assert _target(handler) is resources.reconcile_resource
        bound = _bound(handler)
        assert bound["config"] is CONFIG
        assert isinstance(bound["ledger"], upkeep.Ledger)
        ledgers.add(id(bound["ledger"]))
    (startup,) = [h for h in _handlers(registry, "activities") if h.id == "startup"]
    assert ledgers == {id(_bound(startup)["ledger"])}, "one ledger, shared with the periodic refresh"


def test_the_workload_opt_in_watches_each_rollable_kind(registry: kopf.OperatorRegistry) -> None:
    watching = _handlers(registry, "watching")
    assert sorted((h.id, _resource(h)) for h in watching) == [
        ("opt-in-daemonsets", ("apps", "v1", "daemonsets")),
        ("opt-in-deployments", ("apps", "v1", "deployments")),
        ("opt-in-statefulsets", ("apps", "v1", "statefulsets")),
    ]
    for handler in watching:
        assert _target(handler) is workload_events.opt_in_event
        assert _bound(handler)["skipped"] == keys.SYSTEM_NAMESPACES | {"ops-system"}
    assert len({id(_bound(h)["reported"]) for h in watching}) == 1, "one memory of reported problems"


def test_login_startup_and_cleanup(registry: kopf.OperatorRegistry) -> None:
    activities = {h.id: h for h in _handlers(registry, "activities")}
    assert set(activities) == {"login", "startup", "cleanup"}
    assert {name: handler.activity.value for name, handler in activities.items()} == {
        "login": "authentication",
        "startup": "startup",
        "cleanup": "cleanup",
    }
    assert _target(activities["login"]) is lifecycle.login
    assert _target(activities["startup"]) is lifecycle.startup
    assert _bound(activities["startup"])["config"] is CONFIG
    assert _target(activities["cleanup"]) is lifecycle.cleanup


def test_a_fresh_registry_per_call() -> None:
    first, second = kopf.OperatorRegistry(), kopf.OperatorRegistry()
    adapters.register(first, CONFIG)
    adapters.register(second, settings.Settings())
    assert len(list(first._webhooks.get_all_handlers())) == 1, "registering twice elsewhere adds nothing here"
    (inject,) = second._webhooks.get_all_handlers()
    assert inject.fn.keywords["config"] == settings.Settings()


def test_the_opt_in_event_skips_what_it_must_not_touch(monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    skipped = frozenset({"kube-system"})

    def call(body: dict[str, Any], event_type: str = "MODIFIED", namespace: str = "shop") -> None:
        workload_events.opt_in_event(
            body=kopf.Body(body), type=event_type, namespace=namespace, skipped=skipped, reported=set()
        )

    workload = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
    }
    standalone = {
        **workload,
        "metadata": {
            **workload["metadata"],
            "ownerReferences": [{"kind": keys.KIND, "name": "x", "uid": "u"}],
        },
    }
    deleting = {**workload, "metadata": {**workload["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}

    def sync(api: Any, body: dict[str, Any], reported: set[tuple[str, str]]) -> bool:
        synced.append(body["metadata"]["name"])
        return False

    monkeypatch.setattr(opt_in, "sync", sync)
    call(workload, event_type="DELETED")
    call(workload, namespace="kube-system")
    call(standalone)
    call(deleting)
    assert synced == []
    call(workload)
    assert synced == ["web"]
