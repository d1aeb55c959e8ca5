"""Fault knobs of the upstream emulator: latency, random server errors, and a full outage.

``Faults.apply`` runs before every *product* request (Edge and GraphQL), never before an admin
one (``/_emulator/...``), and decides how that request fares:

- **outage**: answered ``503`` at once, without latency (the upstream is unreachable);
- **writeOutage**: the same for writes only (the GraphQL mutations), while reads are served:
  a partial outage, as when an upstream's ingestion is down but its Edge API is not;
- otherwise the request first waits ``latencyMs`` plus a uniform ``[0, jitterMs]`` extra (by
  default 100 ms, like Stigg's real Edge API; with jitter the delay is never *below* the
  configured latency, so tests can assert a lower bound);
- then, with probability ``errorRate``, it is answered ``500``.

One more switch changes what the server *is* rather than how it fails: **legacyOnly** makes the
real-time stream refuse the V2 subscriptions (``entitlementsUpdatedV2``, ``usageUpdatedV2``)
as a Stigg server from before them would, with a GraphQL validation error, while serving the
legacy ones (``stream``); it applies to subscriptions made after it is set.

The random draws come from one ``random.Random``, seedable (``--seed`` or a ``seed`` in the
admin update), so a run with the same seed and the same request order fails the same requests.
Settings are a frozen value replaced as a whole; ``FaultSettings.updated`` validates a partial
JSON update from the admin endpoint and names the field it rejects.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
from collections.abc import Mapping
from typing import Any

DEFAULT_LATENCY_MS = 100.0

OUTAGE_STATUS = 503
ERROR_STATUS = 500


class FaultSettingsError(ValueError):
    """An invalid fault setting; the message starts with the field's name."""


@dataclasses.dataclass(frozen=True)
class FaultSettings:
    latency_ms: float = DEFAULT_LATENCY_MS
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    outage: bool = False
    write_outage: bool = False
    legacy_only: bool = False

    def __post_init__(self) -> None:
        for name, value in (("latencyMs", self.latency_ms), ("jitterMs", self.jitter_ms)):
            if not math.isfinite(value) or value < 0:
                raise FaultSettingsError(f"{name}: must be a number of milliseconds >= 0, got {value!r}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise FaultSettingsError(f"errorRate: must be between 0 and 1, got {self.error_rate!r}")

    def as_json(self) -> dict[str, Any]:
        return {
            "latencyMs": self.latency_ms,
            "jitterMs": self.jitter_ms,
            "errorRate": self.error_rate,
            "outage": self.outage,
            "writeOutage": self.write_outage,
            "legacyOnly": self.legacy_only,
        }

    def updated(self, body: Mapping[str, object]) -> FaultSettings:
        """These settings with the fields present in ``body`` (JSON names) replaced."""
        changes: dict[str, Any] = {}
        for name, attribute in _ATTRIBUTE_OF.items():
            if name not in body:
                continue
            value = body[name]
            if attribute in _SWITCHES:
                if not isinstance(value, bool):
                    raise FaultSettingsError(f"{name}: must be true or false, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultSettingsError(f"{name}: must be a number, got {value!r}")
            else:
                value = float(value)
            changes[attribute] = value
        return dataclasses.replace(self, **changes)


_ATTRIBUTE_OF = {
    "latencyMs": "latency_ms",
    "jitterMs": "jitter_ms",
    "errorRate": "error_rate",
    "outage": "outage",
    "writeOutage": "write_outage",
    "legacyOnly": "legacy_only",
}
_SWITCHES = frozenset({"outage", "write_outage", "legacy_only"})
JSON_FIELDS = frozenset(_ATTRIBUTE_OF)


class Faults:
    """The current fault settings and the random source that applies them."""

    def __init__(self, settings: FaultSettings | None = None, *, seed: int | None = None) -> None:
        self.settings = settings or FaultSettings()
        self._random = random.Random(seed)  # noqa: S311 -- fault injection, not cryptography

    def reseed(self, seed: int | None) -> None:
        self._random.seed(seed)

    def delay(self) -> float:
        """Seconds this request should wait (latency plus this request's jitter)."""
        settings = self.settings
        jitter = self._random.uniform(0.0, settings.jitter_ms) if settings.jitter_ms else 0.0
        return (settings.latency_ms + jitter) / 1000.0

    def failure(self) -> int | None:
        """The error status this request draws (500), or None; outages are decided apart."""
        rate = self.settings.error_rate
        if rate >= 1.0 or (rate > 0.0 and self._random.random() < rate):
            return ERROR_STATUS
        return None

    async def apply(self, *, write: bool = False) -> int | None:
        """Wait as configured; return the status to answer instead of serving, or None."""
        if self.settings.outage or (write and self.settings.write_outage):
            return OUTAGE_STATUS
        seconds = self.delay()
        if seconds > 0:
            await asyncio.sleep(seconds)
        return self.failure()
