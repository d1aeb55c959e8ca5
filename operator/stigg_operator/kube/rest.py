"""The transport of ``kube``: generic calls the typed client lacks or spreads over many classes.

``load_config`` finds the credentials (in-cluster service account, else the kubeconfig);
``shared_client`` is the one ``ApiClient`` (and connection pool) of the operator's own calls.
Server-side apply (``apply``), get, list and delete for any namespaced kind named by its
``apiVersion`` and plural, through the kubernetes client's ``ApiClient.call_api`` (so the same
credentials and TLS settings; ``get`` takes a timeout, for the admission path). A 404 is
``None`` from ``get`` and ``False`` from ``delete``; other API errors raise
``kubernetes.client.ApiException``, which ``refusal`` turns into the apiserver's own words for
a status message. The other ``kube`` modules are written on these, one per kind of work.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes import config as kubeconfig

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"


def refusal(error: client.ApiException) -> str:
    """What the apiserver said of a refused call: its code and message (``422: ConfigMap ...``)."""
    message = str(error.reason or "")
    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        body = None
    if isinstance(body, Mapping) and body.get("message"):
        message = str(body["message"])
    return f"{error.status}: {message}"


def load_config() -> None:
    """In-cluster service account, else the kubeconfig (as the kubernetes client finds them)."""
    try:
        kubeconfig.load_incluster_config()
    except kubeconfig.ConfigException:
        kubeconfig.load_kube_config()


@functools.cache
def shared_client() -> client.ApiClient:
    """One API client (and its connection pool) for the operator's own calls, made on first use,
    after the kube config is loaded."""
    return client.ApiClient()


def _path(api_version: str, plural: str, namespace: str, name: str | None = None) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{plural}" + (f"/{name}" if name else "")


def _call(
    api: client.ApiClient,
    method: str,
    path: str,
    *,
    query_params: list[tuple[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    timeout: float | None = None,
) -> Any:
    """One request with the client's credentials; the decoded JSON answer, ``ApiException`` if not 2xx.

    ``timeout`` (seconds) bounds connecting and reading each; None: the client's default (none).
    """
    request = api.param_serialize(
        method,
        path,
        query_params=query_params or [],
        header_params={"Accept": "application/json", **(headers or {})},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*request, _request_timeout=timeout)
    data = response.read()
    text = data.decode() if isinstance(data, bytes) else str(data or "")
    if not 200 <= response.status <= 299:
        raise client.ApiException.from_response(http_resp=response, body=text, data=None)
    return json.loads(text) if text else None


def apply(
    api: client.ApiClient,
    api_version: str,
    plural: str,
    body: Mapping[str, Any],
    *,
    manager: str,
    force: bool,
) -> dict[str, Any]:
    """Server-side apply ``body`` (which names the object) as ``manager``; the object after it."""
    metadata = body["metadata"]
    result: dict[str, Any] = _call(
        api,
        "PATCH",
        _path(api_version, plural, metadata["namespace"], metadata["name"]),
        query_params=[("fieldManager", manager), ("force", "true" if force else "false")],
        headers={"Content-Type": APPLY_CONTENT_TYPE},
        body=dict(body),
    )
    return result


def get(
    api: client.ApiClient,
    api_version: str,
    plural: str,
    namespace: str,
    name: str,
    *,
    timeout: float | None = None,
) -> dict[str, Any] | None:
    try:
        path = _path(api_version, plural, namespace, name)
        found: dict[str, Any] = _call(api, "GET", path, timeout=timeout)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return found


def list_items(
    api: client.ApiClient,
    api_version: str,
    plural: str,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
) -> list[dict[str, Any]]:
    """The objects of a kind (in one namespace, or all), as plain dicts with apiVersion and kind."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    query = [("labelSelector", label_selector)] if label_selector else []
    listed: dict[str, Any] = _call(api, "GET", path, query_params=query)
    kind = str(listed.get("kind", "")).removesuffix("List")
    return [{"apiVersion": api_version, "kind": kind, **item} for item in listed.get("items") or ()]


def delete(api: client.ApiClient, api_version: str, plural: str, namespace: str, name: str) -> bool:
    try:
        _call(
            api,
            "DELETE",
            _path(api_version, plural, namespace, name),
            body={"propagationPolicy": "Background"},
            headers={"Content-Type": "application/json"},
        )
    except client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


def create(api: client.ApiClient, api_version: str, plural: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST ``body`` (which names its namespace) as JSON, untouched by the typed models (which
    would re-format a MicroTime); the object created."""
    result: dict[str, Any] = _call(
        api, "POST", _path(api_version, plural, body["metadata"]["namespace"]), body=dict(body)
    )
    return result


def replace(api: client.ApiClient, api_version: str, plural: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """PUT ``body`` (which names the object, and carries the resourceVersion it replaces)."""
    metadata = body["metadata"]
    result: dict[str, Any] = _call(
        api, "PUT", _path(api_version, plural, metadata["namespace"], metadata["name"]), body=dict(body)
    )
    return result
