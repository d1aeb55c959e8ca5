"""Credit entitlements, end to end: ``GetEntitlementV2`` with ``currency_id`` answers the
customer's balance of the currency (limit, consumed, remaining, soft limit, the currency's
metadata) and decides a requested amount; ``GetEntitlementsStateV2`` lists balances beside
features; credits consumed elsewhere reach the answers by the stream's ``usageUpdatedV2``;
with the upstream down and nothing held, the defaults named by the currency answer
(is_fallback). Before: UNIMPLEMENTED."""

from __future__ import annotations

import json
import pathlib

import grpc
import pytest

from stigg_devkit import waiting
from stigg_emulator import catalog, launcher
from stigg_sidecar import client
from stigg_sidecar.v1 import sidecar_pb2 as pb
from tests.integration.sidecar import conftest

CREDITS = "credits-ai"


def _credit_check(
    customer_id: str, currency_id: str = CREDITS, requested: float | None = None
) -> pb.GetEntitlementV2Request:
    options = pb.GetEntitlementOptions(requested_usage=requested) if requested is not None else None
    return pb.GetEntitlementV2Request(customer_id=customer_id, currency_id=currency_id, options=options)


async def test_a_balance_is_answered_and_decides_a_requested_amount(stub: client.AsyncSidecarClient) -> None:
    answer = (await stub.get_entitlement_v2(_credit_check("customer-pro"))).entitlement
    assert (answer.has_access, answer.is_fallback, answer.WhichOneof("entitlement")) == (
        True,
        False,
        "credit",
    )
    credit = answer.credit
    assert (credit.usage_limit, credit.current_usage, credit.remaining, credit.has_soft_limit) == (
        5000,
        1250,
        3750,
        False,
    )
    currency = credit.currency
    assert (currency.currency_id, currency.display_name, currency.unit_plural) == (
        CREDITS,
        "AI credits",
        "credits",
    )
    assert dict(currency.additional_meta_data) == {"category": "ai", "billing": "prepaid"}
    assert credit.HasField("usage_period_end")

    fits = (await stub.get_entitlement_v2(_credit_check("customer-pro", requested=3750))).entitlement
    assert fits.has_access
    short = (await stub.get_entitlement_v2(_credit_check("customer-pro", requested=3751))).entitlement
    assert (short.has_access, short.access_denied_reason) == (
        False,
        pb.ACCESS_DENIED_REASON_INSUFFICIENT_CREDITS,
    )
    soft = (await stub.get_entitlement_v2(_credit_check("customer-enterprise", requested=10**6))).entitlement
    assert (soft.has_access, soft.credit.has_soft_limit) == (True, True)


async def test_a_currency_without_a_balance_is_not_found(stub: client.AsyncSidecarClient) -> None:
    free = (await stub.get_entitlement_v2(_credit_check("customer-free"))).entitlement
    assert (free.has_access, free.access_denied_reason) == (
        False,
        pb.ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND,
    )
    unknown = (await stub.get_entitlement_v2(_credit_check("customer-pro", "credits-unknown"))).entitlement
    assert unknown.access_denied_reason == pb.ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND


async def test_the_state_lists_balances_beside_features(stub: client.AsyncSidecarClient) -> None:
    state = await stub.get_entitlements_state_v2("customer-pro")
    credits = [e.credit for e in state.entitlements if e.WhichOneof("entitlement") == "credit"]
    assert [(c.currency.currency_id, c.current_usage) for c in credits] == [(CREDITS, 1250)]
    assert any(e.WhichOneof("entitlement") == "metered" for e in state.entitlements)


@pytest.mark.parametrize("currency_id", ["  ", "c" * 257])
async def test_an_invalid_currency_id_is_refused(stub: client.AsyncSidecarClient, currency_id: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.get_entitlement_v2(_credit_check("customer-pro", currency_id))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "currency_id" in (refused.value.details() or "")


async def test_credits_consumed_elsewhere_reach_the_answers(
    start_sidecar: conftest.SidecarFactory, tmp_path: pathlib.Path
) -> None:
    rated = tmp_path / "catalog.yaml"  # Pro's API calls cost 2 credits each
    rated.write_text(
        catalog.SAMPLE_PATH.read_text().replace(
            "feature-api-calls: {usageLimit: 100000, hasSoftLimit: true, resetPeriod: MONTH}",
            "feature-api-calls: {usageLimit: 100000, hasSoftLimit: true, resetPeriod: MONTH,"
            " creditRate: {amount: 2, currencyId: credits-ai}}",
        )
    )
    emulator = launcher.start(catalog_path=rated, latency_ms=0, api_key=conftest.API_KEY)
    try:
        sidecar = conftest.start_live_sidecar(start_sidecar, emulator)
        async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=5) as stub:
            assert (
                await stub.get_entitlement_v2(_credit_check("customer-pro"))
            ).entitlement.credit.current_usage == 1250
            report = {"customerId": "customer-pro", "featureId": "feature-api-calls", "value": 10}
            status, answer = await conftest.report_upstream(emulator, report)
            assert status == 200, answer

            async def consumed() -> bool:
                answer = await stub.get_entitlement_v2(_credit_check("customer-pro"))
                return answer.entitlement.credit.current_usage == 1270

            await waiting.eventually(consumed, within=5, what="the credit event to reach the sidecar")
            assert sidecar.metric("sidecar_stream_events_total", 'kind="credit_usage"') >= 1
    finally:
        emulator.stop()


async def test_with_nothing_known_the_defaults_named_by_the_currency_answer(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    defaults = {CREDITS: {"hasAccess": True, "usageLimit": 100}}
    sidecar = start_sidecar(
        {**conftest.upstream_env(emulator), "ENTITLEMENTS_FALLBACK": json.dumps(defaults)}
    )
    await conftest.set_faults(emulator, outage=True)
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=5) as stub:
        within = (await stub.get_entitlement_v2(_credit_check("customer-pro", requested=100))).entitlement
        assert (within.has_access, within.is_fallback, within.credit.usage_limit) == (True, True, 100)
        beyond = (await stub.get_entitlement_v2(_credit_check("customer-pro", requested=101))).entitlement
        assert (beyond.has_access, beyond.access_denied_reason) == (
            False,
            pb.ACCESS_DENIED_REASON_INSUFFICIENT_CREDITS,
        )
        nothing = (await stub.get_entitlement_v2(_credit_check("customer-pro", "credits-other"))).entitlement
        assert (nothing.has_access, nothing.is_fallback, nothing.access_denied_reason) == (
            False,
            True,
            pb.ACCESS_DENIED_REASON_UNKNOWN,
        )
