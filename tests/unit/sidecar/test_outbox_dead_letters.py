"""The drainer never drops an acknowledged report: a batch the upstream refuses is split until
the refused reports are alone; the others are delivered, in order, and each refused one moves
to the dead letters with the upstream's reason (kept across a reopening, removed only on
purpose). A refused API key is not a report's fault: nothing is dead-lettered. Over a real
SQLite outbox and an in-process stand-in for the upstream (named as such) that refuses, like
Stigg, a whole bulk when one report names an unknown customer."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Sequence

from stigg_sidecar import metrics, model, outbox, pending
from stigg_sidecar.upstream import base


class StandInUpstream:
    def __init__(self, *, refuse_key: bool = False) -> None:
        self.delivered: list[str] = []
        self.calls: list[int] = []
        self.refuse_key = refuse_key

    async def report_usage(self, reports: Sequence[model.UsageReport]) -> list[model.UsageResult]:
        self.calls.append(len(reports))
        if self.refuse_key:
            raise base.UpstreamRejected("the upstream refused the API key (HTTP 401)", status=401)
        unknown = [r.customer_id for r in reports if r.customer_id.startswith("gone")]
        if unknown:
            raise base.UpstreamRejected(f"customer '{unknown[0]}' was not found", status=200)
        self.delivered += [r.idempotency_key or "" for r in reports]
        return []

    async def report_events(self, events: Sequence[model.UsageEvent]) -> None:
        raise NotImplementedError

    async def fetch(self, key: model.CustomerKey) -> model.EntitlementState:
        raise NotImplementedError

    async def close(self) -> None:
        return None


def _reports(count: int, refused: set[int]) -> list[model.UsageReport]:
    return [
        model.UsageReport(
            customer_id=f"gone-{n}" if n in refused else "c", feature_id="f", value=1, idempotency_key=f"k{n}"
        )
        for n in range(count)
    ]


async def _drain_until(box: outbox.Outbox, drainer: outbox.Drainer, done: object) -> None:
    task = asyncio.create_task(drainer.run())
    try:
        for _ in range(500):
            if await done():  # type: ignore[operator]
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the drainer did not get there")
    finally:
        task.cancel()


async def test_refused_reports_are_isolated_and_kept_the_rest_delivered_in_order(
    tmp_path: pathlib.Path,
) -> None:
    box = outbox.Outbox(tmp_path / outbox.FILE_NAME, max_items=1000)
    reports = _reports(100, refused={19, 39, 59, 79, 99})
    await box.add_usage(reports)
    ledger = pending.Ledger()
    ledger.add(reports)
    upstream = StandInUpstream()
    sidecar_metrics = metrics.Metrics()
    drainer = outbox.Drainer(box, upstream, sidecar_metrics, ledger=ledger, settled=lambda settled: None)

    async def drained() -> bool:
        return (await box.stats()).depth == 0

    await _drain_until(box, drainer, drained)
    assert upstream.delivered == [f"k{n}" for n in range(100) if n not in {19, 39, 59, 79, 99}]
    letters = await box.dead_letters()
    assert [(letter.row.payload["customerId"], letter.reason) for letter in letters] == [
        (f"gone-{n}", f"customer 'gone-{n}' was not found") for n in (19, 39, 59, 79, 99)
    ]
    assert len(ledger) == 0, "delivered and dead-lettered reports are no longer pending"
    assert sidecar_metrics.outbox_rejected.value == 5
    assert sidecar_metrics.outbox_sent.value == 95
    assert max(upstream.calls) == 100
    assert len(upstream.calls) < 60, "split, not sent one by one"
    box.close()

    reopened = outbox.Outbox(tmp_path / outbox.FILE_NAME, max_items=1000)
    assert (await reopened.stats()).dead_letters == 5, "dead letters are durable"
    assert await reopened.delete_dead_letters([letters[0].row.seq, 12345]) == 1
    assert await reopened.delete_dead_letters(None) == 4
    assert await reopened.dead_letters() == []
    reopened.close()


async def test_a_refused_api_key_dead_letters_nothing(tmp_path: pathlib.Path) -> None:
    box = outbox.Outbox(tmp_path / outbox.FILE_NAME, max_items=1000)
    await box.add_usage(_reports(4, refused=set()))
    upstream = StandInUpstream(refuse_key=True)
    drainer = outbox.Drainer(
        box, upstream, metrics.Metrics(), ledger=pending.Ledger(), settled=lambda settled: None
    )

    async def retried() -> bool:
        return len(upstream.calls) >= 2

    await _drain_until(box, drainer, retried)
    assert upstream.calls[:2] == [4, 4], "the whole batch, again: the key may be fixed"
    stats = await box.stats()
    assert (stats.depth, stats.dead_letters) == (4, 0)
    box.close()
