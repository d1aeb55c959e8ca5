"""Leader election among the operator's replicas, on a ``coordination.k8s.io`` Lease.

Every replica serves the admission webhook (its indexes are kopf's, current in every replica);
only the leader writes: reconciles, status, workload opt-ins, the failure policies, certificate
renewals. The rules are client-go's ``leaderelection``, so they behave as every controller's do:

* a replica may take the Lease when it is free (no holder), already its own, or *expired*: not
  seen to change for ``leaseDurationSeconds`` by this replica's own clock (never by comparing
  the holder's timestamps with ours, so clock skew between nodes cannot elect two leaders);
* taking and renewing are replaces carrying the ``resourceVersion`` read, so of two replicas that
  saw the Lease free, one wins and the other conflicts (``kube.leases.Conflict``);
* the leader renews every ``retry_period``, and stops leading if it could not renew for
  ``renew_deadline`` (shorter than the duration others wait), so it has stepped down before
  anyone else may take over;
* a replica that shuts down releases the Lease (no holder, a 1 s duration), so the next leader
  takes over within one retry period rather than a whole lease duration.

``may_take`` and ``claim`` are the pure rules; ``Elector`` runs them against the apiserver
(blocking calls in a worker thread) and exposes ``leading`` (read by handlers in kopf's worker
threads: a plain bool), ``term`` (incremented on every gain, so a loop sees a new term even if
leadership was lost and regained between two looks) and ``wait_leading``; ``on_change`` is told
of every gain and loss (a release too), on the event loop (``metrics.Metrics.leadership_changed``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client

from stigg_operator.kube import leases

logger = logging.getLogger(__name__)

MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclasses.dataclass(frozen=True)
class Timing:
    """client-go's three durations (15 s, 10 s, 2 s by default), from the lease duration."""

    lease_duration: float
    renew_deadline: float
    retry_period: float

    @classmethod
    def from_lease_duration(cls, seconds: float) -> Timing:
        return cls(seconds, seconds * 2 / 3, max(0.5, seconds / 7.5))


def may_take(spec: Mapping[str, Any] | None, me: str, unchanged_for: float, default_duration: float) -> bool:
    """Whether ``me`` may write the Lease: free, already ours, or not seen to change for its duration."""
    holder = (spec or {}).get("holderIdentity")
    if not holder or holder == me:
        return True
    duration = float((spec or {}).get("leaseDurationSeconds") or default_duration)
    return unchanged_for > duration


def claim(spec: Mapping[str, Any] | None, me: str, now: datetime.datetime, duration: float) -> dict[str, Any]:
    """The Lease spec ``me`` writes to take or renew it (a new holder counts one more transition)."""
    previous = dict(spec or {})
    stamp = now.strftime(MICRO_TIME)
    renewing = previous.get("holderIdentity") == me
    return {
        "holderIdentity": me,
        "leaseDurationSeconds": max(1, round(duration)),
        "acquireTime": previous.get("acquireTime", stamp) if renewing else stamp,
        "renewTime": stamp,
        "leaseTransitions": int(previous.get("leaseTransitions") or 0) + (0 if renewing else 1),
    }


def released(spec: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """The Lease spec a stopping leader leaves: no holder, expiring at once."""
    return {**spec, "holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": now.strftime(MICRO_TIME)}


class Elector:
    """One replica's view of the election: tries to take or renew the Lease every retry period."""

    def __init__(
        self,
        api: Callable[[], client.ApiClient],
        namespace: str,
        name: str,
        identity: str,
        timing: Timing,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[bool], None] = lambda leading: None,
    ) -> None:
        self._api, self._namespace, self._name = api, namespace, name
        self.identity, self.timing, self._clock = identity, timing, clock
        self._on_change = on_change
        self.leading = False
        self.term = 0
        self._seen: tuple[str, float] | None = None  # (the spec as last read, when it last changed)
        self._renewed_at = 0.0
        self._changed = asyncio.Event()

    async def run(self) -> None:
        """Elect forever (cancel to stop; ``release`` afterwards hands over at once)."""
        while True:
            try:
                holding = await asyncio.to_thread(self._attempt)
            except Exception:  # the apiserver unreachable, say: only the renew deadline decides
                logger.exception("the leader election's Lease could not be read or written")
                holding = None
            self._update(holding)
            await asyncio.sleep(self.timing.retry_period)

    async def wait_leading(self) -> int:
        """Return the current term once this replica leads (at once if it does)."""
        while not self.leading:
            self._changed.clear()
            await self._changed.wait()
        return self.term

    async def release(self) -> None:
        """Give the Lease up if this replica holds it (at shutdown), so another takes over at once."""
        was_leading, self.leading = self.leading, False
        if not was_leading:
            return
        self._on_change(False)
        try:
            await asyncio.to_thread(self._release)
        except Exception:  # the Lease then simply expires
            logger.exception("releasing the leader election's Lease failed")

    def _attempt(self) -> bool | None:
        """True: this replica holds the Lease now; False: another does; None: could not tell."""
        api = self._api()
        found = leases.read(api, self._namespace, self._name)
        spec, version = found if found is not None else (None, None)
        now = self._clock()
        text = json.dumps(spec, sort_keys=True)
        if self._seen is None or self._seen[0] != text:
            self._seen = (text, now)
        if not may_take(spec, self.identity, now - self._seen[1], self.timing.lease_duration):
            return False
        fresh = claim(spec, self.identity, datetime.datetime.now(datetime.UTC), self.timing.lease_duration)
        try:
            leases.write(api, self._namespace, self._name, fresh, version)
        except leases.Conflict:  # someone wrote it since the read: look again next time
            return None
        self._seen = (json.dumps(fresh, sort_keys=True), now)
        self._renewed_at = now
        return True

    def _release(self) -> None:
        api = self._api()
        found = leases.read(api, self._namespace, self._name)
        if found is None or found[0].get("holderIdentity") != self.identity:
            return
        spec, version = found
        leases.write(
            api, self._namespace, self._name, released(spec, datetime.datetime.now(datetime.UTC)), version
        )
        logger.info("released the leadership (Lease %s/%s)", self._namespace, self._name)

    def _update(self, holding: bool | None) -> None:
        if holding and not self.leading:
            self.leading, self.term = True, self.term + 1
            logger.info("leading now, as %s (Lease %s/%s)", self.identity, self._namespace, self._name)
        elif holding is False and self.leading:
            self.leading = False
            logger.warning("stopped leading: another replica holds the Lease")
        elif (
            holding is None and self.leading and self._clock() - self._renewed_at > self.timing.renew_deadline
        ):
            self.leading = False
            logger.warning(
                "stopped leading: the Lease was not renewed for %.0f s", self.timing.renew_deadline
            )
        else:
            return
        self._on_change(self.leading)
        self._changed.set()
