"""The MutatingWebhookConfiguration: created the first time, then replaced whole (CA and rules).

Not applied: the RBAC lets the operator create one and ``update`` only its own by name, never
``patch`` it. The replace carries the live ``resourceVersion``, so a concurrent edit conflicts.
"""

from __future__ import annotations

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
