"""``wire`` turns requests into domain values and refuses bad ones naming the field: a usage
report becomes ``model.UsageReport`` (SET or DELTA, dimensions typed), an empty customer id or a
negative requested usage is ``InvalidRequest`` whose message starts with the field's path."""

from __future__ import annotations

import math

import pytest

from stigg_sidecar import model, wire
from stigg_sidecar.v1 import sidecar_pb2 as pb


def test_a_usage_report_becomes_the_domain_report() -> None:
    request = pb.ReportUsageRequest(
        customer_id="c-1",
        resource_id="r-1",
        feature_id="f-1",
        value=3,
        update_behavior=pb.USAGE_UPDATE_BEHAVIOR_SET,
        dimensions={"region": pb.EventDimensionValue(string_value="eu")},
    )
    report = wire.usage_report(request)
    assert report == model.UsageReport(
        customer_id="c-1",
        feature_id="f-1",
        value=3.0,
        resource_id="r-1",
        set_total=True,
        dimensions={"region": "eu"},
    )


@pytest.mark.parametrize("customer_id", ["", "   "])
def test_an_empty_customer_id_names_its_field_with_the_prefix(customer_id: str) -> None:
    with pytest.raises(wire.InvalidRequest) as failure:
        wire.customer_key(pb.ReportUsageRequest(customer_id=customer_id), "usages[3].")
    assert str(failure.value).startswith("usages[3].customer_id:")


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf])
def test_a_requested_usage_must_be_a_finite_non_negative_number(value: float) -> None:
    with pytest.raises(wire.InvalidRequest) as failure:
        wire.requested_usage(value, "options.requested_usage")
    assert str(failure.value).startswith("options.requested_usage: must be a non-negative number")
