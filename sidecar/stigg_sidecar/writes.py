"""The write path: usage reports and events, accepted durably and shown in the answers at once.

``Writer`` takes what ``ReportUsage``, ``ReportUsageBulk`` and ``ReportEvents`` carry. Each
report gets an idempotency key (the caller's, or a new one) and is committed to the durable
outbox before it is answered; it then joins the pending-usage ledger (replayed on upstream
states until acknowledged), the held state shows the new usage at once, and the drainer is
woken to send it upstream in order. Events go through the outbox likewise.

Offline there is no outbox, and nothing to write to: ``model.Offline``. A full outbox raises
``outbox.OutboxFull``; the servicer maps both to status codes.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence

from stigg_sidecar import model, outbox, pending, store


class Writer:
    def __init__(
        self,
        *,
        entitlements: store.EntitlementStore,
        ledger: pending.Ledger,
        usage_outbox: outbox.Outbox | None,
        wake_drainer: Callable[[], None],
    ) -> None:
        """``usage_outbox`` is None when the sidecar is offline."""
        self._store = entitlements
        self._ledger = ledger
        self._outbox = usage_outbox
        self._wake_drainer = wake_drainer

    async def report_usage(self, reports: Sequence[model.UsageReport]) -> list[model.UsageResult]:
        """Accept usage: committed to the outbox, the held usage moved at once."""
        if self._outbox is None:
            raise model.Offline("the sidecar is offline: usage cannot be reported")
        keyed = [
            dataclasses.replace(r, idempotency_key=r.idempotency_key or str(uuid.uuid4())) for r in reports
        ]
        await self._outbox.add_usage(keyed)
        self._ledger.add(keyed)
        self._wake_drainer()
        return [self._apply_locally(report) for report in keyed]

    async def report_events(self, events: Sequence[model.UsageEvent]) -> None:
        if self._outbox is None:
            raise model.Offline("the sidecar is offline: events cannot be reported")
        await self._outbox.add_events(events)
        self._wake_drainer()

    def _apply_locally(self, report: model.UsageReport) -> model.UsageResult:
        key = model.CustomerKey(report.customer_id, report.resource_id)
        state = self._store.peek(key)
        entitlement = None if state is None else state.entitlements.get(report.feature_id)
        usage = None
        if entitlement is not None:
            usage = report.value if report.set_total else entitlement.current_usage + report.value
            self._store.set_local_usage(key, report.feature_id, usage)
        return model.UsageResult(
            measurement_id=report.idempotency_key or "",
            customer_id=report.customer_id,
            feature_id=report.feature_id,
            resource_id=report.resource_id,
            current_usage=usage,
            usage_period_start=None if entitlement is None else entitlement.usage_period_start,
            usage_period_end=None if entitlement is None else entitlement.usage_period_end,
        )
