"""An applied usage report rendered as ``ReportUsage`` answers it (pure: id, usage and time given)."""

from __future__ import annotations

import datetime

from stigg_emulator import catalog, render
from stigg_sidecar import model

NOW = datetime.datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=datetime.UTC)


def test_a_usage_in_a_monthly_period_names_the_period_and_the_next_reset() -> None:
    rendered = render.usage_measurement(
        measurement_id="m-1",
        customer_id="customer-pro",
        resource_id="workspace-1",
        feature_id="feature-api-calls",
        current_usage=42.0,
        period=catalog.usage_period(model.ResetPeriod.MONTH, NOW),
        timestamp=NOW,
    )
    assert rendered == {
        "__typename": "UsageMeasurementWithCurrentUsage",
        "id": "m-1",
        "featureId": "feature-api-calls",
        "customerId": "customer-pro",
        "resourceId": "workspace-1",
        "currentUsage": 42,
        "credit": None,
        "usagePeriodStart": "2026-03-01T00:00:00.000Z",
        "usagePeriodEnd": "2026-04-01T00:00:00.000Z",
        "nextResetDate": "2026-04-01T00:00:00.000Z",
        "timestamp": "2026-03-14T15:09:26.535Z",
    }
    assert list(rendered) == [
        "__typename",
        "id",
        "featureId",
        "customerId",
        "resourceId",
        "currentUsage",
        "credit",
        "usagePeriodStart",
        "usagePeriodEnd",
        "nextResetDate",
        "timestamp",
    ]


def test_a_usage_that_never_resets_has_no_period_and_keeps_a_fraction() -> None:
    rendered = render.usage_measurement(
        measurement_id="m-2",
        customer_id="customer-pro",
        resource_id=None,
        feature_id="feature-seats",
        current_usage=2.5,
        period=None,
        timestamp=NOW,
    )
    assert rendered["currentUsage"] == 2.5
    assert rendered["resourceId"] is None
    assert (rendered["usagePeriodStart"], rendered["usagePeriodEnd"], rendered["nextResetDate"]) == (
        None,
        None,
        None,
    )
