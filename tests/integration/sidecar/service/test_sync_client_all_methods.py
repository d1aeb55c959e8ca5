"""The blocking client's generic, V2, bulk and event methods against a real sidecar and emulator
(the ones the async client's service tests cover, now called through ``SidecarClient``)."""

from __future__ import annotations

import json
import urllib.request

from google.protobuf import empty_pb2

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from stigg_sidecar.v1 import sidecar_pb2 as pb


def _emulator_get(emulator: launcher.RunningEmulator, path: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{emulator.admin_url}/{path}", timeout=5) as response:  # noqa: S310 -- loopback
        body: dict[str, object] = json.loads(response.read())
        return body


def _upstream_usage(emulator: launcher.RunningEmulator, customer_id: str) -> object:
    return _emulator_get(emulator, f"usage/{customer_id}")["usage"]


def test_get_entitlement_and_v2(sidecar: sidecar_launcher.RunningSidecar) -> None:
    with client.SidecarClient(sidecar.grpc_target, timeout=10) as checks:
        generic = checks.get_entitlement(
            pb.GetEntitlementRequest(
                customer_id="customer-free",
                feature_id="feature-api-calls",
                options=pb.GetEntitlementOptions(requested_usage=2000),
            )
        )
        assert generic.WhichOneof("entitlement") == "metered"
        assert (generic.has_access, generic.access_denied_reason) == (
            False,
            pb.ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT,
        )
        assert (generic.metered.usage_limit, generic.metered.current_usage) == (1000, 250)

        v2 = checks.get_entitlement_v2(
            pb.GetEntitlementV2Request(customer_id="customer-pro", feature_id="feature-data-region")
        )
        assert v2.entitlement.WhichOneof("entitlement") == "enum"
        assert (v2.entitlement.has_access, v2.entitlement.is_fallback) == (True, False)
        assert v2.entitlement.enum.feature.id == "feature-data-region"
        assert sorted(v2.entitlement.enum.enum_values) == ["eu", "us"]


def test_get_entitlements_state_v2(sidecar: sidecar_launcher.RunningSidecar) -> None:
    with client.SidecarClient(sidecar.grpc_target, timeout=10) as checks:
        state = checks.get_entitlements_state_v2("customer-free")
        by_feature = {
            getattr(e, e.WhichOneof("entitlement")).feature.id: e.has_access for e in state.entitlements
        }
        assert by_feature == {
            "feature-sso": False,
            "feature-max-projects": True,
            "feature-seats": True,
            "feature-api-calls": True,
            "feature-data-region": True,
        }
        missing = checks.get_entitlements_state_v2("customer-nobody")
        assert (list(missing.entitlements), missing.access_denied_reason) == (
            [],
            pb.ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND,
        )


def test_report_usage_bulk_moves_the_usage_a_later_check_sees(
    emulator: launcher.RunningEmulator, sidecar: sidecar_launcher.RunningSidecar
) -> None:
    with client.SidecarClient(sidecar.grpc_target, timeout=10) as checks:
        before = checks.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=700)
        assert (before.has_access, before.entitlement.current_usage) == (True, 250)

        bulk = checks.report_usage_bulk(
            [
                pb.ReportUsageRequest(customer_id="customer-free", feature_id="feature-api-calls", value=700),
                pb.ReportUsageRequest(
                    customer_id="customer-pro",
                    feature_id="feature-seats",
                    value=9,
                    update_behavior=pb.USAGE_UPDATE_BEHAVIOR_SET,
                ),
            ]
        )
        assert [(u.customer_id, u.feature_id) for u in bulk.usages] == [
            ("customer-free", "feature-api-calls"),
            ("customer-pro", "feature-seats"),
        ]
        assert bulk.usages[0].current_usage == 950, "the sidecar's own view moves at once"
        assert all(u.measurement_id for u in bulk.usages)

        after = checks.get_metered_entitlement("customer-free", "feature-api-calls", requested_usage=700)
        assert (after.has_access, after.entitlement.current_usage) == (False, 950)

        def delivered() -> bool:
            free = _upstream_usage(emulator, "customer-free")
            pro = _upstream_usage(emulator, "customer-pro")
            return free == {"feature-seats": 1, "feature-api-calls": 950} and pro == {
                "feature-seats": 9,
                "feature-api-calls": 99000,
            }

        waiting.wait_for(delivered, timeout=20, what="the outbox to deliver the bulk report")
        # Fetched again from the upstream, the usage is what the bulk report made it.
        assert checks.reload_entitlements("customer-free").entitled_entity_exists
        refetched = checks.get_metered_entitlement("customer-free", "feature-api-calls")
        assert (refetched.has_access, refetched.entitlement.current_usage) == (True, 950)
        seats = checks.get_metered_entitlement("customer-pro", "feature-seats", requested_usage=7)
        assert (seats.has_access, seats.entitlement.current_usage) == (False, 9), "9 + 7 seats > 15"


def test_report_events_reach_the_upstream(
    emulator: launcher.RunningEmulator, sidecar: sidecar_launcher.RunningSidecar
) -> None:
    with client.SidecarClient(sidecar.grpc_target, timeout=10) as checks:
        answer = checks.report_events(
            [
                pb.Event(
                    event_name="file-uploaded",
                    customer_id="customer-pro",
                    idempotency_key="evt-sync-1",
                    dimensions={"bytes": pb.EventDimensionValue(number_value=512)},
                ),
                pb.Event(
                    event_name="report-exported",
                    customer_id="customer-free",
                    idempotency_key="evt-sync-2",
                    dimensions={"format": pb.EventDimensionValue(string_value="csv")},
                ),
            ]
        )
        assert answer == empty_pb2.Empty()

    def delivered() -> list[dict[str, object]] | None:
        events = _emulator_get(emulator, "events")["events"]
        assert isinstance(events, list)
        return events if len(events) >= 2 else None

    events = waiting.wait_for(delivered, timeout=20, what="the outbox to deliver the events")
    assert [(e["eventName"], e["customerId"], e["idempotencyKey"]) for e in events] == [
        ("file-uploaded", "customer-pro", "evt-sync-1"),
        ("report-exported", "customer-free", "evt-sync-2"),
    ]
    assert [e["dimensions"] for e in events] == [{"bytes": 512}, {"format": "csv"}]
