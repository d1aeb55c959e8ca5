"""The outbox keeps reports in order across reopenings, and refuses more than its bound."""

from __future__ import annotations

import pathlib

import pytest

from stigg_sidecar import model, outbox


def _report(n: int) -> model.UsageReport:
    return model.UsageReport(customer_id="c", feature_id="f", value=n, idempotency_key=f"key-{n}")


async def test_order_survives_reopening_and_removal(tmp_path: pathlib.Path) -> None:
    box = outbox.Outbox(tmp_path / "outbox.sqlite3", max_items=10)
    await box.add_usage([_report(1), _report(2)])
    await box.add_events([model.UsageEvent(event_name="e", customer_id="c", idempotency_key="evt")])
    await box.add_usage([_report(3)])
    box.close()

    reopened = outbox.Outbox(tmp_path / "outbox.sqlite3", max_items=10)
    rows = await reopened.peek(10)
    assert [(r.kind, r.payload["key"]) for r in rows] == [
        ("usage", "key-1"),
        ("usage", "key-2"),
        ("event", "evt"),
        ("usage", "key-3"),
    ]
    await reopened.remove([rows[0].seq, rows[1].seq])
    stats = await reopened.stats()
    depth, oldest = stats.depth, stats.oldest_age
    assert depth == 2
    assert oldest >= 0
    reopened.close()


async def test_full_outbox_refuses_and_keeps_what_it_has(tmp_path: pathlib.Path) -> None:
    box = outbox.Outbox(tmp_path / "outbox.sqlite3", max_items=3)
    await box.add_usage([_report(1), _report(2)])
    with pytest.raises(outbox.OutboxFull, match="holds 2 of at most 3"):
        await box.add_usage([_report(3), _report(4)])
    assert (await box.stats()).depth == 2, "a refused batch is not half-written"
    box.close()
