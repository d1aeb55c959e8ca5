"""The MutatingWebhookConfiguration: created the first time, then replaced whole (CA and rules)
by the leader, or only its ``clientConfig`` (where the webhook is, and its caBundle) by any
replica that must be reached and trusted (``point``).

Not applied: the RBAC lets the operator create one and ``update`` only its own by name, never
``patch`` it. A replace carries the live ``resourceVersion``, so a concurrent edit conflicts;
replicas starting together, or one starting while the leader registers, do conflict, so both
writes read again and retry a few times (``RETRIES``) on a 409, never overwriting blindly.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kubernetes import client

RETRIES = 5
T = TypeVar("T")


def _retrying_conflicts(write: Callable[[], T]) -> T:
    """``write()`` (which reads what it replaces), again after a 409, up to ``RETRIES`` times."""
    for attempt in range(RETRIES):
        try:
            return write()
        except client.ApiException as error:
            if error.status != 409 or attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def put_webhook_configuration(api: client.ApiClient, body: Mapping[str, Any]) -> None:
    """Create the configuration ``body`` names, or replace it if it exists."""
    _retrying_conflicts(lambda: _put(api, body))


def _put(api: client.ApiClient, body: Mapping[str, Any]) -> None:
    admission = client.AdmissionregistrationV1Api(api)
    name = body["metadata"]["name"]
    try:
        existing = admission.read_mutating_webhook_configuration(name)
    except client.ApiException as error:
        if error.status != 404:
            raise
        admission.create_mutating_webhook_configuration(dict(body))
        return
    replacement = {
        **body,
        "metadata": {**body["metadata"], "resourceVersion": existing.metadata.resource_version},
    }
    admission.replace_mutating_webhook_configuration(name, replacement)


def client_configs(api: client.ApiClient, name: str) -> list[dict[str, Any]] | None:
    """Each webhook's clientConfig (API field names, caBundle as base64), or None if there is no
    such configuration."""
    try:
        existing = client.AdmissionregistrationV1Api(api).read_mutating_webhook_configuration(name)
    except client.ApiException as error:
        if error.status != 404:
            raise
        return None
    return [api.sanitize_for_serialization(hook.client_config) for hook in existing.webhooks or []]


def bundles(api: client.ApiClient, name: str) -> list[bytes] | None:
    """Each webhook's caBundle (PEM), or None if there is no such configuration."""
    found = client_configs(api, name)
    return None if found is None else [base64.b64decode(c.get("caBundle") or "") for c in found]


def point(api: client.ApiClient, name: str, client_config: Mapping[str, Any]) -> bool:
    """Set every webhook's clientConfig (where the webhook is, and the caBundle), its rules and
    policies untouched; False if there is no such configuration."""
    return _retrying_conflicts(lambda: _point(api, name, client_config))


def _point(api: client.ApiClient, name: str, client_config: Mapping[str, Any]) -> bool:
    admission = client.AdmissionregistrationV1Api(api)
    try:
        existing = admission.read_mutating_webhook_configuration(name)
    except client.ApiException as error:
        if error.status != 404:
            raise
        return False
    body = api.sanitize_for_serialization(existing)
    for hook in body.get("webhooks") or []:
        hook["clientConfig"] = dict(client_config)
    admission.replace_mutating_webhook_configuration(name, body)
    return True
