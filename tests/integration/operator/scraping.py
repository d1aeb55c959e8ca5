"""The operator's ``/metrics`` as Prometheus reads it, for the metrics tests: one scrape over
HTTP, parsed by prometheus_client's own text parser."""

from __future__ import annotations

import dataclasses
import urllib.request
from collections.abc import Callable

from prometheus_client import parser

from stigg_devkit import operator_launcher, waiting


@dataclasses.dataclass(frozen=True)
class Scrape:
    content_type: str
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float | None:
        """The sample ``name`` with exactly ``labels``, or None if the operator exports none."""
        return self.samples.get((name, frozenset(labels.items())))

    def series(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample named ``name``."""
        return [dict(labels) for sample, labels in self.samples if sample == name]


def scrape(running: operator_launcher.RunningOperator) -> Scrape:
    with urllib.request.urlopen(running.metrics_url, timeout=5) as response:  # noqa: S310 -- our http URL
        text = response.read().decode()
        content_type = response.headers["Content-Type"]
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
    }
    return Scrape(content_type, samples)


def until(running: operator_launcher.RunningOperator, holds: Callable[[Scrape], object], what: str) -> Scrape:
    """Scrape until ``holds`` is true of a scrape (the leader's counts follow a refresh round); it."""

    def probe() -> Scrape | None:
        found = scrape(running)
        return found if holds(found) else None

    return waiting.wait_for(probe, what=what)
