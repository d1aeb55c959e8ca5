"""``promtext`` exposes what ``prometheus_client`` exposed, byte for byte: the expected text below
is ``prometheus_client.generate_latest`` (0.26) of the same metrics, at the same creation time."""

from __future__ import annotations

import pytest

from stigg_sidecar import metrics, promtext

CREATED = 1764639382.1234567
EXPECTED = """\
# HELP a_things_total Things\\nwith a newline and a \\\\ backslash
# TYPE a_things_total counter
a_things_total{b="q\\"uote\\n",method="x"} 2.0
a_things_total{b="z",method="y"} 1.0
# HELP a_things_created Things\\nwith a newline and a \\\\ backslash
# TYPE a_things_created gauge
a_things_created{b="q\\"uote\\n",method="x"} 1.7646393821234567e+09
a_things_created{b="z",method="y"} 1.7646393821234567e+09
# HELP plain_total Plain
# TYPE plain_total counter
plain_total 3.5
# HELP plain_created Plain
# TYPE plain_created gauge
plain_created 1.7646393821234567e+09
# HELP unused_total Unused labelled
# TYPE unused_total counter
# HELP g A gauge
# TYPE g gauge
g 1.23456789e+07
# HELP g2 Labelled gauge
# TYPE g2 gauge
g2{p="v2"} 1.0
g2{p="legacy"} 0.0
# HELP lat_seconds Latency
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.01",operation="fetch"} 2.0
lat_seconds_bucket{le="0.025",operation="fetch"} 3.0
lat_seconds_bucket{le="0.1",operation="fetch"} 3.0
lat_seconds_bucket{le="1.0",operation="fetch"} 4.0
lat_seconds_bucket{le="10.0",operation="fetch"} 4.0
lat_seconds_bucket{le="+Inf",operation="fetch"} 5.0
lat_seconds_count{operation="fetch"} 5.0
lat_seconds_sum{operation="fetch"} 100.535
lat_seconds_bucket{le="0.01",operation="report"} 0.0
lat_seconds_bucket{le="0.025",operation="report"} 0.0
lat_seconds_bucket{le="0.1",operation="report"} 0.0
lat_seconds_bucket{le="1.0",operation="report"} 1.0
lat_seconds_bucket{le="10.0",operation="report"} 1.0
lat_seconds_bucket{le="+Inf",operation="report"} 1.0
lat_seconds_count{operation="report"} 1.0
lat_seconds_sum{operation="report"} 0.3
# HELP lat_seconds_created Latency
# TYPE lat_seconds_created gauge
lat_seconds_created{operation="fetch"} 1.7646393821234567e+09
lat_seconds_created{operation="report"} 1.7646393821234567e+09
# HELP h2 Default buckets
# TYPE h2 histogram
h2_bucket{le="0.005"} 0.0
h2_bucket{le="0.01"} 0.0
h2_bucket{le="0.025"} 0.0
h2_bucket{le="0.05"} 0.0
h2_bucket{le="0.075"} 0.0
h2_bucket{le="0.1"} 0.0
h2_bucket{le="0.25"} 1.0
h2_bucket{le="0.5"} 1.0
h2_bucket{le="0.75"} 1.0
h2_bucket{le="1.0"} 1.0
h2_bucket{le="2.5"} 1.0
h2_bucket{le="5.0"} 1.0
h2_bucket{le="7.5"} 1.0
h2_bucket{le="10.0"} 1.0
h2_bucket{le="+Inf"} 1.0
h2_count 1.0
h2_sum 0.2
# HELP h2_created Default buckets
# TYPE h2_created gauge
h2_created 1.7646393821234567e+09
"""


def _build() -> bytes:
    registry = promtext.CollectorRegistry(auto_describe=True)
    things = promtext.Counter(
        "a_things", "Things\nwith a newline and a \\ backslash", ["method", "b"], registry=registry
    )
    things.labels("x", 'q"uote\n').inc(2)
    things.labels("y", "z").inc()
    promtext.Counter("plain_total", "Plain", registry=registry).inc(3.5)
    promtext.Counter("unused", "Unused labelled", ["k"], registry=registry)
    promtext.Gauge("g", "A gauge", registry=registry).set(12345678.9)
    protocol = promtext.Gauge("g2", "Labelled gauge", ["p"], registry=registry)
    protocol.labels("v2").set(1)
    protocol.labels("legacy").set(0)
    latency = promtext.Histogram(
        "lat_seconds", "Latency", ["operation"], buckets=(0.01, 0.025, 0.1, 1, 10), registry=registry
    )
    for value in (0.005, 0.01, 0.02, 0.5, 100):
        latency.labels("fetch").observe(value)
    latency.labels("report").observe(0.3)
    promtext.Histogram("h2", "Default buckets", registry=registry).observe(0.2)
    return promtext.generate_latest(registry)


def test_the_exposition_is_prometheus_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(promtext.time, "time", lambda: CREATED)
    assert _build().decode() == EXPECTED


def test_the_sidecars_metrics_expose_every_family() -> None:
    text = metrics.Metrics().exposition().decode()
    assert "# TYPE sidecar_checks_total counter\n" in text
    assert 'sidecar_checks_total{method="GetEntitlement",outcome="granted"} 0.0\n' in text
    assert "# TYPE sidecar_upstream_request_duration_seconds histogram\n" in text
    assert "sidecar_cache_entries 0.0\n" in text


def test_an_unlabelled_counter_or_gauge_has_a_value() -> None:
    counter = promtext.Counter("c", "C")
    counter.inc(2)
    gauge = promtext.Gauge("g", "G")
    gauge.set(3)
    gauge.dec()
    assert (counter.value, gauge.value) == (2.0, 2.0)
    with pytest.raises(ValueError, match="has labels"):
        _ = promtext.Counter("l", "L", ["a"]).value


def test_misuse_is_refused() -> None:
    registry = promtext.CollectorRegistry()
    counter = promtext.Counter("c", "C", ["a"], registry=registry)
    with pytest.raises(ValueError, match="non-negative"):
        counter.labels("x").inc(-1)
    with pytest.raises(ValueError, match="label count"):
        counter.labels("x", "y")
    with pytest.raises(ValueError, match="Duplicated"):
        promtext.Gauge("c_total", "again", registry=registry)
    with pytest.raises(ValueError, match="Invalid label"):
        promtext.Histogram("h", "H", ["le"])
    with pytest.raises(ValueError, match="Invalid metric name"):
        promtext.Gauge("bad-name", "B")
