"""``adapters.register`` installs exactly the operator's handlers on a fresh kopf registry: the
expected ids, resources, causes and filters, each a plain module-level function of
``adapters`` with the settings (and the shared ledger and metrics) bound in. Pure: nothing runs."""

from __future__ import annotations

import functools
from typing import Any

import kopf
import pytest

from stigg_operator import adapters, keys, leadership, metrics, opt_in, settings, upkeep
from stigg_operator.adapters import indexes, lifecycle, resources, webhook, workload_events

CONFIG = settings.Settings(namespace="ops-system")


def _elector(leading: bool = True) -> leadership.Elector:
    elector = leadership.Elector(
        lambda: None,  # type: ignore[arg-type,return-value]  # never called: nothing runs
        "ops-system",
        "stigg-operator",
        "me",
        leadership.Timing.from_lease_duration(15),
    )
    elector.leading = leading
    return elector


ELECTOR = _elector()
INSTRUMENTS = metrics.Metrics()


@pytest.fixture
def registry() -> kopf.OperatorRegistry:
    fresh = kopf.OperatorRegistry()
    adapters.register(fresh, CONFIG, ELECTOR, INSTRUMENTS)
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
    assert _target(handler) is webhook.admit, "inject, timed and counted"
    bound = _bound(handler)
    assert set(bound) == {"config", "list_serving", "instruments"}
    assert bound["config"] == CONFIG
    assert bound["instruments"] is INSTRUMENTS
    assert bound["list_serving"].__qualname__ == "api_lister.<locals>.listed", "the API, on an index miss"


def test_the_indexes(registry: kopf.OperatorRegistry) -> None:
    handlers = _handlers(registry, "indexing")
    by_id = {h.id: h for h in handlers}
    assert set(by_id) == {"entitlements", "injected", "opt_ins"}
    assert _resource(by_id["entitlements"]) == SE
    assert _target(by_id["entitlements"]) is indexes.entitlements
    assert _resource(by_id["injected"]) == ("", "v1", "pods")
    assert by_id["injected"].labels == {keys.INJECTED_LABEL: "true"}
    assert _target(by_id["injected"]) is indexes.injected
    opt_ins = [h for h in handlers if h.id == "opt_ins"]
    assert sorted(_resource(h) for h in opt_ins) == [
        ("apps", "v1", "daemonsets"),
        ("apps", "v1", "deployments"),
        ("apps", "v1", "statefulsets"),
    ], "one index of pending opt-ins over every rollable kind"
    assert all(_target(h) is workload_events.pending_opt_in for h in opt_ins)


def test_no_change_handlers_only_a_stateless_reconcile_on_every_event(
    registry: kopf.OperatorRegistry,
) -> None:
    assert _handlers(registry, "changing") == [], "no kopf progress or diff-base written by any replica"
    (reconcile,) = [h for h in _handlers(registry, "watching") if _resource(h) == SE]
    assert reconcile.id == "reconcile_resource"
    assert _target(reconcile) is resources.reconcile_resource
    bound = _bound(reconcile)
    assert bound["config"] is CONFIG
    assert bound["elector"] is ELECTOR
    assert bound["instruments"] is INSTRUMENTS
    assert isinstance(bound["ledger"], upkeep.Ledger)
    (startup,) = [h for h in _handlers(registry, "activities") if h.id == "startup"]
    assert bound["ledger"] is _bound(startup)["ledger"], "one ledger, shared with the periodic refresh"
    assert _bound(startup)["elector"] is ELECTOR
    assert _bound(startup)["instruments"] is INSTRUMENTS, "the one the refresh and /metrics use"


def test_any_namespace_event_marks_the_indexes_ready(registry: kopf.OperatorRegistry) -> None:
    (handler,) = [h for h in _handlers(registry, "watching") if _resource(h) == ("", "v1", "namespaces")]
    assert handler.id == "indexes_ready"
    assert _target(handler) is resources.indexes_ready
    memo = kopf.Memo(shared={})
    resources.indexes_ready(memo=memo, entitlements={}, injected={}, opt_ins={})
    assert set(memo["shared"]["indexes"]) == {"entitlements", "injected", "opt_ins"}


def test_the_workload_opt_in_watches_each_rollable_kind(registry: kopf.OperatorRegistry) -> None:
    watching = [h for h in _handlers(registry, "watching") if _resource(h)[0] == "apps"]
    assert sorted((h.id, _resource(h)) for h in watching) == [
        ("opt-in-daemonsets", ("apps", "v1", "daemonsets")),
        ("opt-in-deployments", ("apps", "v1", "deployments")),
        ("opt-in-statefulsets", ("apps", "v1", "statefulsets")),
    ]
    for handler in watching:
        assert _target(handler) is workload_events.opt_in_event
        assert _bound(handler)["skipped"] == keys.SYSTEM_NAMESPACES | {"ops-system"}
        assert _bound(handler)["elector"] is ELECTOR
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
    adapters.register(first, CONFIG, ELECTOR, INSTRUMENTS)
    adapters.register(second, settings.Settings(), ELECTOR, INSTRUMENTS)
    assert len(list(first._webhooks.get_all_handlers())) == 1, "registering twice elsewhere adds nothing here"
    (inject,) = second._webhooks.get_all_handlers()
    assert inject.fn.keywords["config"] == settings.Settings()


def test_the_opt_in_event_skips_what_it_must_not_touch(monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    skipped = frozenset({"kube-system"})

    def call(
        body: dict[str, Any], event_type: str = "MODIFIED", namespace: str = "shop", leading: bool = True
    ) -> None:
        workload_events.opt_in_event(
            body=kopf.Body(body),
            type=event_type,
            namespace=namespace,
            memo=kopf.Memo(shared={}),
            skipped=skipped,
            reported=set(),
            elector=_elector(leading),
            entitlements={},
            injected={},
            opt_ins={},
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
    call(workload, leading=False)
    assert synced == [], "and a replica that does not lead writes nothing"
    call(workload)
    assert synced == ["web"]
