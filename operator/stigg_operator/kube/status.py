"""The status subresource of a StiggEntitlements: one merge patch per reconcile.

A merge patch rather than an apply: a block set to ``None`` (``reconcile.status``'s ``extra``)
removes itself, and kopf writes its own fields beside ours. A resource deleted meanwhile has
nothing to report on (404 ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client

from stigg_operator import keys


def patch(api: client.ApiClient, namespace: str, name: str, status: Mapping[str, Any]) -> None:
    try:
        client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
            keys.GROUP, keys.VERSION, namespace, keys.PLURAL, name, {"status": dict(status)}
        )
    except client.ApiException as error:
        if error.status != 404:  # deleted meanwhile: nothing to report on
            raise
