"""Usage reported through a mirrored client shows in its next in-process answer, and is never
counted twice, while another client reports for the same customer at the same time; in the end
the mirror, the sidecar and the upstream agree on the total."""

from __future__ import annotations

import asyncio

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar import client
from stigg_sidecar.mirror import client as mirrored_client
from stigg_sidecar.v1 import sidecar_pb2 as pb
from tests.integration.sidecar import conftest as sidecar_conftest
from tests.integration.sidecar.mirror import conftest

CUSTOMER, FEATURE = "customer-pro", "feature-api-calls"  # 99,000 used, a soft limit of 100,000
REPORTS = 40


async def test_own_writes_show_at_once_and_nothing_counts_twice(
    mirror_sidecar: sidecar_launcher.RunningSidecar, emulator: launcher.RunningEmulator
) -> None:
    async with (
        mirrored_client.AsyncMirroredSidecarClient(
            mirror_sidecar.grpc_target, timeout=5, staleness=2
        ) as mirror,
        client.AsyncSidecarClient(mirror_sidecar.grpc_target, timeout=5) as other,
    ):
        start = await conftest.amirrored(lambda: mirror.get_metered_entitlement(CUSTOMER, FEATURE))
        initial = start.response.entitlement.current_usage
        others = 0

        async def report_elsewhere() -> None:
            nonlocal others
            for _ in range(REPORTS):
                await other.report_usage(CUSTOMER, FEATURE, 3)
                others += 1
                await asyncio.sleep(0)

        elsewhere = asyncio.create_task(report_elsewhere())
        from_mirror = 0
        for mine in range(1, REPORTS + 1):
            written = await mirror.report_usage(CUSTOMER, FEATURE, 1)
            answer = await mirror.get_metered_entitlement(CUSTOMER, FEATURE)
            usage = answer.response.entitlement.current_usage
            from_mirror += answer.from_mirror
            assert usage >= written.current_usage, "the answer shows the write (and maybe later ones)"
            assert usage <= initial + mine + 3 * (others + 1), "never more than was reported"
            assert (usage - initial - mine) % 3 == 0, "whole reports only: none counted twice"
        await elsewhere
        assert from_mirror >= REPORTS * 0.9, "the answers came from the mirror"

        total = initial + REPORTS + 3 * REPORTS

        async def agreed() -> bool:
            answer = await mirror.get_metered_entitlement(CUSTOMER, FEATURE)
            return answer.from_mirror and answer.response.entitlement.current_usage == total

        await waiting.eventually(agreed, within=5, what="the mirror to show every report once")
        sidecar_answer = await other.get_metered_entitlement(CUSTOMER, FEATURE)
        assert sidecar_answer.entitlement.current_usage == total

        async def upstream_total() -> bool:
            return (await sidecar_conftest.upstream_usage(emulator, CUSTOMER)).get(FEATURE) == total

        await waiting.eventually(upstream_total, within=10, what="the upstream to count every report once")


async def test_a_bulk_report_shows_each_usage(mirror_sidecar: sidecar_launcher.RunningSidecar) -> None:
    async with mirrored_client.AsyncMirroredSidecarClient(
        mirror_sidecar.grpc_target, timeout=5, staleness=2
    ) as mirror:
        seats = await conftest.amirrored(lambda: mirror.get_metered_entitlement(CUSTOMER, "feature-seats"))
        calls = await mirror.get_metered_entitlement(CUSTOMER, FEATURE)
        await mirror.report_usage_bulk(
            [
                client.usage_request(CUSTOMER, "feature-seats", 9, None, True),
                client.usage_request(CUSTOMER, FEATURE, 5, None, False),
            ]
        )
        seats_after = await mirror.get_metered_entitlement(CUSTOMER, "feature-seats")
        calls_after = await mirror.get_metered_entitlement(CUSTOMER, FEATURE)
        assert seats_after.from_mirror
        assert calls_after.from_mirror
        assert seats.response.entitlement.current_usage == 7
        assert seats_after.response.entitlement.current_usage == 9
        assert calls_after.response.entitlement.current_usage == calls.response.entitlement.current_usage + 5
        assert isinstance(calls_after.response, pb.GetMeteredEntitlementResponse)
