"""The pending-usage ledger: usage the sidecar accepted that the upstream has not acknowledged.

Pure bookkeeping, no I/O and no clock. The write path ``add``s each report once it is
committed to the outbox; the outbox drainer marks a batch ``sending`` just before it goes
upstream and ``settle``s it once the upstream acknowledged it (or refused it for good). Every
state that comes from the upstream (a fetch, Redis, a stream event) passes through
``replay``/``apply``, which put the pending reports of its customer on top, in the order they
were accepted (a DELTA adds, a SET replaces), so a refetch after an outage, a resync or a
restart (the outbox's rows are added back at start) never shows less usage than the sidecar
already accepted.

A report on its way (``sending``) may already be included in an upstream state that arrives
meanwhile: replaying it on such a state counts it twice. The ledger remembers each customer
that received a state while one of its reports was on its way; ``settle`` returns those whose
reports have all arrived, so the caller refetches them and the double count lasts no longer
than that round trip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from stigg_sidecar import model


@dataclasses.dataclass(slots=True)
class _Report:
    idempotency_key: str
    value: float
    set_total: bool
    sent: bool = False  # on its way upstream: an upstream state may include it already


class Ledger:
    """See the module docstring. One per sidecar, shared by the read path and the drainer."""

    def __init__(self) -> None:
        self._pending: dict[model.CustomerKey, dict[str, list[_Report]]] = {}
        self._recheck: set[model.CustomerKey] = set()  # got an upstream state while a report was sent

    def __len__(self) -> int:
        return sum(len(reports) for features in self._pending.values() for reports in features.values())

    def add(self, reports: Iterable[model.UsageReport]) -> None:
        """Reports committed to the outbox: replayed on upstream states until settled."""
        for report in reports:
            features = self._pending.setdefault(_key(report), {})
            features.setdefault(report.feature_id, []).append(
                _Report(report.idempotency_key or "", report.value, report.set_total)
            )

    def sending(self, reports: Iterable[model.UsageReport]) -> None:
        """The drainer is sending these: from now on an upstream state may include them."""
        for report in reports:
            for entry in (self._pending.get(_key(report)) or {}).get(report.feature_id) or ():
                if entry.idempotency_key == report.idempotency_key:
                    entry.sent = True

    def settle(self, reports: Iterable[model.UsageReport]) -> set[model.CustomerKey]:
        """Reports the upstream acknowledged (or refused for good): no longer pending.

        Returns the customers to refetch now: those that received an upstream state while one
        of these reports was on its way, and have no other report on its way any more.
        """
        touched = set()
        for report in reports:
            key = _key(report)
            features = self._pending.get(key)
            entries = features.get(report.feature_id) if features else None
            if entries is None or features is None:
                continue
            touched.add(key)
            entries[:] = [e for e in entries if e.idempotency_key != report.idempotency_key]
            if not entries:
                del features[report.feature_id]
                if not features:
                    del self._pending[key]
        ready = {key for key in touched & self._recheck if not self._any_sent(key)}
        self._recheck -= ready
        return ready

    def replay(self, key: model.CustomerKey, feature_id: str, usage: float) -> float:
        """The upstream's ``usage`` of one feature with the pending reports on top."""
        for entry in (self._pending.get(key) or {}).get(feature_id, ()):
            usage = entry.value if entry.set_total else usage + entry.value
            if entry.sent:
                self._recheck.add(key)
        return usage

    def apply(self, state: model.EntitlementState) -> model.EntitlementState:
        """An upstream state with the pending reports of its customer replayed on top."""
        for feature_id in self._pending.get(state.key) or ():
            entitlement = state.entitlements.get(feature_id)
            if entitlement is not None:
                state = state.with_usage(
                    feature_id, self.replay(state.key, feature_id, entitlement.current_usage)
                )
        return state

    def _any_sent(self, key: model.CustomerKey) -> bool:
        return any(e.sent for entries in (self._pending.get(key) or {}).values() for e in entries)


def _key(report: model.UsageReport) -> model.CustomerKey:
    return model.CustomerKey(report.customer_id, report.resource_id)
