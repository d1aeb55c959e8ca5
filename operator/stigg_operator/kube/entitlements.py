"""StiggEntitlements read from the API, for the one moment kopf's index may not hold them yet.

The webhook chooses a Pod's resource from kopf's in-memory index. Right after the operator
starts, the apiserver may already call the webhook (its configuration outlives the operator)
while kopf is still listing StiggEntitlements into that index: a Pod of a well-configured
namespace would be denied. ``serving_candidates`` reads what could serve a namespace (its own
resources and cluster-default) from the API, in the index's own shape (``reconciler.entry``),
so the webhook can confirm a miss before denying. A hit never comes here. Both are lists (of
the namespace, and of the operator's namespace for cluster-default): the operator's RBAC grants
``list`` and ``watch`` on StiggEntitlements, as kopf needs, and no ``get``.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from stigg_operator import keys, reconciler
from stigg_operator.kube import rest

API_VERSION = f"{keys.GROUP}/{keys.VERSION}"


def serving_candidates(
    api: client.ApiClient, namespace: str, operator_namespace: str
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The namespace's StiggEntitlements and cluster-default, keyed as the index keys them."""
    found = rest.list_items(api, API_VERSION, keys.PLURAL, namespace=namespace)
    if namespace != operator_namespace:  # listed, not got: the RBAC grants list and watch only
        listed = rest.list_items(api, API_VERSION, keys.PLURAL, namespace=operator_namespace)
        found += [body for body in listed if body["metadata"]["name"] == keys.CLUSTER_DEFAULT_NAME]
    return {
        (body["metadata"]["namespace"], body["metadata"]["name"]): [reconciler.entry(body)] for body in found
    }
