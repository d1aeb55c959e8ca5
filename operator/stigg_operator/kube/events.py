"""core/v1 Events the operator posts on objects (Pods, workloads): best effort, never failing the work.

``post`` writes one Event about an object given as a dict with ``apiVersion``, ``kind`` and
``metadata``; an API error is logged as a warning and swallowed.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from kubernetes import client

logger = logging.getLogger(__name__)


def post(
    api: client.ApiClient,
    target: Mapping[str, Any],
    *,
    reason: str,
    message: str,
    event_type: str = "Warning",
    component: str = "stigg-operator",
) -> None:
    """A core/v1 Event about ``target`` (an object with apiVersion, kind and metadata)."""
    metadata = target["metadata"]
    now = datetime.datetime.now(datetime.UTC)
    event = {
        "metadata": {
            "name": f"{metadata['name']}.{uuid.uuid4().hex[:12]}",
            "namespace": metadata["namespace"],
        },
        "involvedObject": {
            "apiVersion": target.get("apiVersion", "v1"),
            "kind": target.get("kind", "Pod"),
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata.get("uid"),
        },
        "reason": reason,
        "message": message[:1024],
        "type": event_type,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": component,
        "firstTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "count": 1,
    }
    try:
        client.CoreV1Api(api).create_namespaced_event(metadata["namespace"], event)
    except client.ApiException as error:  # an Event is best effort: never fail the work for it
        logger.warning(
            "could not post event %s on %s/%s: %s",
            reason,
            metadata["namespace"],
            metadata["name"],
            error.reason,
        )
