"""``Upstream`` over Stigg's documented HTTP APIs (and the upstream emulator, which serves them).

* Reads: ``GET {EDGE_API_URL}/v1/c/{customerId}/entitlements-state.json[?resourceId=]`` with
  ``X-API-KEY`` and ``X-API-VERSION: 1``; with ``EDGE_ENABLED=false``, the GraphQL query
  ``GetEntitlementsState`` at ``{API_URL}/graphql`` instead.
* Writes: the GraphQL mutations ``ReportUsage`` / ``ReportUsageBulk`` (each report carrying an
  idempotency key, so a retried request is not counted twice) and ``ReportEvent``.

Requests go over ``httpclient`` (connections kept alive, at most 64; a redirect is not
followed, since the API key would go along, but refused naming its target). Every request has a
timeout; network errors, timeouts, 429 and 5xx are retried a bounded number of times with
full-jitter exponential backoff; a 4xx is not retried. The circuit breaker counts requests that
failed after their retries, and while open refuses at once with ``BreakerOpen``. The API key is
sent in a header only: never logged, never in errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from stigg_sidecar import metrics, model
from stigg_sidecar.upstream import base, breaker, httpclient, parse

logger = logging.getLogger(__name__)

ENTITLEMENT_FIELDS = """
  isGranted accessDeniedReason customerId resourceId usageLimit hasUnlimitedUsage hasSoftLimit
  currentUsage requestedUsage requestedValues enumValues entitlementUpdatedAt usageUpdatedAt
  usagePeriodAnchor usagePeriodStart usagePeriodEnd nextResetDate resetPeriod
  feature { featureType meterType featureUnits featureUnitsPlural refId displayName }
"""
# The current union list (Stigg's FeatureEntitlementFragment and CreditEntitlementFragment).
FEATURE_ENTITLEMENT_FIELDS = """
  isGranted accessDeniedReason usageLimit hasUnlimitedUsage hasSoftLimit currentUsage enumValues
  entitlementUpdatedAt usageUpdatedAt usagePeriodAnchor usagePeriodStart usagePeriodEnd resetPeriod
  feature { featureType meterType featureUnits featureUnitsPlural refId displayName }
"""
CREDIT_ENTITLEMENT_FIELDS = """
  isGranted accessDeniedReason usageLimit currentUsage hasSoftLimit usageUpdatedAt entitlementUpdatedAt
  usagePeriodEnd validUntil
  currency { currencyId displayName description unitSingular unitPlural additionalMetaData }
"""
ENTITLEMENT_UNION_FIELDS = (
    f"__typename ... on FeatureEntitlement {{ {FEATURE_ENTITLEMENT_FIELDS} }}"
    f" ... on CreditEntitlement {{ {CREDIT_ENTITLEMENT_FIELDS} }}"
)
GET_ENTITLEMENTS_STATE = (
    "query GetEntitlementsState($query: FetchEntitlementsQuery!) { entitlementsState(query: $query) {"
    f" entitlements {{ {ENTITLEMENT_FIELDS} }} entitlementsV2 {{ {ENTITLEMENT_UNION_FIELDS} }}"
    " accessDeniedReason } }"
)
USAGE_FIELDS = (
    "id featureId customerId resourceId currentUsage usagePeriodStart usagePeriodEnd nextResetDate timestamp"
)
REPORT_USAGE = (
    f"mutation ReportUsage($input: ReportUsageInput!) {{ reportUsage(input: $input) {{ {USAGE_FIELDS} }} }}"
)
REPORT_USAGE_BULK = (
    "mutation ReportUsageBulk($input: ReportUsageBulkInput!) {"
    f" reportUsageBulk(input: $input) {{ {USAGE_FIELDS} }} }}"
)
REPORT_EVENT = "mutation ReportEvent($input: UsageEventsReportInput!) { reportEvent(events: $input) }"


class _Retryable(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _may_have_applied(error: Exception) -> bool:
    """Whether a failed attempt may have been applied: not if no connection was made, nor if
    the upstream answered an error status (other than a gateway's timeout)."""
    if isinstance(error, httpclient.ConnectError):
        return False
    return not isinstance(error, _Retryable) or error.status == 504


class StiggUpstream:
    def __init__(
        self,
        *,
        api_key: str,
        api_url: str,
        edge_enabled: bool,
        edge_api_url: str,
        timeout: float,
        retries: int,
        circuit: breaker.Breaker,
        sidecar_metrics: metrics.Metrics,
        backoff_base: float = 0.1,
    ) -> None:
        self._headers = {"X-API-KEY": api_key, "X-API-VERSION": "1", "Content-Type": "application/json"}
        self._api_url = api_url.rstrip("/")
        self._edge_enabled = edge_enabled
        self._edge_api_url = edge_api_url.rstrip("/")
        self._timeout = timeout
        self._retries = retries
        self._backoff_base = backoff_base
        self.breaker = circuit
        self._metrics = sidecar_metrics
        self._session: httpclient.Client | None = None

    def _client(self) -> httpclient.Client:
        if self._session is None or self._session.closed:
            self._session = httpclient.Client(self._headers, limit=64)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> bytes:
        if not self.breaker.allow():
            self._metrics.breaker_open.set(1)
            raise base.BreakerOpen("the upstream circuit breaker is open")
        started = time.perf_counter()
        problem = "no attempt"
        reached = False
        try:
            for attempt in range(self._retries + 1):
                if attempt:
                    await asyncio.sleep(random.uniform(0, self._backoff_base * 2 ** (attempt - 1)))  # noqa: S311
                try:
                    return await self._attempt(method, url, params, body)
                except (httpclient.ClientError, TimeoutError, _Retryable) as error:
                    problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                    reached = reached or _may_have_applied(error)
                    logger.debug("upstream %s attempt %d failed: %s", operation, attempt + 1, problem)
            self._metrics.network_error[operation].inc()
            self.breaker.failure()
            self._metrics.breaker_open.set(1 if self.breaker.state is breaker.State.OPEN else 0)
            raise base.UpstreamError(
                f"upstream {operation} failed after {self._retries + 1} attempt(s): {problem}",
                reached=reached,
            )
        finally:
            self._metrics.upstream_latency.labels(operation).observe(time.perf_counter() - started)

    async def _attempt(self, method: str, url: str, params: Mapping[str, str] | None, body: Any) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        async with asyncio.timeout(self._timeout):
            response = await self._client().request(method, url, params=params, data=data)
        content, status = response.body, response.status
        location = response.headers.get("location", "")
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}", status)
        # The upstream answered: it is reachable, whatever it thinks of the request.
        self.breaker.success()
        self._metrics.breaker_open.set(0)
        if status in {401, 403}:
            self._metrics.invalid_api_key.inc()
            raise base.UpstreamRejected(f"the upstream refused the API key (HTTP {status})", status=status)
        if status >= 400:
            raise base.UpstreamRejected(f"the upstream rejected the request (HTTP {status})", status=status)
        if status >= 300:  # not followed: the API key would go wherever it points
            raise base.UpstreamRejected(
                f"the upstream redirected the request (HTTP {status} to {location[:200]!r}): "
                "set the API's URL to where it points",
                status=status,
            )
        return content

    def _skipped(self, typename: str) -> None:
        self._metrics.skipped_items.inc()
        logger.warning("skipping an upstream entitlement of an unknown kind (%.100s)", typename)

    async def _graphql(
        self, operation: str, name: str, query: str, variables: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        content = await self._request(
            operation,
            "POST",
            f"{self._api_url}/graphql",
            body={"operationName": name, "query": query, "variables": variables},
        )
        try:
            return parse.graphql_data(json.loads(content))
        except (ValueError, parse.ParseError) as error:
            raise base.UpstreamRejected(str(error), status=200) from None

    async def fetch(self, key: model.CustomerKey) -> model.EntitlementState:
        if self._edge_enabled:
            customer = urllib.parse.quote(key.customer_id, safe="")
            params = {"resourceId": key.resource_id} if key.resource_id else None
            content = await self._request(
                "fetch", "GET", f"{self._edge_api_url}/v1/c/{customer}/entitlements-state.json", params=params
            )
            try:
                data = parse.graphql_data(json.loads(content))
                state = parse.entitlements_state(key, data.get("entitlementsState"), self._skipped)
            except (ValueError, parse.ParseError) as error:
                raise base.UpstreamError(f"the Edge API answered with an unexpected body: {error}") from None
            return state
        query = {
            "customerId": key.customer_id,
            **({"resourceId": key.resource_id} if key.resource_id else {}),
        }
        data = await self._graphql("fetch", "GetEntitlementsState", GET_ENTITLEMENTS_STATE, {"query": query})
        try:
            state = parse.entitlements_state(key, data.get("entitlementsState"), self._skipped)
        except parse.ParseError as error:
            raise base.UpstreamError(f"the GraphQL API answered with an unexpected body: {error}") from None
        return state

    async def report_usage(self, reports: Sequence[model.UsageReport]) -> list[model.UsageResult]:
        inputs = [_usage_input(report) for report in reports]
        if len(inputs) == 1:
            data = await self._graphql("report_usage", "ReportUsage", REPORT_USAGE, {"input": inputs[0]})
            raw_results: Any = [data.get("reportUsage")]
        else:
            data = await self._graphql(
                "report_usage", "ReportUsageBulk", REPORT_USAGE_BULK, {"input": {"usages": inputs}}
            )
            raw_results = data.get("reportUsageBulk")
        if not isinstance(raw_results, list) or len(raw_results) != len(reports):
            raise base.UpstreamError("the upstream's usage answer does not match the reports sent")
        return [_usage_result(raw, report) for raw, report in zip(raw_results, reports, strict=True)]

    async def report_events(self, events: Sequence[model.UsageEvent]) -> None:
        payload = [
            {
                "eventName": event.event_name,
                "customerId": event.customer_id,
                "idempotencyKey": event.idempotency_key,
                "resourceId": event.resource_id,
                "dimensions": dict(event.dimensions),
                "timestamp": event.timestamp.isoformat() if event.timestamp else None,
            }
            for event in events
        ]
        await self._graphql("report_events", "ReportEvent", REPORT_EVENT, {"input": {"usageEvents": payload}})


def _usage_input(report: model.UsageReport) -> dict[str, Any]:
    return {
        "customerId": report.customer_id,
        "featureId": report.feature_id,
        "value": report.value,
        "updateBehavior": "SET" if report.set_total else "DELTA",
        "idempotencyKey": report.idempotency_key or str(uuid.uuid4()),
        "resourceId": report.resource_id,
        "dimensions": dict(report.dimensions),
        "createdAt": report.timestamp.isoformat() if report.timestamp else None,
    }


def _usage_result(raw: object, report: model.UsageReport) -> model.UsageResult:
    if not isinstance(raw, Mapping):
        raise base.UpstreamError("the upstream's usage answer is not an object")
    current = raw.get("currentUsage")
    try:
        return model.UsageResult(
            measurement_id=str(raw.get("id") or ""),
            customer_id=str(raw.get("customerId") or report.customer_id),
            feature_id=str(raw.get("featureId") or report.feature_id),
            resource_id=raw.get("resourceId") or report.resource_id,
            current_usage=float(current) if isinstance(current, int | float) else None,
            usage_period_start=parse.timestamp(raw.get("usagePeriodStart")),
            usage_period_end=parse.timestamp(raw.get("usagePeriodEnd")),
        )
    except parse.ParseError as error:
        raise base.UpstreamError(f"the upstream's usage answer is malformed: {error}") from None
