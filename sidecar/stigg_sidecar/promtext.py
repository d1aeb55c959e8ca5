"""Counters, gauges and histograms in Prometheus's text exposition format (version 0.0.4).

The subset of ``prometheus_client`` the sidecar uses, with its interface (``CollectorRegistry``,
``Counter``, ``Gauge``, ``Histogram``, ``.labels(...)``, ``generate_latest``) and its output
byte for byte: the same ``# HELP`` and ``# TYPE`` lines, ``_total`` counters, cumulative
``_bucket`` lines with ``le``, ``_count`` and ``_sum``, and the ``_created`` gauges of counters
and histograms, samples in the order their children were created, label pairs sorted by name,
values formatted as Go formats floats (a unit test holds prometheus_client 0.26's text for the
same metrics). ``prometheus_client`` itself costs the process about 4 MiB: its package imports
an HTTP server, a WSGI server, ``urllib.request`` and the ``email`` package, none of which the
sidecar needs (``bench/results/sidecar-memory.md``).

Metrics are updated from the event loop's thread only, so a value is a plain float: no lock.
"""

from __future__ import annotations

import bisect
import math
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_Sample = tuple[str, dict[str, str], float]


class CollectorRegistry:
    """The metrics of one exposition, in the order they were registered."""

    def __init__(self, auto_describe: bool = True) -> None:
        del auto_describe  # prometheus_client's argument: descriptions are always known here
        self._metrics: list[_Metric[Any]] = []
        self._names: set[str] = set()

    def register(self, metric: _Metric[Any]) -> None:
        names = metric.sample_names()
        taken = self._names & names
        if taken:
            raise ValueError(f"Duplicated timeseries in CollectorRegistry: {sorted(taken)}")
        self._names |= names
        self._metrics.append(metric)

    def collect(self) -> Iterator[_Metric[Any]]:
        return iter(list(self._metrics))


_Child = TypeVar("_Child")


class _Metric(Generic[_Child]):
    kind = ""
    suffixes: tuple[str, ...] = ()

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"Invalid metric name: {name!r}")
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        for label in self.labelnames:
            if not _LABEL.match(label) or label.startswith("__") or label in self._reserved_labels():
                raise ValueError(f"Invalid label metric name: {label!r}")
        self._children: dict[tuple[str, ...], _Child] = {}
        if not self.labelnames:
            self._children[()] = self._new_child()
        if registry is not None:
            registry.register(self)

    def _reserved_labels(self) -> tuple[str, ...]:
        return ()

    def _new_child(self) -> _Child:
        raise NotImplementedError

    def sample_names(self) -> set[str]:
        return {self.name, *(self.name + suffix for suffix in self.suffixes)}

    def labels(self, *values: object) -> _Child:
        """The child of these label values (created, and exposed, on first use)."""
        if not self.labelnames:
            raise ValueError(f"No label names were set when constructing {self.name}")
        if len(values) != len(self.labelnames):
            raise ValueError("Incorrect label count")
        key = tuple(str(value) for value in values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._new_child()
        return child

    @property
    def value(self) -> float:
        """An unlabelled counter's or gauge's current value."""
        child = self._unlabelled()
        if not isinstance(child, _CounterChild | _GaugeChild):
            raise TypeError(f"{self.name} has no single value")
        return child.value

    def _unlabelled(self) -> _Child:
        if self.labelnames:
            raise ValueError(f"{self.name} has labels: use .labels(...)")
        return self._children[()]

    def samples(self) -> Iterator[_Sample]:
        for values, child in list(self._children.items()):
            labels = dict(zip(self.labelnames, values, strict=True))
            for suffix, extra, value in self._child_samples(child):
                yield self.name + suffix, {**labels, **extra}, value

    def _child_samples(self, child: _Child) -> Iterator[tuple[str, dict[str, str], float]]:
        raise NotImplementedError


class _CounterChild:
    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.value += amount


class Counter(_Metric[_CounterChild]):
    kind = "counter"
    suffixes = ("_total", "_created")

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__(name.removesuffix("_total"), documentation, labelnames, registry=registry)

    def _new_child(self) -> _CounterChild:
        return _CounterChild()

    def inc(self, amount: float = 1) -> None:
        self._unlabelled().inc(amount)

    def _child_samples(self, child: _CounterChild) -> Iterator[tuple[str, dict[str, str], float]]:
        yield "_total", {}, child.value
        yield "_created", {}, child.created


class _GaugeChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def set(self, value: float) -> None:
        self.value = float(value)

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value -= amount


class Gauge(_Metric[_GaugeChild]):
    kind = "gauge"

    def _new_child(self) -> _GaugeChild:
        return _GaugeChild()

    def set(self, value: float) -> None:
        self._unlabelled().set(value)

    def inc(self, amount: float = 1) -> None:
        self._unlabelled().inc(amount)

    def dec(self, amount: float = 1) -> None:
        self._unlabelled().dec(amount)

    def _child_samples(self, child: _GaugeChild) -> Iterator[tuple[str, dict[str, str], float]]:
        yield "", {}, child.value


class _HistogramChild:
    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.sum += amount
        self.counts[bisect.bisect_left(self.bounds, amount)] += 1


DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class Histogram(_Metric[_HistogramChild]):
    kind = "histogram"
    suffixes = ("_bucket", "_count", "_sum", "_created")

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        registry: CollectorRegistry | None = None,
    ) -> None:
        bounds = [float(b) for b in buckets]
        if bounds != sorted(bounds):
            raise ValueError("Buckets not in sorted order")
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        if len(bounds) < 2:
            raise ValueError("Must have at least two buckets")
        self.bounds = tuple(bounds)
        super().__init__(name, documentation, labelnames, registry=registry)

    def _reserved_labels(self) -> tuple[str, ...]:
        return ("le",)

    def _new_child(self) -> _HistogramChild:
        return _HistogramChild(self.bounds)

    def observe(self, amount: float) -> None:
        self._unlabelled().observe(amount)

    def _child_samples(self, child: _HistogramChild) -> Iterator[tuple[str, dict[str, str], float]]:
        total = 0
        for bound, count in zip(child.bounds, child.counts, strict=True):
            total += count
            yield "_bucket", {"le": go_float(bound)}, float(total)
        yield "_count", {}, float(total)
        if child.bounds[0] >= 0:
            yield "_sum", {}, child.sum
        yield "_created", {}, child.created


def go_float(value: float) -> str:
    """``value`` as Go (so Prometheus) formats it: ``1.0``, ``+Inf``, ``1.7e+09``."""
    value = float(value)
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(value)
    dot = text.find(".")
    if value > 0 and dot > 6:  # Go switches to an exponent sooner than Python
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _line(name: str, labels: dict[str, str], value: float) -> str:
    pairs = ",".join(f'{key}="{_escape_value(labels[key])}"' for key in sorted(labels))
    return f"{name}{{{pairs}}} {go_float(value)}\n" if pairs else f"{name} {go_float(value)}\n"


def generate_latest(registry: CollectorRegistry) -> bytes:
    """The registry's metrics in the text format, as ``prometheus_client.generate_latest``."""
    output: list[str] = []
    for metric in registry.collect():
        name = metric.name + "_total" if metric.kind == "counter" else metric.name
        documentation = _escape_help(metric.documentation)
        output.append(f"# HELP {name} {documentation}\n# TYPE {name} {metric.kind}\n")
        created: list[str] = []
        for sample, labels, value in metric.samples():
            if sample == metric.name + "_created":  # a gauge of its own, after the metric
                created.append(_line(sample, labels, value))
            else:
                output.append(_line(sample, labels, value))
        if created:
            output.append(f"# HELP {metric.name}_created {documentation}\n")
            output.append(f"# TYPE {metric.name}_created gauge\n")
            output.extend(created)
    return "".join(output).encode()
