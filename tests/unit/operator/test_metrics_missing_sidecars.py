"""``stigg_operator_missing_sidecars``: the drift scan's finding (``upkeep.find_missing``: Pods by
the resource that would serve them) counted by each Pod's own namespace; each scan replaces the
last, and a follower exports none. Pure."""

from __future__ import annotations

from typing import Any

from stigg_operator import metrics


def _pod(namespace: str, name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}}


def test_pods_are_counted_by_their_own_namespace() -> None:
    found = {
        ("shop", "entitlements"): [_pod("shop", "a"), _pod("shop", "b")],
        ("stigg-system", "cluster-default"): [_pod("billing", "c"), _pod("shop", "d")],
    }
    assert metrics.missing_by_namespace(found) == {"shop": 3, "billing": 1}
    assert metrics.missing_by_namespace({}) == {}


def test_each_scan_replaces_the_last_and_a_lost_lease_clears_it() -> None:
    instruments = metrics.Metrics()
    value = instruments.registry.get_sample_value
    instruments.count_missing({("shop", "x"): [_pod("shop", "a")], ("web", "x"): [_pod("web", "b")]})
    assert value("stigg_operator_missing_sidecars", {"namespace": "shop"}) == 1
    assert value("stigg_operator_missing_sidecars", {"namespace": "web"}) == 1
    instruments.count_missing({("shop", "x"): [_pod("shop", "a"), _pod("shop", "c")]})
    assert value("stigg_operator_missing_sidecars", {"namespace": "shop"}) == 2
    assert value("stigg_operator_missing_sidecars", {"namespace": "web"}) is None, "none left there"
    instruments.leadership_changed(False)
    assert value("stigg_operator_missing_sidecars", {"namespace": "shop"}) is None
