"""The live monitoring test runs the chart's alerts faster: every duration of a rule file (its
``for:``, ``keep_firing_for:``, range windows and subquery steps) divided by one factor, with
a floor, and nothing else of the rules changed."""

from __future__ import annotations

import pytest

from stigg_devkit import prometheus

RULES = {
    "groups": [
        {
            "name": "g",
            "interval": "30s",
            "rules": [
                {
                    "alert": "Errors",
                    "expr": 'sum by (namespace) (increase(x_total{a="b[1m]"}[5m])) > 0',
                    "for": "10m",
                    "labels": {"severity": "warning"},
                },
                {
                    "alert": "Ratio",
                    "expr": "max_over_time(rate(y_total[1m])[1h:30s]) > 1",
                    "keep_firing_for": "1m30s",
                },
                {"record": "r", "expr": "rate(z_total[20s])"},
            ],
        }
    ]
}


def test_every_duration_is_divided_and_the_rest_kept() -> None:
    fast = prometheus.compressed(RULES, 20)
    errors, ratio, record = fast["groups"][0]["rules"]
    assert errors["for"] == "30s"
    assert errors["expr"] == 'sum by (namespace) (increase(x_total{a="b[1m]"}[15s])) > 0', "strings kept"
    assert errors["labels"] == {"severity": "warning"}
    assert ratio["expr"] == "max_over_time(rate(y_total[3s])[180s:1.5s]) > 1"
    assert ratio["keep_firing_for"] == "4.5s"
    assert record["expr"] == "rate(z_total[1s])", "never below the floor"
    assert fast["groups"][0]["interval"] == "30s", "a group's own interval is the caller's to set"
    assert RULES["groups"][0]["rules"][0]["for"] == "10m", "the input is left as it was"


def test_a_bad_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        prometheus.compressed(
            {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "1", "for": "5 min"}]}]}, 2
        )
