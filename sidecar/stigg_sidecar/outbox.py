"""The durable usage outbox: reports and events the sidecar accepted, until the upstream has them.

A report is answered only once it is committed to SQLite (``SIDECAR_STATE_DIR/outbox.sqlite3``,
the Pod's state volume), with the idempotency key it will carry upstream. ``Drainer`` sends the
rows in order (consecutive usage reports as one bulk call, events likewise) and deletes them
only after the upstream accepted them; a restart resumes with the same rows and keys, and the
upstream's idempotency keeps a resent report from counting twice. So neither an outage nor a
SIGKILL loses or doubles anything. The outbox is bounded: when full, ``OutboxFull`` (the caller
gets RESOURCE_EXHAUSTED) rather than silent loss.

No acknowledged item is ever dropped. When the upstream refuses a batch outright (a 4xx, or a
GraphQL error: an unknown customer, say), the drainer splits it in halves and sends each, down
to the single items it refuses: the others go through. A refused item would block everything
behind it forever, so it moves, in one transaction, to the ``dead_letters`` table of the same
file, with the upstream's reason; it is counted (``sidecar_outbox_rejected_total``, and the
gauge ``sidecar_outbox_dead_letters``) and stays there until someone removes it on purpose
(``stigg-sidecar dead-letters list|delete``, see ``deadletters``). A refused API key (401,
403) is not the item's fault: the drainer waits and retries.

SQLite runs in WAL mode with ``synchronous=NORMAL``: durable across a process crash (which is
what a SIGKILL is); all access goes through one worker thread, in submission order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime
import json
import logging
import pathlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from stigg_sidecar import metrics, model, pending
from stigg_sidecar.upstream import base

logger = logging.getLogger(__name__)

USAGE, EVENT = "usage", "event"
FILE_NAME = "outbox.sqlite3"  # in SIDECAR_STATE_DIR


class OutboxFull(Exception):
    """The outbox holds its maximum: the report was not accepted."""


@dataclasses.dataclass(frozen=True)
class Row:
    seq: int
    kind: str
    payload: dict[str, Any]
    created: float


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """An item the upstream refused for good: the row as it was, when, and the upstream's reason."""

    row: Row
    refused: float
    reason: str


@dataclasses.dataclass(frozen=True)
class Stats:
    depth: int  # items waiting for the upstream
    oldest_age: float  # seconds the oldest of them has waited
    dead_letters: int  # items the upstream refused for good, kept aside


def _usage_payload(report: model.UsageReport) -> dict[str, Any]:
    return {
        "customerId": report.customer_id,
        "featureId": report.feature_id,
        "value": report.value,
        "resourceId": report.resource_id,
        "set": report.set_total,
        "dimensions": dict(report.dimensions),
        "timestamp": report.timestamp.isoformat() if report.timestamp else None,
        "key": report.idempotency_key,
    }


def _usage_report(payload: dict[str, Any]) -> model.UsageReport:
    stamp = payload["timestamp"]
    return model.UsageReport(
        customer_id=payload["customerId"],
        feature_id=payload["featureId"],
        value=payload["value"],
        resource_id=payload["resourceId"],
        set_total=payload["set"],
        dimensions=payload["dimensions"],
        timestamp=datetime.datetime.fromisoformat(stamp) if stamp else None,
        idempotency_key=payload["key"],
    )


def _event_payload(event: model.UsageEvent) -> dict[str, Any]:
    return {
        "eventName": event.event_name,
        "customerId": event.customer_id,
        "key": event.idempotency_key,
        "resourceId": event.resource_id,
        "dimensions": dict(event.dimensions),
        "timestamp": event.timestamp.isoformat() if event.timestamp else None,
    }


def _usage_event(payload: dict[str, Any]) -> model.UsageEvent:
    stamp = payload["timestamp"]
    return model.UsageEvent(
        event_name=payload["eventName"],
        customer_id=payload["customerId"],
        idempotency_key=payload["key"],
        resource_id=payload["resourceId"],
        dimensions=payload["dimensions"],
        timestamp=datetime.datetime.fromisoformat(stamp) if stamp else None,
    )


class Outbox:
    def __init__(self, path: pathlib.Path, *, max_items: int) -> None:
        self.path = path
        self.max_items = max_items
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " kind TEXT NOT NULL, payload TEXT NOT NULL, created REAL NOT NULL)"
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
            if "attempted" not in columns:  # files written before the column existed: their rows
                with contextlib.suppress(sqlite3.OperationalError):  # (added meanwhile by another)
                    db.execute("ALTER TABLE outbox ADD COLUMN attempted INTEGER NOT NULL DEFAULT 0")
                    db.execute("UPDATE outbox SET attempted = 1")  # may have been sent: in doubt
            db.execute(
                "CREATE TABLE IF NOT EXISTS dead_letters (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
                " payload TEXT NOT NULL, created REAL NOT NULL, refused REAL NOT NULL, reason TEXT NOT NULL)"
            )
            self._db = db
        return self._db

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn, *args)

    def _add(self, kind: str, payloads: Sequence[dict[str, Any]]) -> None:
        db = self._connect()
        (depth,) = db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        if depth + len(payloads) > self.max_items:
            raise OutboxFull(f"the usage outbox holds {depth} of at most {self.max_items} items")
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO outbox (kind, payload, created) VALUES (?, ?, ?)",
                [(kind, json.dumps(p, separators=(",", ":")), now) for p in payloads],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def add_usage(self, reports: Sequence[model.UsageReport]) -> None:
        await self._run(self._add, USAGE, [_usage_payload(r) for r in reports])

    async def add_events(self, events: Sequence[model.UsageEvent]) -> None:
        await self._run(self._add, EVENT, [_event_payload(e) for e in events])

    def _peek(self, limit: int) -> list[Row]:
        rows = (
            self._connect()
            .execute("SELECT seq, kind, payload, created FROM outbox ORDER BY seq LIMIT ?", (limit,))
            .fetchall()
        )
        return [Row(seq, kind, json.loads(payload), created) for seq, kind, payload, created in rows]

    async def peek(self, limit: int) -> list[Row]:
        rows: list[Row] = await self._run(self._peek, limit)
        return rows

    def _attempting(self, seqs: Sequence[int], state: int) -> None:
        # 0: never sent; 1: being sent; 2: a sending may have reached the upstream (for good).
        query = {
            0: "UPDATE outbox SET attempted = 0 WHERE seq = ? AND attempted = 1",
            1: "UPDATE outbox SET attempted = 1 WHERE seq = ? AND attempted < 2",
            2: "UPDATE outbox SET attempted = 2 WHERE seq = ?",
        }[state]
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(query, [(s,) for s in seqs])
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def attempting(self, seqs: Sequence[int], *, state: int = 1) -> None:
        """These rows are about to be sent (1: after a restart, the upstream may have them);
        0: the sending failed without reaching the upstream; 2: it may have reached it (kept)."""
        await self._run(self._attempting, seqs, state)

    def _remove(self, seqs: Sequence[int]) -> None:
        self._connect().executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    async def remove(self, seqs: Sequence[int]) -> None:
        await self._run(self._remove, seqs)

    def _dead_letter(self, row: Row, reason: str) -> None:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO dead_letters (seq, kind, payload, created, refused, reason)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row.seq,
                    row.kind,
                    json.dumps(row.payload, separators=(",", ":")),
                    row.created,
                    time.time(),
                    reason,
                ),
            )
            db.execute("DELETE FROM outbox WHERE seq = ?", (row.seq,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def dead_letter(self, row: Row, reason: str) -> None:
        """Move an item the upstream refused for good out of the way, keeping it and the reason."""
        await self._run(self._dead_letter, row, reason)

    def _dead_letters(self) -> list[DeadLetter]:
        rows = self._connect().execute(
            "SELECT seq, kind, payload, created, refused, reason FROM dead_letters ORDER BY seq"
        )
        return [
            DeadLetter(Row(seq, kind, json.loads(payload), created), refused, reason)
            for seq, kind, payload, created, refused, reason in rows.fetchall()
        ]

    async def dead_letters(self) -> list[DeadLetter]:
        """Every item the upstream refused for good, oldest first."""
        letters: list[DeadLetter] = await self._run(self._dead_letters)
        return letters

    def _delete_dead_letters(self, seqs: Sequence[int] | None) -> int:
        db = self._connect()
        if seqs is None:
            return db.execute("DELETE FROM dead_letters").rowcount
        return sum(db.execute("DELETE FROM dead_letters WHERE seq = ?", (s,)).rowcount for s in seqs)

    async def delete_dead_letters(self, seqs: Sequence[int] | None) -> int:
        """Remove the given dead letters (``None``: all of them); how many were removed."""
        removed: int = await self._run(self._delete_dead_letters, seqs)
        return removed

    def _usage_reports(self) -> list[tuple[model.UsageReport, bool]]:
        rows = self._connect().execute(
            "SELECT payload, attempted FROM outbox WHERE kind = ? ORDER BY seq", (USAGE,)
        )
        return [(_usage_report(json.loads(payload)), bool(tried)) for payload, tried in rows.fetchall()]

    async def usage_reports(self) -> list[tuple[model.UsageReport, bool]]:
        """Every usage report still waiting, in order, and whether its sending had begun (read
        back at start: they are pending, those begun in doubt)."""
        reports: list[tuple[model.UsageReport, bool]] = await self._run(self._usage_reports)
        return reports

    def _stats(self) -> Stats:
        db = self._connect()
        depth, oldest = db.execute("SELECT COUNT(*), MIN(created) FROM outbox").fetchone()
        (dead,) = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()
        return Stats(depth, 0.0 if oldest is None else max(0.0, time.time() - oldest), dead)

    async def stats(self) -> Stats:
        result: Stats = await self._run(self._stats)
        return result

    def close(self) -> None:
        if self._db is not None:
            self._worker.submit(self._db.close).result()
        self._worker.shutdown(wait=True)


class Drainer:
    """Sends the outbox upstream in order; runs as a task for the sidecar's lifetime."""

    def __init__(
        self,
        outbox: Outbox,
        upstream: base.Upstream,
        sidecar_metrics: metrics.Metrics,
        *,
        ledger: pending.Ledger,
        settled: Callable[[pending.Settled], None],
        batch: int = 100,
    ) -> None:
        """``ledger`` learns what is on its way and what arrived; ``settled`` is told which
        customers' reports are no longer in doubt (see ``pending``)."""
        self.outbox = outbox
        self.upstream = upstream
        self.metrics = sidecar_metrics
        self.batch = batch
        self._ledger = ledger
        self._settled_customers = settled
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Something was added: send it now rather than at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        backoff = 0.2
        while True:
            rows = await self.outbox.peek(self.batch)
            if not rows:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=1.0)
                continue
            kind = rows[0].kind
            run = rows[: next((i for i, r in enumerate(rows) if r.kind != kind), len(rows))]
            try:
                await self._deliver(run)
            except base.UpstreamError as error:
                logger.debug("the outbox waits for the upstream: %s", error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2

    async def _deliver(self, run: Sequence[Row]) -> None:
        """Send a run of one kind; a refusal splits it until the refused items are alone, and
        those go to the dead letters. Whatever the upstream accepted leaves the outbox at once;
        a transient failure (or a refused API key) raises, and the rest is retried later."""
        try:
            await self._send(run)
        except base.UpstreamRejected as error:
            if error.status in {401, 403}:  # our key: retrying later may work (a fixed Secret)
                raise
            if len(run) > 1:
                middle = len(run) // 2
                await self._deliver(run[:middle])
                await self._deliver(run[middle:])
                return
            (row,) = run
            logger.error(
                "the upstream refused %s item %d for good, kept as a dead letter: %s",
                row.kind,
                row.seq,
                error,
            )
            await self.outbox.dead_letter(row, str(error))
            self.metrics.outbox_rejected.inc()
            self._settled(run)
            return
        await self.outbox.remove([r.seq for r in run])
        self._settled(run)
        self.metrics.outbox_sent.inc(len(run))

    async def _send(self, run: Sequence[Row]) -> None:
        if run[0].kind == USAGE:
            reports = [_usage_report(r.payload) for r in run]
            await self.outbox.attempting([r.seq for r in run])
            self._ledger.sending(reports)
            try:
                await self.upstream.report_usage(reports)
            except base.UpstreamError as error:
                seqs = [r.seq for r in run]
                if error.reached:  # it may have them: in doubt until a sending is answered
                    await self.outbox.attempting(seqs, state=2)
                    self._ledger.reached(reports)
                else:  # the upstream has not got them (unless an earlier sending reached it)
                    await self.outbox.attempting(seqs, state=0)
                    self._settled_customers(self._ledger.unsent(reports))
                raise
        else:
            await self.upstream.report_events([_usage_event(r.payload) for r in run])

    def _settled(self, run: Sequence[Row]) -> None:
        if run[0].kind == USAGE:
            self._settled_customers(self._ledger.settle(_usage_report(r.payload) for r in run))
