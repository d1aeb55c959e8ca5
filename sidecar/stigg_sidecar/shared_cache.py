"""The optional Redis layer between the in-process cache and the upstream (Stigg's ``REDIS_*``).

Replicas share warm entries, and a restarted sidecar starts warm: every upstream fetch is
written to Redis, and an in-process miss reads Redis before going upstream. Stream events are
written too (``realtime``): an entitlements event replaces the entry (as of now), a usage event
updates it in place (keeping its fetch time); an entry no replica holds is only ever updated,
never created, by an event (``SET XX``), so Redis holds what replicas asked for. Keys are
namespaced by ``REDIS_ENVIRONMENT_PREFIX`` and expire after ``REDIS_KEYS_TTL_IN_SECS`` (-1:
never). A Redis entry carries the time it was fetched: younger than the in-process TTL, it
answers like a fresh fetch; older, the upstream is asked and the Redis entry is kept as a stale
fallback should the upstream fail.

Redis is never on the critical path of an answer: every call has a short timeout, and any
error (Redis down, restarting, unreachable) counts in ``sidecar_redis_client_errors_total``,
is logged once per outage, and degrades to in-process caching. The client reconnects by itself
when Redis returns.

Redis's client (redis-py, about 7 MiB of the process) is imported only when a ``SharedCache``
is built, i.e. when Redis is configured; the codec needs none of it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from stigg_sidecar import footprint, metrics, model, settings

logger = logging.getLogger(__name__)
_TIMEOUT_SECONDS = 0.25


@dataclasses.dataclass(frozen=True, slots=True)
class SharedEntry:
    state: model.EntitlementState
    fetched_at: float  # wall-clock seconds, comparable across replicas


def _encode_entitlement(value: model.Entitlement) -> dict[str, Any]:
    feature = value.feature
    return {
        "feature": {
            "id": feature.id,
            "type": feature.feature_type.value,
            "meter": feature.meter_type.value,
            "units": feature.units,
            "unitsPlural": feature.units_plural,
        },
        "granted": value.is_granted,
        "reason": None if value.denied_reason is None else value.denied_reason.name,
        "limit": value.usage_limit,
        "unlimited": value.is_unlimited,
        "soft": value.has_soft_limit,
        "usage": value.current_usage,
        "enum": list(value.enum_values),
        "reset": None if value.reset_period is None else value.reset_period.value,
        "anchor": _when(value.usage_period_anchor),
        "start": _when(value.usage_period_start),
        "end": _when(value.usage_period_end),
    }


def _when(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_when(value: str | None) -> datetime.datetime | None:
    return None if value is None else datetime.datetime.fromisoformat(value)


def _decode_entitlement(raw: dict[str, Any]) -> model.Entitlement:
    feature = raw["feature"]
    return model.Entitlement(
        feature=model.Feature(
            id=feature["id"],
            feature_type=model.FeatureType(feature["type"]),
            meter_type=model.MeterType(feature["meter"]),
            units=feature["units"],
            units_plural=feature["unitsPlural"],
        ),
        is_granted=raw["granted"],
        denied_reason=None if raw["reason"] is None else model.DeniedReason[raw["reason"]],
        usage_limit=raw["limit"],
        is_unlimited=raw["unlimited"],
        has_soft_limit=raw["soft"],
        current_usage=raw["usage"],
        enum_values=tuple(raw["enum"]),
        reset_period=None if raw["reset"] is None else model.ResetPeriod(raw["reset"]),
        usage_period_anchor=_parse_when(raw["anchor"]),
        usage_period_start=_parse_when(raw["start"]),
        usage_period_end=_parse_when(raw["end"]),
    )


def _encode_credit(value: model.CreditEntitlement) -> dict[str, Any]:
    currency = value.currency
    return {
        "currency": {
            "id": currency.id,
            "name": currency.display_name,
            "description": currency.description,
            "unit": currency.unit_singular,
            "units": currency.unit_plural,
            "metadata": None if currency.metadata is None else dict(currency.metadata),
        },
        "granted": value.is_granted,
        "reason": None if value.denied_reason is None else value.denied_reason.name,
        "limit": value.usage_limit,
        "usage": value.current_usage,
        "soft": value.has_soft_limit,
        "end": _when(value.usage_period_end),
    }


def _decode_credit(raw: dict[str, Any]) -> model.CreditEntitlement:
    currency = raw["currency"]
    return model.CreditEntitlement(
        currency=model.Currency(
            id=currency["id"],
            display_name=currency["name"],
            description=currency["description"],
            unit_singular=currency["unit"],
            unit_plural=currency["units"],
            metadata=currency["metadata"],
        ),
        is_granted=raw["granted"],
        denied_reason=None if raw["reason"] is None else model.DeniedReason[raw["reason"]],
        usage_limit=raw["limit"],
        current_usage=raw["usage"],
        has_soft_limit=raw["soft"],
        usage_period_end=_parse_when(raw["end"]),
    )


def encode(entry: SharedEntry) -> bytes:
    state = entry.state
    return json.dumps(
        {
            "v": 1,
            "fetchedAt": entry.fetched_at,
            "size": footprint.of_state(state),  # required by 0.1.0 readers, ignored since
            "customerId": state.key.customer_id,
            "resourceId": state.key.resource_id,
            "reason": None if state.denied_reason is None else state.denied_reason.name,
            "entitlements": [_encode_entitlement(e) for e in state.entitlements.values()],
            "credits": [_encode_credit(c) for c in state.credits.values()],
        },
        separators=(",", ":"),
    ).encode()


def decode(raw: bytes | str) -> SharedEntry:
    document = json.loads(raw)
    if document.get("v") != 1:
        raise ValueError(f"unknown shared-cache format {document.get('v')!r}")
    entitlements = [_decode_entitlement(e) for e in document["entitlements"]]
    state = model.EntitlementState(
        key=model.CustomerKey(document["customerId"], document["resourceId"]),
        entitlements={e.feature.id: e for e in entitlements},
        denied_reason=None if document["reason"] is None else model.DeniedReason[document["reason"]],
        credits={c.currency.id: c for c in map(_decode_credit, document.get("credits", []))},
    )
    return SharedEntry(state=state, fetched_at=float(document["fetchedAt"]))


class SharedCache:
    def __init__(self, config: settings.RedisSettings, sidecar_metrics: metrics.Metrics) -> None:
        self._prefix = config.environment_prefix
        self._ttl = None if config.keys_ttl_seconds < 0 else config.keys_ttl_seconds
        self._metrics = sidecar_metrics
        self._healthy = True
        # Imported here, so that a sidecar without Redis never loads its client.
        import redis.asyncio as redis_asyncio  # noqa: PLC0415
        from redis.asyncio.retry import Retry  # noqa: PLC0415
        from redis.backoff import NoBackoff  # noqa: PLC0415
        from redis.exceptions import RedisError  # noqa: PLC0415

        self._errors = (RedisError, OSError)
        self._client = redis_asyncio.Redis(
            host=config.host,
            port=config.port,
            db=config.db,
            username=config.username,
            password=config.password,
            ssl=config.tls,
            socket_timeout=_TIMEOUT_SECONDS,
            socket_connect_timeout=_TIMEOUT_SECONDS,
            # No retries with backoff (redis-py's default spends seconds on a dead server): a
            # failed call falls through to the upstream at once; the next call reconnects.
            retry=Retry(NoBackoff(), 0),
        )

    def key(self, key: model.CustomerKey) -> str:
        return f"{self._prefix}:stigg-sidecar:v1:entitlements:{key.customer_id}:{key.resource_id or ''}"

    def _failed(self, action: str, error: Exception) -> None:
        self._metrics.redis_errors.inc()
        if self._healthy:
            logger.warning("redis %s failed, serving from the in-process cache meanwhile: %s", action, error)
        self._healthy = False

    def _ok(self) -> None:
        if not self._healthy:
            logger.info("redis is reachable again")
        self._healthy = True

    async def get(self, key: model.CustomerKey) -> SharedEntry | None:
        try:
            raw = await self._client.get(self.key(key))
        except self._errors as error:
            self._failed("read", error)
            return None
        self._ok()
        if raw is None:
            return None
        try:
            return decode(raw)
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("ignoring an unreadable shared-cache entry for %s: %s", key.customer_id, error)
            return None

    async def put(self, state: model.EntitlementState, *, only_if_present: bool = False) -> None:
        """Write a state current as of now (``only_if_present``: only over an existing entry)."""
        entry = SharedEntry(state=state, fetched_at=time.time())
        try:
            await self._client.set(self.key(state.key), encode(entry), ex=self._ttl, xx=only_if_present)
        except self._errors as error:
            self._failed("write", error)
            return
        self._ok()

    async def update(
        self, key: model.CustomerKey, change: Callable[[model.EntitlementState], model.EntitlementState]
    ) -> None:
        """Change an existing entry in place (its fetch time and expiry kept); absent: nothing."""
        entry = await self.get(key)
        if entry is None:
            return
        updated = dataclasses.replace(entry, state=change(entry.state))
        try:
            await self._client.set(self.key(key), encode(updated), xx=True, keepttl=True)
        except self._errors as error:
            self._failed("write", error)
            return
        self._ok()

    async def delete(self, key: model.CustomerKey) -> None:
        try:
            await self._client.delete(self.key(key))
        except self._errors as error:
            self._failed("delete", error)
            return
        self._ok()

    async def close(self) -> None:
        await self._client.aclose()
