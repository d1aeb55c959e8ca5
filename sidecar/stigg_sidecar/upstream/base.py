"""The upstream interface the entitlement store and the outbox drainer depend on, and the errors
it may raise. The usage reports and events it carries are domain types (``model``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from stigg_sidecar import model


class UpstreamError(Exception):
    """The upstream could not answer (unreachable, timed out, failing, or the breaker is open).

    ``reached``: whether a write may have been applied anyway (a timeout, a dropped connection,
    a gateway timeout); False when the upstream was not tried or answered an error status
    that says it did not apply it."""

    def __init__(self, message: str, *, reached: bool = True) -> None:
        super().__init__(message)
        self.reached = reached


class BreakerOpen(UpstreamError):
    """The circuit breaker is open: the upstream was not even tried."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reached=False)


class QueueFull(UpstreamError):
    """Too many loads already wait for an upstream slot: this one was not even queued."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reached=False)


class UpstreamRejected(UpstreamError):
    """The upstream answered but refused the request (bad API key, invalid input)."""

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message, reached=False)
        self.status = status
        self.code = code


class Upstream(Protocol):
    """What the sidecar needs from Stigg (or from the upstream emulator)."""

    async def fetch(self, key: model.CustomerKey) -> model.EntitlementState:
        """The customer's (or resource's) entitlement state; unknown customers are a state too."""
        ...

    async def report_usage(self, reports: Sequence[model.UsageReport]) -> list[model.UsageResult]: ...

    async def report_events(self, events: Sequence[model.UsageEvent]) -> None: ...

    async def close(self) -> None: ...
