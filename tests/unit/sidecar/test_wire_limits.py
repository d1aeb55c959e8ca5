"""Input limits: what the upstream would refuse for its shape, or what would make the sidecar
hold, log or forward unbounded input, is INVALID_ARGUMENT naming the field, before anything is
acknowledged: ids too long, non-finite or huge numbers (two DELTAs of 1e308 made usage
+Infinity), too many or too large dimensions (a NaN dimension went upstream as invalid JSON),
too many bulk items or requested values."""

from __future__ import annotations

import math

import pytest

from stigg_sidecar import wire
from stigg_sidecar.v1 import sidecar_pb2 as pb

LONG = "x" * (wire.MAX_ID_LENGTH + 1)


def _report(**fields: object) -> pb.ReportUsageRequest:
    base: dict[str, object] = {"customer_id": "c", "feature_id": "f", "value": 1}
    return pb.ReportUsageRequest(**{**base, **fields})


def _dimension(value: object) -> pb.EventDimensionValue:
    if isinstance(value, str):
        return pb.EventDimensionValue(string_value=value)
    return pb.EventDimensionValue(number_value=float(value))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            _report(customer_id="c" * 2**20),
            "usages[0].customer_id: must be at most 256 characters, got 1048576",
        ),
        (_report(resource_id=LONG), "usages[0].resource_id: must be at most 256 characters"),
        (_report(feature_id=LONG), "usages[0].feature_id: must be at most 256 characters"),
        (_report(value=math.nan), "usages[0].value: must be a finite number, got nan"),
        (_report(value=1e308), "usages[0].value: must be between -1e+15 and 1e+15, got 1e+308"),
        (
            _report(dimensions={"n": _dimension(math.nan)}),
            "usages[0].dimensions['n']: must be a finite number",
        ),
        (
            _report(dimensions={"n": _dimension(math.inf)}),
            "usages[0].dimensions['n']: must be a finite number",
        ),
        (
            _report(dimensions={"s": _dimension("v" * (wire.MAX_DIMENSION_STRING_LENGTH + 1))}),
            "usages[0].dimensions['s']: must be at most 1024 characters",
        ),
        (
            _report(dimensions={f"d{i}": _dimension(i) for i in range(wire.MAX_DIMENSIONS + 1)}),
            "usages[0].dimensions: must hold at most 50 dimensions, got 51",
        ),
        (
            _report(dimensions={"k" * 200: _dimension(1)}),
            "usages[0].dimensions[" + "k" * 128 + "...]: a dimension's name must be 1 to 128 characters",
        ),
    ],
)
def test_a_report_beyond_a_limit_names_the_field(request_: pb.ReportUsageRequest, message: str) -> None:
    with pytest.raises(wire.InvalidRequest) as refused:
        wire.usage_report(request_, "usages[0].")
    assert str(refused.value).startswith(message)
    assert len(str(refused.value)) < 600, "the message never carries the whole input"


def test_the_largest_allowed_values_are_accepted() -> None:
    report = wire.usage_report(
        _report(
            customer_id="c" * wire.MAX_ID_LENGTH,
            value=-wire.MAX_NUMBER,
            dimensions={f"d{i}": _dimension(wire.MAX_NUMBER) for i in range(wire.MAX_DIMENSIONS)},
        )
    )
    assert report.value == -wire.MAX_NUMBER
    assert len(report.dimensions) == wire.MAX_DIMENSIONS


def test_bulk_items_and_requested_values_are_bounded() -> None:
    with pytest.raises(wire.InvalidRequest, match=r"^usages: must hold at most 1000 items, got 1001$"):
        wire.bulk([_report()] * (wire.MAX_BULK_ITEMS + 1), "usages")
    with pytest.raises(wire.InvalidRequest, match=r"^usages: must not be empty$"):
        wire.bulk([], "usages")
    assert len(wire.bulk([_report()] * wire.MAX_BULK_ITEMS, "usages")) == wire.MAX_BULK_ITEMS
    with pytest.raises(wire.InvalidRequest, match=r"^options.requested_values: must hold at most 100 values"):
        wire.requested_values(["v"] * (wire.MAX_REQUESTED_VALUES + 1), "options.requested_values")
    with pytest.raises(wire.InvalidRequest, match=r"^options.requested_values\[0\]: must be at most 256"):
        wire.requested_values([LONG], "options.requested_values")
    with pytest.raises(wire.InvalidRequest, match=r"^options.requested_usage: must be between 0 and 1e\+15"):
        wire.requested_usage(1e300, "options.requested_usage")
