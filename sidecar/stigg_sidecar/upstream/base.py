"""The upstream interface the checker depends on, and the errors it may raise."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Protocol

from stigg_sidecar import model


class UpstreamError(Exception):
    """The upstream could not answer (unreachable, timed out, failing, or the breaker is open)."""


class UpstreamUnavailable(UpstreamError):
    """The circuit breaker is open: the upstream was not even tried."""


class UpstreamRejected(UpstreamError):
    """The upstream answered but refused the request (bad API key, invalid input)."""

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclasses.dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched entitlement state and the size of the body it came from (for the cache bound)."""

    state: model.EntitlementState
    size: int


DimensionValue = str | float | bool


@dataclasses.dataclass(frozen=True, slots=True)
class UsageReport:
    customer_id: str
    feature_id: str
    value: float
    resource_id: str | None = None
    set_total: bool = False  # SET (the new total) rather than DELTA (a change)
    dimensions: Mapping[str, DimensionValue] = dataclasses.field(default_factory=dict)
    timestamp: datetime.datetime | None = None
    idempotency_key: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class UsageResult:
    measurement_id: str
    customer_id: str
    feature_id: str
    resource_id: str | None
    current_usage: float | None
    usage_period_start: datetime.datetime | None = None
    usage_period_end: datetime.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class UsageEvent:
    event_name: str
    customer_id: str
    idempotency_key: str
    resource_id: str | None = None
    dimensions: Mapping[str, DimensionValue] = dataclasses.field(default_factory=dict)
    timestamp: datetime.datetime | None = None


class Upstream(Protocol):
    """What the sidecar needs from Stigg (or from the upstream emulator)."""

    async def fetch(self, key: model.CustomerKey) -> Fetched:
        """The customer's (or resource's) entitlement state; unknown customers are a state too."""
        ...

    async def report_usage(self, reports: Sequence[UsageReport]) -> list[UsageResult]: ...

    async def report_events(self, events: Sequence[UsageEvent]) -> None: ...

    async def close(self) -> None: ...
