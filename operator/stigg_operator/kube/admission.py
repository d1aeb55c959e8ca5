"""The MutatingWebhookConfiguration: created the first time, then replaced whole (CA and rules)
by the leader, or only its ``caBundle`` by any replica that must be trusted (``trust``).

Not applied: the RBAC lets the operator create one and ``update`` only its own by name, never
``patch`` it. A replace carries the live ``resourceVersion``, so a concurrent edit conflicts.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from kubernetes import client


def put_webhook_configuration(api: client.ApiClient, body: Mapping[str, Any]) -> None:
    """Create the configuration ``body`` names, or replace it if it exists."""
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


def bundles(api: client.ApiClient, name: str) -> list[bytes] | None:
    """Each webhook's caBundle (PEM), or None if there is no such configuration."""
    try:
        existing = client.AdmissionregistrationV1Api(api).read_mutating_webhook_configuration(name)
    except client.ApiException as error:
        if error.status != 404:
            raise
        return None
    return [base64.b64decode(hook.client_config.ca_bundle or "") for hook in existing.webhooks or []]


def trust(api: client.ApiClient, name: str, bundle: bytes) -> bool:
    """Set every webhook's caBundle to ``bundle`` (rules and policies untouched); False if there
    is no such configuration."""
    admission = client.AdmissionregistrationV1Api(api)
    try:
        existing = admission.read_mutating_webhook_configuration(name)
    except client.ApiException as error:
        if error.status != 404:
            raise
        return False
    encoded = base64.b64encode(bundle).decode()
    for hook in existing.webhooks or []:
        hook.client_config.ca_bundle = encoded
    admission.replace_mutating_webhook_configuration(name, existing)
    return True
