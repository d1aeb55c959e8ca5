"""The pending-usage ledger: usage the sidecar accepted that the upstream has not acknowledged,
and which upstream states may already include it.

Pure bookkeeping, no I/O and no clock. A report is *queued* from the moment the write path
``add``s it (committed to the outbox) until the drainer is ``sending`` it: no upstream state can
include it yet, so it is replayed on every upstream state of its customer (a fetch, Redis, a
stream event), in the order reports were accepted (a DELTA adds, a SET replaces). A refetch
after an outage, a resync or a restart never shows less usage than the sidecar accepted.

Once sent, a report is *in doubt* until the upstream answers: a state that arrives meanwhile
may or may not include it (replaying it could count it twice; not replaying it could lose
it). So for a feature with a report in doubt the ledger keeps the usage the sidecar holds,
which already shows every report it accepted, in place of the upstream's, and notes the
customer. Once nothing of that customer is in doubt any more (``settle``: the upstream
acknowledged or refused for good; ``unsent``: the sending failed without reaching it), the
customer is returned to be refetched: a fetch that starts after the answer includes the report
for sure. The store also refetches a load that overlapped the answer, and a first load with
nothing held waits for the answer (see ``store``). So no report is counted twice or lost, not
even for one round trip. Rows a previous process had begun sending start in doubt.
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
    sent: bool = False  # in doubt: an upstream state may include it
    reached: bool = False  # a sending may have reached the upstream: in doubt until answered


@dataclasses.dataclass(frozen=True, slots=True)
class Settled:
    """Customers whose reports are no longer in doubt, and those of them to refetch (they got
    an upstream state while a report was in doubt)."""

    customers: frozenset[model.CustomerKey]
    refetch: frozenset[model.CustomerKey]


class Ledger:
    """See the module docstring. One per sidecar, shared by the read path and the drainer."""

    def __init__(self) -> None:
        self._pending: dict[model.CustomerKey, dict[str, list[_Report]]] = {}
        self._recheck: set[model.CustomerKey] = set()  # got an upstream state while in doubt

    def __len__(self) -> int:
        return sum(len(reports) for features in self._pending.values() for reports in features.values())

    def add(self, reports: Iterable[model.UsageReport], *, in_doubt: bool = False) -> None:
        """Reports committed to the outbox (``in_doubt``: a previous process began sending them)."""
        for report in reports:
            features = self._pending.setdefault(_key(report), {})
            entries = features.setdefault(report.feature_id, [])
            key = report.idempotency_key or ""
            if key and any(e.idempotency_key == key for e in entries):
                continue  # a retry of a pending report: the upstream counts it once, so do we
            entries.append(_Report(key, report.value, report.set_total, sent=in_doubt, reached=in_doubt))

    def sending(self, reports: Iterable[model.UsageReport]) -> None:
        """The drainer is sending these: from now on an upstream state may include them."""
        self._mark(reports, sent=True)

    def unsent(self, reports: Iterable[model.UsageReport]) -> Settled:
        """The sending failed without reaching the upstream: queued again, not in doubt, unless
        an earlier sending may have reached it."""
        touched = self._mark(reports, sent=False)
        return self._resolved(touched)

    def reached(self, reports: Iterable[model.UsageReport]) -> None:
        """A sending failed after it may have reached the upstream: in doubt until answered."""
        self._mark(reports, sent=True, reached=True)

    def settle(self, reports: Iterable[model.UsageReport]) -> Settled:
        """Reports the upstream acknowledged (or refused for good): no longer pending."""
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
        return self._resolved(touched)

    def in_doubt(self, key: model.CustomerKey) -> bool:
        """Whether an upstream state of ``key`` may include a report of ours, or not."""
        return any(e.sent for entries in (self._pending.get(key) or {}).values() for e in entries)

    def usage(self, key: model.CustomerKey, feature_id: str, upstream: float, held: float | None) -> float:
        """The usage to show for one feature, given the upstream's and the one held (if any)."""
        entries = (self._pending.get(key) or {}).get(feature_id)
        if not entries:
            return upstream
        if any(e.sent for e in entries):
            self._recheck.add(key)
            if held is not None:
                return held  # it shows every accepted report; the refetch brings the rest
        usage = upstream
        for entry in entries:
            usage = entry.value if entry.set_total else usage + entry.value
        return usage

    def apply(
        self, state: model.EntitlementState, held: model.EntitlementState | None
    ) -> model.EntitlementState:
        """An upstream state as it should be shown, given the state held for its customer."""
        for feature_id in self._pending.get(state.key) or ():
            entitlement = state.entitlements.get(feature_id)
            if entitlement is None:
                continue
            kept = held.entitlements.get(feature_id) if held is not None else None
            usage = self.usage(
                state.key,
                feature_id,
                entitlement.current_usage,
                None if kept is None else kept.current_usage,
            )
            state = state.with_usage(feature_id, usage)
        return state

    def _mark(
        self, reports: Iterable[model.UsageReport], *, sent: bool, reached: bool = False
    ) -> set[model.CustomerKey]:
        touched = set()
        for report in reports:
            key = _key(report)
            for entry in (self._pending.get(key) or {}).get(report.feature_id) or ():
                if entry.idempotency_key == report.idempotency_key:
                    entry.reached = entry.reached or reached
                    entry.sent = sent or entry.reached
                    touched.add(key)
        return touched

    def _resolved(self, touched: set[model.CustomerKey]) -> Settled:
        customers = frozenset(key for key in touched if not self.in_doubt(key))
        refetch = frozenset(customers & self._recheck)
        self._recheck -= refetch
        return Settled(customers, refetch)


def _key(report: model.UsageReport) -> model.CustomerKey:
    return model.CustomerKey(report.customer_id, report.resource_id)
